// Nodes: every node sharing the store (GET /v1/nodes) with its revision in force, feed lag, health role and last
// heartbeat, and this node's view of the store (GET /v1/status): ok, or degraded since when, and records queued.
// Refreshed every 2 s. Owns: this page.
import { api, listOf } from '../api.js';
import type { ViewFactory } from '../app.js';
import { h, patch } from '../dom.js';
import { ago, clock, num } from '../format.js';
import type { NodeView, StoreStatusView } from '../model.js';

const ROLE_TEXT: Record<string, string> = { leader: 'leader (runs the prober distributor)', follower: 'follower', single: 'single node' };

export const nodesView: ViewFactory = (root) => {
  const live = h('div', null, h('p', { class: 'muted' }, 'Loading…'));
  root.appendChild(live);
  return {
    every: 2000,
    async refresh() {
      const [nodesBody, status] = await Promise.all([api('/v1/nodes'), api<{ store?: StoreStatusView }>('/v1/status')]);
      const nodes = listOf<NodeView>(nodesBody, 'nodes');
      const st = status.store;
      const fresh = h('div', null,
        h('section', { class: 'card', 'aria-label': 'store' },
          h('h2', null, 'Store'),
          !st ? h('p', { class: 'muted' }, 'No store: state lives in memory only.') :
            h('p', { id: 'store-state', 'data-state': st.state },
              h('span', { class: `badge ${st.state === 'ok' ? 'tone-up' : 'tone-down'}` }, st.state), ' ',
              st.backend === 'postgres' ? 'PostgreSQL, shared by the nodes below' : st.backend === 'sqlite' ? 'SQLite file (one node)' : st.backend,
              st.state === 'degraded' ? h('span', { class: 'muted' }, ` — unreachable since ${clock(st.since)} (${st.error ?? ''}); DNS answers from memory, API writes are refused, ${num(st.queued)} persistence records queued`) : null)),
        h('section', { class: 'card', 'aria-label': 'nodes' },
          h('h2', null, 'Nodes'),
          h('p', { class: 'muted' }, 'Every node that heartbeats into the store. A node silent for 5 s is gone; nothing waits on it.'),
          nodes.length === 0 ? h('p', { class: 'muted' }, 'No node has reported yet.') :
            h('table', { class: 'grid-table', id: 'nodes-table' },
              h('thead', null, h('tr', null, ['Node', 'State', 'Role', '#Revision', '#Feed position', '#Lag', 'Last seen', 'Host', 'API'].map((c) => h('th', { scope: 'col', class: c.startsWith('#') ? 'num' : null }, c.replace('#', ''))))),
              h('tbody', null, nodes.map((n) => h('tr', { 'data-node': n.name, 'data-state': n.state, 'data-role': n.role },
                h('td', null, h('strong', null, n.name), n.self ? h('span', { class: 'muted' }, ' (this one)') : null),
                h('td', null, h('span', { class: `badge ${n.state === 'up' ? 'tone-up' : 'tone-down'}` }, n.state)),
                h('td', null, ROLE_TEXT[n.role] ?? n.role),
                h('td', { class: 'num' }, num(n.revision)),
                h('td', { class: 'num' }, num(n.position)),
                h('td', { class: 'num' }, num(n.lag)),
                h('td', { class: 'muted', title: clock(n.seenAt) }, ago(n.seenAt)),
                h('td', null, n.host),
                h('td', null, n.api ?? '—')))))));
      patch(live, fresh);
    },
  };
};
