// Pools and their members as configured (SPEC C1): list them (GET /v1/pools), add a member to a pool
// (POST /v1/pools/:pool/members) and remove one (DELETE …/members/:member). Live health and admin states are on
// the Overview; this page edits the configuration, so every change is a new revision.
// Owns: this page. Writes send If-Match with the revision the pools were read from; a 412 reloads them. Pools are
// shown a page at a time (GET /v1/pools?limit=…&cursor=…&q=…), with a filter on their names.
import { api, apiWithEtag, ApiError, listOf, qs } from '../api.js';
import { canAdmin, type App, type ViewFactory } from '../app.js';
import { h, replace } from '../dom.js';
import { FormErrors, formField, numberOf, textOf, type FormField } from '../form.js';
import { num } from '../format.js';
import { normalisePool, type MemberConfig, type PoolConfig } from '../model.js';
import { pager, type PageInfo } from '../pager.js';

/** Pool cards per page (each holds its members and an add-member form). */
const POOLS_PER_PAGE = 25;

/** Ids usable in element ids: "[2001:db8::1]:53" → "2001-db8--1--53". */
function slug(s: string): string {
  return s.replace(/[^A-Za-z0-9_-]+/g, '-');
}

interface MemberForm { form: HTMLFormElement; fields: FormField[]; errors: FormErrors; submit: HTMLButtonElement }

/** The add-member form of one pool; kept across redraws so typed text and shown errors survive a reload. */
function memberForm(pool: string, onSubmit: (f: MemberForm) => void): MemberForm {
  const id = `member-${slug(pool)}`;
  const fields = [
    formField('address', 'Address', h('input', { id: `${id}-address`, name: 'address', placeholder: '192.0.2.10 or 2001:db8::10', spellcheck: 'false', autocomplete: 'off' })),
    formField('port', 'Port', h('input', { id: `${id}-port`, name: 'port', placeholder: 'none', inputmode: 'numeric', autocomplete: 'off' }), 'optional'),
    formField('weight', 'Weight', h('input', { id: `${id}-weight`, name: 'weight', placeholder: '1', inputmode: 'decimal', autocomplete: 'off' })),
  ];
  fields[1]!.box.classList.add('field-narrow');
  fields[2]!.box.classList.add('field-narrow');
  const submit = h('button', { type: 'submit', class: 'primary', 'aria-label': `add member to pool ${pool}` }, 'Add member');
  const errors = new FormErrors(fields, h('div', { id: `${id}-errors` }));
  const form = h('form', { class: 'member-form', id: `${id}-form`, 'aria-label': `add a member to pool ${pool}`, novalidate: true },
    h('div', { class: 'form-row edit-form' }, fields.map((f) => f.box), h('div', { class: 'field field-button' }, submit)),
    errors.general);
  const mf: MemberForm = { form, fields, errors, submit };
  form.addEventListener('submit', (ev) => { ev.preventDefault(); onSubmit(mf); });
  return mf;
}

function bodyOf(fields: FormField[]): Record<string, unknown> {
  const body: Record<string, unknown> = { address: textOf(fields[0]!.control) ?? '' };
  const port = numberOf(fields[1]!.control);
  const weight = numberOf(fields[2]!.control);
  if (port !== undefined) body.port = port;
  if (weight !== undefined) body.weight = weight;
  return body;
}

export const poolsView: ViewFactory = (root, app: App) => {
  let pools: PoolConfig[] = [];
  let etag: string | null = null;
  let confirming: string | null = null;
  const forms = new Map<string, MemberForm>();
  const box = h('div', { class: 'pools-config' });
  const pages = pager({ id: 'pools', size: POOLS_PER_PAGE, noun: 'pools', filterHint: 'pool name contains', changed: () => { void reload().catch((e: Error) => app.notify(e.message, 'error')); } });
  root.append(h('p', { class: 'lead muted' }, 'The members of each pool as configured. Health and the admin buttons are on the Overview.'), pages.box, box);
  const admin = (): boolean => canAdmin(app);

  const write = async (what: string, path: string, init: { method: string; body?: unknown }, errors?: FormErrors): Promise<boolean> => {
    try {
      await api(path, { ...init, ifMatch: etag });
      app.notify(what, 'ok');
      app.changed();
      return true;
    } catch (e) {
      const stale = e instanceof ApiError && e.status === 412;
      const shown = stale ? new Error('The configuration changed meanwhile: the pools were reloaded. Check them and try again.') : e;
      if (errors) errors.show(shown);
      else app.notify(`${(shown as Error).message}`, 'error');
      return false;
    }
  };

  const addMember = async (pool: string, f: MemberForm): Promise<void> => {
    f.errors.clear();
    const body = bodyOf(f.fields);
    f.submit.disabled = true;
    const ok = await write(`Added ${String(body.address)} to pool ${pool}`, `/v1/pools/${encodeURIComponent(pool)}/members`, { method: 'POST', body }, f.errors);
    if (ok) for (const x of f.fields) x.control.value = '';
    f.submit.disabled = !admin();
    await reload();
  };

  const removeMember = async (pool: string, m: MemberConfig): Promise<void> => {
    confirming = null;
    await write(`Removed ${m.id} from pool ${pool}`, `/v1/pools/${encodeURIComponent(pool)}/members/${encodeURIComponent(m.id)}`, { method: 'DELETE' });
    await reload();
  };

  const actionCell = (pool: string, m: MemberConfig): HTMLElement => {
    const key = `${pool}/${m.id}`;
    if (confirming === key) {
      return h('td', { class: 'row-actions' },
        h('button', { type: 'button', class: 'danger small', 'aria-label': `confirm remove ${m.id} from pool ${pool}`, onclick: () => void removeMember(pool, m) }, 'Remove'),
        h('button', { type: 'button', class: 'small', onclick: () => { confirming = null; draw(); } }, 'Keep'));
    }
    return h('td', { class: 'row-actions' }, h('button', {
      type: 'button', class: 'danger small', disabled: !admin(), 'aria-label': `remove ${m.id} from pool ${pool}`,
      title: admin() ? 'remove this member from the configuration (asks first)' : 'needs an admin token',
      onclick: () => { confirming = key; draw(); },
    }, 'Remove…'));
  };

  const poolCard = (p: PoolConfig): HTMLElement => {
    let f = forms.get(p.name);
    if (!f) { f = memberForm(p.name, (mf) => void addMember(p.name, mf)); forms.set(p.name, f); }
    for (const x of f.fields) x.control.disabled = !admin();
    f.submit.disabled = !admin();
    return h('section', { class: 'card pool-config', 'data-pool': p.name, 'aria-label': `pool ${p.name}` },
      h('div', { class: 'card-head' }, h('h2', null, h('span', { class: 'muted' }, 'pool '), p.name), h('span', { class: 'muted small' }, `${p.members.length} member${p.members.length === 1 ? '' : 's'}`)),
      h('div', { class: 'table-scroll' }, h('table', { class: 'grid-table config-members' },
        h('thead', null, h('tr', null, ['Member', 'Address', 'Port', 'Weight', 'Enabled', ''].map((c) => h('th', { scope: 'col', class: c === 'Weight' || c === 'Port' ? 'num' : null }, c)))),
        h('tbody', null, p.members.map((m) => h('tr', { 'data-member': m.id },
          h('td', null, h('code', null, m.id)),
          h('td', null, m.address),
          h('td', { class: 'num' }, m.port === undefined ? '—' : String(m.port)),
          h('td', { class: 'num' }, num(m.weight ?? 1)),
          h('td', null, m.enabled === false ? 'no' : 'yes'),
          actionCell(p.name, m)))))),
      admin() ? null : h('p', { class: 'muted small read-only-note' }, 'Changing members needs an admin token; this one can only read.'),
      h('h3', { class: 'form-title' }, `Add a member to ${p.name}`),
      f.form);
  };

  const draw = (): void => {
    replace(box, pools.length === 0 ? h('div', { class: 'card empty-state' }, h('p', { class: 'muted' }, pages.params().q ? 'No pool matches the filter.' : 'No pools in the configuration.')) : pools.map(poolCard));
  };

  /** Reloads started (a write's and a page change's may overlap): only the latest one draws. */
  let started = 0;
  async function reload(): Promise<void> {
    const mine = ++started;
    const r = await apiWithEtag<PageInfo>(`/v1/pools${qs(pages.params())}`);
    if (mine !== started) return;
    pools = listOf<Record<string, unknown>>(r.body, 'pools').map(normalisePool);
    etag = r.etag;
    pages.shown(pools.length, r.body);
    draw();
  }

  return { refresh: reload };
};
