// Dispatcher: each cluster address and port with its method and daemons (state, open connections, connect and
// monitor response times, selections, spawned copies), drain / undrain buttons, and the connection table (the
// oldest 100, filterable by daemon) with a kill button per row. Refreshed every 2 s. Owns: this page.
import { api, qs } from '../api.js';
import { canOperate, type ViewFactory } from '../app.js';
import { h, patch } from '../dom.js';
import { ago, num } from '../format.js';

interface DaemonRow { daemon: string; weight: number; state: string; detail: string; admin: string; connections: number; maxConnections: number | null; connectMs: number | null; checkMs: number | null; selections: number; connectFailures: number; spawn: { state: string; pid: number | null; restarts: number; lastExit: string | null } | null }
interface GroupRow { group: string; protocol: string; method: string; monitor: string | null; connections: number; daemons: DaemonRow[] }
interface ConnRow { id: number; protocol: string; client: string; clientPort: number; service: string; target: string; openedAt: number; lastAt: number; bytesIn: number; bytesOut: number }

const TONE: Record<string, string> = { up: 'tone-up', down: 'tone-down', stopped: 'tone-down', drain: 'tone-warn', quiesced: 'tone-warn', full: 'tone-warn' };
const ms = (v: number | null): string => (v === null ? '—' : v < 1 ? `${Math.round(v * 1000)} µs` : `${v.toFixed(1)} ms`);

export const dispatcherView: ViewFactory = (root, app) => {
  const live = h('div', null, h('p', { class: 'muted' }, 'Loading…'));
  root.appendChild(live);
  let daemonFilter = '';
  let busy = false;
  const draw = async (): Promise<void> => {
    const [status, conns] = await Promise.all([
      api<{ groups: GroupRow[]; table: { entries: number; limit: number } }>('/v1/dispatcher'),
      api<{ total: number; connections: ConnRow[] }>(`/v1/dispatcher/connections${qs({ limit: 100, daemon: daemonFilter || undefined })}`),
    ]);
    const operate = canOperate(app);
    patch(live, h('div', null,
      h('section', { class: 'card', 'aria-label': 'daemons' },
        h('h2', null, 'Daemons'),
        h('p', { class: 'muted' }, `Connection table: ${num(status.table.entries)} of ${num(status.table.limit)} entries.`),
        status.groups.length === 0 ? h('p', { class: 'muted' }, 'No dispatcher: add a dispatcher: section to the configuration file.') :
          h('table', { class: 'grid-table', id: 'dispatcher-table' },
            h('thead', null, h('tr', null, ['Group', 'Method', 'Daemon', '#Weight', 'State', '#Open', 'Connect', 'Check', '#Selected', 'Detail', ''].map((c) => h('th', { scope: 'col', class: c.startsWith('#') ? 'num' : null }, c.replace('#', ''))))),
            h('tbody', null, status.groups.flatMap((g) => g.daemons.map((d) => h('tr', { 'data-group': g.group, 'data-daemon': d.daemon, 'data-state': d.state },
              h('td', null, h('strong', null, g.group), h('span', { class: 'muted' }, ` ${g.protocol}`)),
              h('td', null, g.method, g.monitor ? h('span', { class: 'muted' }, ` · ${g.monitor}`) : null),
              h('td', null, h('a', { href: '#', 'data-action': 'filter', 'data-daemon': d.daemon }, d.daemon)),
              h('td', { class: 'num' }, num(d.weight)),
              h('td', null, h('span', { class: `badge ${TONE[d.state] ?? ''}` }, d.state)),
              h('td', { class: 'num' }, d.maxConnections === null ? num(d.connections) : `${num(d.connections)}/${num(d.maxConnections)}`),
              h('td', null, ms(d.connectMs)),
              h('td', null, ms(d.checkMs)),
              h('td', { class: 'num' }, num(d.selections)),
              h('td', { class: 'muted' }, d.spawn ? `${d.spawn.state}, pid ${d.spawn.pid ?? '—'}, ${d.spawn.restarts} restarts${d.spawn.lastExit ? ` (last: ${d.spawn.lastExit})` : ''}` : d.detail),
              h('td', null, operate ? h('button', { 'data-action': 'state', 'data-group': g.group, 'data-daemon': d.daemon, 'data-state': d.admin === 'drain' ? 'auto' : 'drain' }, d.admin === 'drain' ? 'Undrain' : 'Drain') : null))))))),
      h('section', { class: 'card', 'aria-label': 'connections' },
        h('h2', null, 'Connections', daemonFilter ? h('span', { class: 'muted' }, ` to ${daemonFilter} `) : null, daemonFilter ? h('button', { 'data-action': 'filter', 'data-daemon': '' }, 'Show all') : null),
        h('p', { class: 'muted' }, `${num(conns.connections.length)} of ${num(conns.total)} shown, oldest first.`),
        h('table', { class: 'grid-table', id: 'connections-table' },
          h('thead', null, h('tr', null, ['#Id', 'Proto', 'Client', 'Cluster', 'Daemon', 'Opened', 'Last active', '#Bytes in', '#Bytes out', ''].map((c) => h('th', { scope: 'col', class: c.startsWith('#') ? 'num' : null }, c.replace('#', ''))))),
          h('tbody', null, conns.connections.map((c) => h('tr', { 'data-id': c.id },
            h('td', { class: 'num' }, c.id), h('td', null, c.protocol), h('td', null, `${c.client}:${c.clientPort}`), h('td', null, c.service), h('td', null, c.target),
            h('td', { class: 'muted' }, ago(c.openedAt)), h('td', { class: 'muted' }, ago(c.lastAt)),
            h('td', { class: 'num' }, num(c.bytesIn)), h('td', { class: 'num' }, num(c.bytesOut)),
            h('td', null, operate ? h('button', { 'data-action': 'kill', 'data-id': c.id }, 'Kill') : null))))))));
  };
  live.addEventListener('click', async (ev) => {
    const el = (ev.target as Element).closest('[data-action]') as HTMLElement | null;
    if (!el || busy) return;
    ev.preventDefault();
    const { action, group, daemon, state, id } = el.dataset;
    if (action === 'filter') { daemonFilter = daemon ?? ''; await draw().catch(() => {}); return; }
    busy = true;
    try {
      if (action === 'state' && group && daemon && state) {
        await api(`/v1/dispatcher/groups/${encodeURIComponent(group)}/daemons/${encodeURIComponent(daemon)}/state`, { method: 'PUT', body: { state } });
        app.notify(`${daemon} of ${group}: ${state === 'drain' ? 'drained (no new connections)' : 'back in rotation'}`, 'ok');
      } else if (action === 'kill' && id) {
        await api(`/v1/dispatcher/connections/${encodeURIComponent(id)}`, { method: 'DELETE' });
        app.notify(`Connection ${id} reset`, 'ok');
      }
      app.changed();
    } catch (e) {
      app.notify(`Could not do that: ${(e as Error).message}`, 'error');
    } finally {
      busy = false;
      await draw().catch(() => {});
    }
  });
  return { every: 2000, refresh: draw };
};
