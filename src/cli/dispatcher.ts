// `waymark dispatcher status | connections | drain | undrain | kill`: the dispatcher of a running server through
// its API (issue 13). Owns: the mapping of those words to API calls and their tables.
import type { Command } from 'commander';
import { clientOf, print, table, withApi, type ClientOptions } from './client.js';
import type { GroupView } from '../forward/dispatcher.js';
import type { Connection } from '../forward/table.js';

interface FilterOptions extends ClientOptions { group?: string; cluster?: string; port?: string; daemon?: string; client?: string; protocol?: string; limit?: string }

function filterQuery(o: FilterOptions): URLSearchParams {
  const q = new URLSearchParams();
  for (const k of ['group', 'cluster', 'port', 'daemon', 'client', 'protocol', 'limit'] as const) if (o[k] !== undefined) q.set(k, o[k]!);
  return q;
}

function withFilter(cmd: Command): Command {
  return withApi(cmd)
    .option('--group <cluster:port>', 'only this cluster address and port')
    .option('--cluster <address>', 'only this cluster address')
    .option('--port <port>', 'only this cluster port')
    .option('--daemon <address:port>', 'only connections to this daemon')
    .option('--client <address[:port]>', 'only connections from this client')
    .option('--protocol <tcp|udp>', 'only TCP connections or UDP flows');
}

export function registerDispatcherCommands(program: Command): void {
  const cmd = program.command('dispatcher').description('the L4 dispatcher of a running server: daemons, connections, drain');
  withApi(cmd.command('status').description('each cluster address and port, its method and daemons: state, connections, response times'))
    .action(async (opts: ClientOptions) => {
      const r = await clientOf(opts).get<{ groups: GroupView[]; table: { entries: number; limit: number } }>('/v1/dispatcher');
      print(opts, r, () => `${table(['GROUP', 'PROTO', 'METHOD', 'DAEMON', 'WEIGHT', 'STATE', 'CONNS', 'CONNECT ms', 'CHECK ms', 'SELECTED', 'DETAIL'], r.groups.flatMap((g) => g.daemons.map((d) => [
        g.group, g.protocol, g.method, d.daemon, d.weight, d.state, d.maxConnections === null ? d.connections : `${d.connections}/${d.maxConnections}`,
        d.connectMs, d.checkMs, d.selections, d.spawn ? `${d.spawn.state} pid ${d.spawn.pid ?? '-'}, ${d.spawn.restarts} restarts` : d.detail,
      ])))}\ntable: ${r.table.entries} of ${r.table.limit} entries`);
    });
  withFilter(cmd.command('connections').description('the connection table (TCP connections and UDP flows), oldest first'))
    .option('--limit <n>', 'at most this many (default 100)')
    .action(async (opts: FilterOptions) => {
      const r = await clientOf(opts).get<{ total: number; connections: Connection[] }>(`/v1/dispatcher/connections?${filterQuery(opts).toString()}`);
      print(opts, r, () => `${table(['ID', 'PROTO', 'CLIENT', 'CLUSTER', 'DAEMON', 'AGE s', 'IDLE s', 'BYTES IN', 'BYTES OUT'], r.connections.map((c) => [
        c.id, c.protocol, `${c.client}:${c.clientPort}`, c.service, c.target, Math.round((Date.now() - c.openedAt) / 1000), Math.round((Date.now() - c.lastAt) / 1000), c.bytesIn, c.bytesOut,
      ]))}\n${r.connections.length} of ${r.total} shown`);
    });
  for (const [word, state] of [['drain', 'drain'], ['undrain', 'auto']] as const) {
    withApi(cmd.command(`${word} <group> <daemon>`).description(word === 'drain' ? 'no new connections for DAEMON (address:port) of GROUP (cluster:port); open ones finish (kept across restarts)' : 'put a drained daemon back in rotation'))
      .option('--deadline <duration>', word === 'drain' ? 'reset what is still open after this long (e.g. 30s)' : '(drain only)')
      .action(async (group: string, daemon: string, opts: ClientOptions & { deadline?: string }) => {
        const body = { state, ...(state === 'drain' && opts.deadline !== undefined ? { deadline: opts.deadline } : {}) };
        const r = await clientOf(opts).request<{ state: string; previous: string; deadlineMs: number | null }>('PUT', `/v1/dispatcher/groups/${encodeURIComponent(group)}/daemons/${encodeURIComponent(daemon)}/state`, { body });
        print(opts, r.body, () => `${group} ${daemon}: ${r.body.previous} -> ${r.body.state}${r.body.deadlineMs !== null ? ` (open connections reset after ${r.body.deadlineMs / 1000} s)` : ''}`);
      });
  }
  withFilter(cmd.command('kill [id]').description('reset connection ID, or every connection matching the filter'))
    .action(async (id: string | undefined, opts: FilterOptions) => {
      const path = id !== undefined ? `/v1/dispatcher/connections/${encodeURIComponent(id)}` : `/v1/dispatcher/connections?${filterQuery(opts).toString()}`;
      const r = await clientOf(opts).request<{ killed: number }>('DELETE', path);
      print(opts, r.body, () => `${r.body.killed} connection(s) reset`);
    });
}
