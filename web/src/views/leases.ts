// Leases: each address pool's free, leased and cooling counts over the last hour (GET /v1/leases `history`) and the
// lease table (address, name, server, private address, TTL left, requests, bytes, open connections). Refreshed every
// 2 s. Owns: this page.
import { api } from '../api.js';
import type { ViewFactory } from '../app.js';
import { lineChart } from '../chart.js';
import { h, patch } from '../dom.js';
import { num } from '../format.js';

interface LeaseRow { address: string; pool: string; name: string; server: string; private: string; ttl: number; requests: number; bytes: number; open: number }
interface PoolCount { pool: string; free: number; leased: number; cooling: number }
interface History { step: number; pools: Record<string, Array<{ at: number; free: number; leased: number; cooling: number }>> }

export const leasesView: ViewFactory = (root) => {
  const live = h('div', null, h('p', { class: 'muted' }, 'Loading…'));
  root.appendChild(live);
  return {
    every: 2000,
    async refresh() {
      const r = await api<{ leases: LeaseRow[]; pools: PoolCount[]; history: History }>('/v1/leases');
      patch(live, h('div', null,
        r.pools.length === 0 ? h('section', { class: 'card' }, h('p', { class: 'muted' }, 'No address pools: add addressPools:, leasedServers: and leasedNames: to the configuration.')) : null,
        r.pools.map((p) => {
          const ring = r.history.pools[p.pool] ?? [];
          return h('section', { class: 'card', 'aria-label': `pool ${p.pool}`, 'data-pool': p.pool },
            h('h2', null, `Pool ${p.pool}`),
            h('p', { id: `pool-${p.pool}-counts` }, `${num(p.free)} free, ${num(p.leased)} leased, ${num(p.cooling)} cooling`),
            lineChart({
              id: `pool-${p.pool}-chart`, title: `Pool ${p.pool} over the last hour`, unit: 'addresses', step: r.history.step,
              lines: [
                { key: 'free', label: 'free', values: ring.map((x) => x.free) },
                { key: 'leased', label: 'leased', values: ring.map((x) => x.leased) },
                { key: 'cooling', label: 'cooling', values: ring.map((x) => x.cooling) },
              ],
              empty: 'Counts appear here every 10 s.',
            }));
        }),
        h('section', { class: 'card', 'aria-label': 'leases' },
          h('h2', null, 'Leases'),
          r.leases.length === 0 ? h('p', { class: 'muted' }, 'No address is leased now.') :
            h('table', { class: 'grid-table', id: 'leases-table' },
              h('thead', null, h('tr', null, ['Address', 'Pool', 'Name', 'Server', 'Private', '#TTL left', '#Requests', '#Bytes', '#Open'].map((c) => h('th', { scope: 'col', class: c.startsWith('#') ? 'num' : null }, c.replace('#', ''))))),
              h('tbody', null, r.leases.map((l) => h('tr', { 'data-address': l.address },
                h('td', null, h('strong', null, l.address)), h('td', null, l.pool), h('td', null, l.name), h('td', null, l.server), h('td', null, l.private),
                h('td', { class: 'num' }, `${num(l.ttl)} s`), h('td', { class: 'num' }, num(l.requests)), h('td', { class: 'num' }, num(l.bytes)), h('td', { class: 'num' }, num(l.open)))))))));
    },
  };
};
