// The audit log (SPEC C3): every change — who, when, what, before and after — newest first (GET /v1/audit).
// Owns: this page.
import { api, listOf } from '../api.js';
import type { ViewFactory } from '../app.js';
import { h, patch } from '../dom.js';
import { ago, clock, compact } from '../format.js';
import type { AuditEntry } from '../model.js';

export const auditView: ViewFactory = (root) => {
  const filter = h('input', { id: 'audit-filter', type: 'search', placeholder: 'actor, action or target', spellcheck: 'false' });
  const live = h('div', null, h('p', { class: 'muted' }, 'Loading…'));
  let entries: AuditEntry[] = [];

  const draw = (): void => {
    const q = filter.value.trim().toLowerCase();
    const shown = q ? entries.filter((e) => `${e.actor} ${e.action} ${e.target}`.toLowerCase().includes(q)) : entries;
    patch(live, h('div', null, shown.length === 0
      ? h('p', { class: 'muted' }, entries.length ? 'Nothing matches.' : 'No changes recorded yet.')
      : h('div', { class: 'table-scroll' }, h('table', { class: 'grid-table audit', id: 'audit-table' },
        h('thead', null, h('tr', null, ['When', 'Who', 'What', 'Target', 'Before', 'After'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', null, shown.map((e) => h('tr', { 'data-id': e.id },
          h('td', { class: 'muted nowrap', title: clock(e.at) }, ago(e.at)),
          h('td', null, e.actor),
          h('td', null, h('span', { class: 'badge' }, e.action)),
          h('td', null, h('code', null, e.target)),
          h('td', { class: 'json' }, h('code', { title: compact(e.before, 4000) }, compact(e.before))),
          h('td', { class: 'json' }, h('code', { title: compact(e.after, 4000) }, compact(e.after))))))))));
  };
  filter.addEventListener('input', draw);

  root.append(
    h('div', { class: 'card' },
      h('div', { class: 'card-head' }, h('h2', null, 'Audit log'),
        h('div', { class: 'field inline' }, h('label', { for: 'audit-filter' }, 'Filter'), filter)),
      live));
  return {
    every: 5000,
    async refresh() {
      entries = listOf<AuditEntry>(await api('/v1/audit'), 'entries').slice().sort((a, b) => b.id - a.id);
      draw();
    },
  };
};
