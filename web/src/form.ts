// Forms that change the configuration: labelled fields with a slot for their error, and the API's validation errors
// (400 `errors: [{ path, field, message }]`) shown next to the field each one names — every one of them; errors that
// name no field of the form are listed above its button.
// Owns: field building and error placement. Knows no routes.
import { fieldProblems } from './api.js';
import { h, replace } from './dom.js';

export type Control = HTMLInputElement | HTMLSelectElement;

export interface FormField {
  /** The key in the object sent (the API's `field`, e.g. "address", "port"). */
  key: string;
  control: Control;
  box: HTMLElement;
  error: HTMLElement;
}

/** A labelled control with an error line under it; the control's id must be set. */
export function formField(key: string, label: string, control: Control, hint?: string): FormField {
  const id = control.id;
  const error = h('p', { class: 'field-error', id: `${id}-error`, role: 'alert', hidden: true });
  control.setAttribute('aria-describedby', hint ? `${id}-hint ${id}-error` : `${id}-error`);
  const box = h('div', { class: 'field', 'data-field': key },
    h('label', { for: id }, label), control, hint ? h('small', { class: 'muted', id: `${id}-hint` }, hint) : null, error);
  return { key, control, box, error };
}

/** The top-level key an error field names: "values[0]" → "values", "probe.port" → "probe". */
function topKey(field: string): string {
  return field.split(/[.[ ]/, 1)[0] ?? '';
}

export class FormErrors {
  constructor(private readonly fields: FormField[], readonly general: HTMLElement) {
    general.classList.add('form-errors');
    general.setAttribute('role', 'alert');
    general.hidden = true;
  }

  clear(): void {
    for (const f of this.fields) {
      f.error.hidden = true;
      f.error.textContent = '';
      f.control.removeAttribute('aria-invalid');
    }
    this.general.hidden = true;
    replace(this.general);
  }

  /** Show what went wrong: each bad field under its control, the rest (or the plain message) in the general box. */
  show(e: unknown): void {
    this.clear();
    const problems = fieldProblems(e);
    const rest: string[] = [];
    const byField = new Map<FormField, string[]>();
    for (const p of problems) {
      const f = p.field ? this.fields.find((x) => x.key === topKey(p.field!)) : undefined;
      if (f) byField.set(f, [...(byField.get(f) ?? []), p.field === f.key ? p.message : `${p.field}: ${p.message}`]);
      else rest.push(p.field ? `${p.field}: ${p.message}` : p.path ? `${p.path}: ${p.message}` : p.message);
    }
    for (const [f, messages] of byField) {
      f.error.textContent = messages.join('; ');
      f.error.hidden = false;
      f.control.setAttribute('aria-invalid', 'true');
    }
    if (problems.length === 0) rest.push((e as Error).message);
    if (rest.length) {
      const head = problems.length ? h('p', null, (e as Error).message) : null;
      replace(this.general, head, h('ul', null, rest.map((m) => h('li', null, m))));
      this.general.hidden = false;
    }
    (byField.keys().next().value?.control ?? null)?.focus();
  }
}

/** The trimmed text of a control; undefined when empty (so optional keys are left out of the body). */
export function textOf(c: Control): string | undefined {
  const v = c.value.trim();
  return v === '' ? undefined : v;
}

/** A number when the text is one, else the text itself, so the API's validator names the bad field. */
export function numberOf(c: Control): number | string | undefined {
  const v = textOf(c);
  if (v === undefined) return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : v;
}
