// Explain (SPEC G7): "what does resolver X get for name Y, and why" — GET /v1/explain runs the same code path as
// `waymark explain` (a real query through the parser, engine and encoder with a trace attached).
// Owns: the form and the drawing of the answer and its steps.
import { api, listOf, qs } from '../api.js';
import type { ViewFactory } from '../app.js';
import { h, replace } from '../dom.js';
import { normaliseName, type Explanation } from '../model.js';

/** Names offered as the name is typed. */
const SUGGESTIONS = 20;

function field(id: string, label: string, input: HTMLElement, hint?: string): HTMLElement {
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, hint ? h('small', { class: 'muted', id: `${id}-hint` }, hint) : null);
}

export const explainView: ViewFactory = (root, _app, params) => {
  const name = h('input', { id: 'explain-name', name: 'name', required: true, list: 'explain-names', placeholder: 'www.example.test', value: params.get('name') ?? '', spellcheck: 'false' });
  const resolver = h('input', { id: 'explain-resolver', name: 'resolver', required: true, placeholder: '192.0.2.53', value: params.get('resolver') ?? '127.0.0.1', spellcheck: 'false' });
  const subnet = h('input', { id: 'explain-subnet', name: 'subnet', placeholder: '10.1.7.0/24 (optional)', value: params.get('subnet') ?? '', spellcheck: 'false', 'aria-describedby': 'explain-subnet-hint' });
  const type = h('select', { id: 'explain-type', name: 'type' }, h('option', { value: 'A' }, 'A (IPv4)'), h('option', { value: 'AAAA' }, 'AAAA (IPv6)'));
  type.value = params.get('type') === 'AAAA' ? 'AAAA' : 'A';
  const datalist = h('datalist', { id: 'explain-names' });
  const submit = h('button', { type: 'submit', class: 'primary', id: 'explain-submit' }, 'Explain');
  const result = h('div', { id: 'explain-result', 'aria-live': 'polite' });

  const run = async (): Promise<void> => {
    submit.disabled = true;
    replace(result, h('p', { class: 'muted' }, 'Asking…'));
    try {
      const e = await api<Explanation>(`/v1/explain${qs({ name: name.value.trim(), resolver: resolver.value.trim(), subnet: subnet.value.trim(), type: type.value })}`);
      const answers = e.answers ?? [];
      replace(result,
        h('section', { class: 'card answer-card', 'aria-label': 'answer' },
          h('div', { class: 'answer-head' },
            h('span', { class: `rcode ${e.rcode === 'NOERROR' ? 'tone-up' : 'tone-down'}` }, e.rcode),
            h('span', { class: 'muted' }, `${name.value.trim()} ${type.value} asked by ${resolver.value.trim()}${subnet.value.trim() ? ` for ${subnet.value.trim()}` : ''}`)),
          answers.length
            ? h('ul', { class: 'answers' }, answers.map((a) => h('li', null, h('code', { class: 'big' }, a.data), h('span', { class: 'muted' }, ` ${a.type}, TTL ${a.ttl} s`))))
            : h('p', { class: 'muted' }, 'no records in the answer'),
          e.scope !== null && e.scope !== undefined ? h('p', { class: 'muted' }, `ECS scope /${e.scope}`) : null,
          e.policy === false ? h('p', { class: 'muted' }, 'Static records: this is not a policy name.') : null),
        (e.steps ?? []).length
          ? h('section', { class: 'card', 'aria-label': 'why' },
            h('h3', null, 'Why'),
            h('ol', { class: 'steps' }, e.steps.map((s) => h('li', null, h('span', { class: 'step-name' }, s.step), h('span', { class: 'step-detail' }, s.detail)))))
          : null);
    } catch (err) {
      replace(result, h('div', { class: 'card form-error', role: 'alert' }, (err as Error).message));
    } finally {
      submit.disabled = false;
    }
  };

  const form = h('form', { class: 'card form-row', id: 'explain-form', 'aria-label': 'explain a decision', onsubmit: (ev: Event) => { ev.preventDefault(); void run(); } },
    field('explain-name', 'Name', name),
    field('explain-resolver', 'Resolver', resolver),
    field('explain-subnet', 'Client subnet', subnet, 'sent as EDNS Client Subnet'),
    field('explain-type', 'Type', type),
    h('div', { class: 'field field-button' }, submit));
  root.append(h('p', { class: 'lead muted' }, 'What would a resolver get for a name, and why: the same path a real query takes.'), form, datalist, result);

  // Suggest policy names matching what is typed (a page of them: there may be 100,000); run at once when opened
  // from the overview.
  let asked = '';
  const suggest = (): void => {
    const q = name.value.trim();
    if (q === asked && datalist.childElementCount > 0) return;
    asked = q;
    void api(`/v1/names${qs({ q, limit: SUGGESTIONS })}`).then((body) => {
      if (asked !== q) return;
      replace(datalist, listOf<Record<string, unknown>>(body, 'names').map(normaliseName).map((n) => h('option', { value: n.name })));
    }).catch(() => {});
  };
  name.addEventListener('input', suggest);
  suggest();
  if (params.get('name')) void run();
  return {};
};
