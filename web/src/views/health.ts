// Health & probers: the probers sharing the monitoring work (state, capacity, targets) and the recent health verdict
// changes (GET /v1/probers, GET /v1/health/history). Refreshed every 2 s.
// Owns: this page.
import { api, ApiError, listOf } from '../api.js';
import type { ViewFactory } from '../app.js';
import { h, patch } from '../dom.js';
import { ago, clock, compact, num } from '../format.js';
import type { ProberView } from '../model.js';

const PROBER_TONE: Record<string, string> = { active: 'tone-up', draining: 'tone-warn', full: 'tone-warn', dead: 'tone-down' };

interface HistoryEntry { at?: number; since?: number; pool?: string; member?: string; up?: boolean; drain?: boolean; detail?: string; from?: unknown; to?: unknown; [k: string]: unknown }

function targetText(t: unknown): string {
  if (typeof t === 'string') return t;
  if (t && typeof t === 'object') {
    const o = t as { id?: unknown; role?: unknown; pool?: unknown; member?: unknown };
    const id = typeof o.id === 'string' ? o.id : `${String(o.pool ?? '?')}/${String(o.member ?? '?')}`;
    return typeof o.role === 'string' ? `${id} (${o.role})` : id;
  }
  return String(t);
}

export const healthView: ViewFactory = (root) => {
  const live = h('div', null, h('p', { class: 'muted' }, 'Loading…'));
  root.appendChild(live);
  return {
    every: 2000,
    async refresh() {
      const [probersBody, historyBody] = await Promise.all([
        api('/v1/probers'),
        api('/v1/health/history').catch((e: unknown) => { if (e instanceof ApiError && e.status === 404) return []; throw e; }),
      ]);
      const probers = listOf<ProberView>(probersBody, 'probers');
      // The checks column only when the server lists each prober's targets.
      const withTargets = probers.some((p) => Array.isArray(p.targets));
      const history = listOf<HistoryEntry>(historyBody, 'events').slice().sort((a, b) => (b.at ?? b.since ?? 0) - (a.at ?? a.since ?? 0)).slice(0, 100);
      const fresh = h('div', null,
        h('section', { class: 'card', 'aria-label': 'probers' },
          h('h2', null, 'Probers'),
          h('p', { class: 'muted' }, 'Processes that run the monitors. Each check goes to a primary and backups; a prober that stops reporting drops out of the quorum.'),
          probers.length === 0 ? h('p', { class: 'muted' }, 'No probers: no pool has a monitor, or none has joined.') :
            h('table', { class: 'grid-table', id: 'probers-table' },
              h('thead', null, h('tr', null, ['Prober', 'State', '#Targets', '#Primary for', '#Capacity', 'Last report', ...(withTargets ? ['Checks'] : [])].map((c) => h('th', { scope: 'col', class: c.startsWith('#') ? 'num' : null }, c.replace('#', ''))))),
              h('tbody', null, probers.map((p) => h('tr', { 'data-prober': p.name },
                h('td', null, h('strong', null, p.name)),
                h('td', null, h('span', { class: `badge ${PROBER_TONE[p.state] ?? ''}` }, p.state)),
                h('td', { class: 'num' }, num(p.assigned)),
                h('td', { class: 'num' }, num(p.primaryFor)),
                h('td', { class: 'num' }, p.capacity === null || p.capacity === undefined || !Number.isFinite(p.capacity) ? 'no limit' : num(p.capacity)),
                h('td', { class: 'muted' }, ago(p.lastSeen)),
                !withTargets ? null : h('td', { class: 'targets' }, Array.isArray(p.targets) && p.targets.length
                  ? h('details', null, h('summary', null, `${p.targets.length} checks`), h('ul', { class: 'plain' }, p.targets.slice(0, 200).map((t) => h('li', null, h('code', null, targetText(t))))))
                  : h('span', { class: 'muted' }, '—'))))))),
        h('section', { class: 'card', 'aria-label': 'health history' },
          h('h2', null, 'Recent health changes'),
          history.length === 0 ? h('p', { class: 'muted' }, 'No verdict changes recorded.') :
            h('ol', { class: 'timeline' }, history.map((e) => {
              const tone = e.up === false ? 'tone-down' : e.drain ? 'tone-warn' : e.up === true ? 'tone-up' : '';
              const what = e.up === undefined ? compact(e.to ?? e) : e.up ? (e.drain ? 'draining' : 'up') : 'down';
              return h('li', { class: tone },
                h('span', { class: `dot ${tone}`, 'aria-hidden': 'true' }),
                h('time', { class: 'muted', title: clock(e.at ?? e.since) }, ago(e.at ?? e.since)),
                h('code', null, `${e.pool ?? ''}/${e.member ?? ''}`),
                h('strong', null, what),
                e.detail ? h('span', { class: 'muted' }, e.detail) : null);
            }))));
      patch(live, fresh);
    },
  };
};
