// Persistence records (SPEC G5): search by name and resolver, see which member each resolver sticks to, delete one
// (the next query from that resolver is balanced anew). GET / DELETE /v1/persistence.
// Owns: this page.
import { api, listOf, qs } from '../api.js';
import { canOperate, type ViewFactory } from '../app.js';
import { h, replace } from '../dom.js';
import { ago, clock, num, span } from '../format.js';
import type { PersistRecordView } from '../model.js';

function keyOf(r: PersistRecordView): string {
  return r.keyText ?? r.resolver ?? String(r.key ?? '');
}

export const persistenceView: ViewFactory = (root, app, params) => {
  const name = h('input', { id: 'persist-name', name: 'name', placeholder: 'any name', value: params.get('name') ?? '', spellcheck: 'false' });
  const resolver = h('input', { id: 'persist-resolver', name: 'resolver', placeholder: 'any resolver', value: params.get('resolver') ?? '', spellcheck: 'false' });
  const submit = h('button', { type: 'submit', class: 'primary', id: 'persist-search' }, 'Search');
  const result = h('div', { id: 'persist-result', 'aria-live': 'polite' });

  const search = async (): Promise<void> => {
    const body = await api<{ total?: number }>(`/v1/persistence${qs({ name: name.value.trim(), resolver: resolver.value.trim() })}`);
    const records = listOf<PersistRecordView>(body, 'records');
    // The API answers the most recently used first, a page at a time: say how many there are beyond it.
    const total = typeof body.total === 'number' ? body.total : records.length;
    const now = Date.now();
    const operate = canOperate(app);
    replace(result, records.length === 0
      ? h('div', { class: 'card empty-state' }, h('p', { class: 'muted' }, 'No persistence records match. Records appear when a name with persistence: answers a resolver.'))
      : h('div', { class: 'card' },
        h('p', { class: 'muted' }, total > records.length
          ? `the ${records.length} most recently used of ${total.toLocaleString('en-US')} records (search by name or resolver to find others)`
          : `${records.length} record${records.length === 1 ? '' : 's'}`),
        h('table', { class: 'grid-table', id: 'persist-table' },
          h('thead', null, h('tr', null, ['Name', 'Resolver (key)', 'Pool', 'Member', 'Hits', 'Last hit', 'Expires', ''].map((c) => h('th', { scope: 'col', class: c === 'Hits' ? 'num' : null }, c)))),
          h('tbody', null, records.map((r) => {
            const expires = r.expiresAt ?? (r.ts !== undefined && r.ttlMs !== undefined ? r.ts + r.ttlMs : undefined);
            return h('tr', null,
              h('td', null, r.name),
              h('td', null, h('code', null, keyOf(r))),
              h('td', null, r.pool),
              h('td', null, h('code', null, r.member)),
              h('td', { class: 'num' }, num(r.hits)),
              h('td', { class: 'muted', title: clock(r.ts) }, ago(r.ts, now)),
              h('td', { class: 'muted', title: clock(expires) }, expires === undefined ? '—' : expires <= now ? 'expired' : `in ${span((expires - now) / 1000)}`),
              h('td', null, h('button', {
                type: 'button', class: 'danger small', disabled: !operate, 'aria-label': `delete record ${r.name} ${keyOf(r)}`,
                onclick: async () => {
                  try {
                    await api(`/v1/persistence${qs({ name: r.name, key: keyOf(r) })}`, { method: 'DELETE' });
                    app.notify(`Deleted ${r.name} for ${keyOf(r)}: its next query is balanced anew`, 'ok');
                    await search();
                  } catch (e) {
                    app.notify(`Could not delete: ${(e as Error).message}`, 'error');
                  }
                },
              }, 'Delete')));
          })))));
  };

  const form = h('form', { class: 'card form-row', id: 'persist-form', 'aria-label': 'search persistence records', onsubmit: (ev: Event) => {
    ev.preventDefault();
    submit.disabled = true;
    search().catch((e: Error) => replace(result, h('div', { class: 'card form-error', role: 'alert' }, e.message))).finally(() => { submit.disabled = false; });
  } },
  h('div', { class: 'field' }, h('label', { for: 'persist-name' }, 'Name'), name),
  h('div', { class: 'field' }, h('label', { for: 'persist-resolver' }, 'Resolver'), resolver),
  h('div', { class: 'field field-button' }, submit));
  root.append(h('p', { class: 'lead muted' }, 'Which member each resolver sticks to, and for how long.'), form, result);
  return { refresh: search };
};
