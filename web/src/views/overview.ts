// Overview: names → pools (each marked serving or standby, from GET /v1/explain) → members with live health colours,
// weights, metrics, traffic sparklines with their scale and the operator's admin buttons. Refreshed every 2 s, one
// page of names at a time (a provider has 100,000 of them): only that page's pools, health, rates and explains are
// asked for. Owns: this page. Member admin changes go through PUT /v1/pools/:pool/members/:member/state.
import { allPages, api, ApiError, listOf, qs } from '../api.js';
import { canOperate, type ViewFactory } from '../app.js';
import { sparkline, PALETTE } from '../chart.js';
import { h, patch } from '../dom.js';
import { ago, num, seconds, METRIC_LABELS } from '../format.js';
import { fetchRoles, PROBE_RESOLVER, type PoolRoles } from '../serving.js';
import { pager, type PageInfo } from '../pager.js';
import {
  effectiveState, normaliseHealth, normaliseName, normalisePool,
  type AdminState, type MemberHealth, type NameConfig, type PoolConfig, type Series,
} from '../model.js';

const SERIES_EVERY_MS = 10_000;

const ACTIONS: Array<{ state: AdminState; word: string; hint: string }> = [
  { state: 'auto', word: 'auto', hint: 'follow health checks' },
  { state: 'up', word: 'enable', hint: 'force up, ignoring health checks' },
  { state: 'drain', word: 'drain', hint: 'no new resolvers; persisting ones stay' },
  { state: 'down', word: 'disable', hint: 'take out of answers' },
];

const DONE: Record<AdminState, string> = {
  auto: 'back to auto (health checks decide)', up: 'enabled (forced up)', drain: 'draining', down: 'disabled',
};

/** Where the server publishes the last hour of rates; the first that answers is remembered. */
const SERIES_PATHS = ['/v1/metrics/series', '/v1/series'];
let seriesPath: string | null = null;

/** Names drawn per page of the overview (each with its pools and members). */
export const NAMES_PER_PAGE = 25;

/**
 * Queries/s per name and answers/s per member, or null when the server collects none (404); only of these names
 * and pools when `only` is given.
 */
export async function fetchSeries(only?: { names: string[]; pools: string[] }): Promise<Series | null> {
  if (only && only.names.length + only.pools.length === 0) return { step: 10, names: {}, members: {} };
  for (const path of seriesPath ? [seriesPath] : SERIES_PATHS) {
    try {
      const s = await api<Series>(`${path}${only ? qs({ name: only.names, pool: only.pools }) : ''}`);
      seriesPath = path;
      return { step: s.step || 10, names: s.names ?? {}, members: s.members ?? {} };
    } catch (e) {
      if (!(e instanceof ApiError && (e.status === 404 || e.status === 501))) throw e;
    }
  }
  return null;
}

/** Defaults of the configuration schema when a chain is not given. */
const DEFAULT_NAME_CHAIN = ['global-availability'];
const DEFAULT_POOL_CHAIN = ['round-robin'];

function chain(select: string[] | undefined, fallback: string[]): string {
  return (select && select.length ? select : fallback).join(' → ');
}

function fallbackText(f: Record<string, unknown> | undefined): string | null {
  if (!f) return null;
  if (typeof f.address === 'string') return `sorry ${f.address}`;
  if (Array.isArray(f.addresses)) return `sorry ${f.addresses.join(', ')}`;
  if (typeof f.method === 'string') return f.method;
  if (typeof f.rcode === 'string') return f.rcode;
  return JSON.stringify(f);
}

export const overviewView: ViewFactory = (root, app) => {
  let series: Series | null = null;
  let seriesAt = 0;
  let busy = false;
  const live = h('div', { class: 'overview' }, h('p', { class: 'muted loading' }, 'Loading…'));
  let refreshNow: () => Promise<void> = async () => {};
  const names = pager({ id: 'names', size: NAMES_PER_PAGE, noun: 'names', filterHint: 'name contains', changed: () => { void refreshNow().catch(() => {}); } });
  const tiles = h('div', { class: 'tiles-box' });
  root.append(tiles, names.box, live);

  // One delegated listener: rows are patched in place each refresh, so buttons keep no listeners of their own.
  live.addEventListener('click', async (ev) => {
    const btn = (ev.target as Element).closest('button[data-action]') as HTMLButtonElement | null;
    if (!btn || busy) return;
    const { action, pool, member, state, name } = btn.dataset;
    if (action === 'explain' && name) { app.go('explain', { name }); return; }
    if (action !== 'set-state' || !pool || !member || !state) return;
    busy = true;
    btn.classList.add('pending');
    try {
      await api(`/v1/pools/${encodeURIComponent(pool)}/members/${encodeURIComponent(member)}/state`, { method: 'PUT', body: { state } });
      app.notify(`${member} in pool ${pool}: ${DONE[state as AdminState] ?? state}`, 'ok');
      app.changed();
    } catch (e) {
      app.notify(`Could not change ${member} in ${pool}: ${(e as Error).message}`, 'error');
    } finally {
      busy = false;
      btn.classList.remove('pending');
      await refreshNow().catch(() => {});
    }
  });

  const memberRow = (pool: PoolConfig, idx: number, health: Map<string, MemberHealth>, operate: boolean): HTMLElement => {
    const m = pool.members[idx]!;
    const hl = health.get(`${pool.name}/${m.id}`);
    const eff = effectiveState(hl, m.enabled !== false);
    const weight = m.weight ?? 1;
    const scale = hl?.weightScale ?? 1;
    const metrics = Object.entries(hl?.metrics ?? {})
      .filter((e): e is [string, number] => typeof e[1] === 'number')
      .map(([k, v]) => h('span', { class: 'chip' }, (METRIC_LABELS[k] ?? ((x: number) => `${k} ${num(x)}`))(v)));
    const values = series?.members[`${pool.name}/${m.id}`];
    const admin = hl?.admin ?? 'auto';
    const label = `${m.id} in pool ${pool.name}`;
    return h('tr', { class: `member tone-${eff.tone}`, 'data-pool': pool.name, 'data-member': m.id, 'data-state': eff.tone },
      h('td', { class: 'state-cell' },
        h('span', { class: `dot tone-${eff.tone}`, 'aria-hidden': 'true' }),
        h('span', { class: 'state-label' }, eff.label),
        // Why: the operator who forced it, or the probe detail when health itself is the reason.
        admin !== 'auto' ? h('div', { class: 'detail muted' }, hl?.adminBy ? `by ${hl.adminBy}` : 'operator override')
          : hl && hl.detail && (!hl.up || hl.drain) ? h('div', { class: 'detail muted' }, hl.detail) : null),
      h('td', { class: 'member-id' }, h('code', null, m.id)),
      h('td', { class: 'num' }, scale !== 1 ? h('span', { title: `configured ${weight}, agent ${Math.round(scale * 100)} %` }, `${num(weight * scale)} `, h('small', { class: 'muted' }, `(${num(weight)} × ${Math.round(scale * 100)}%)`)) : num(weight)),
      h('td', { class: 'metrics' }, metrics.length ? metrics : h('span', { class: 'muted' }, '—')),
      h('td', { class: 'spark-cell' }, values && series ? sparkline(values, { step: series.step, unit: 'ans/s', label: `answers/s for ${m.id}`, colour: eff.tone === 'down' ? '#dc2626' : PALETTE[0] }) : h('span', { class: 'muted' }, '—')),
      h('td', { class: 'since muted', title: admin !== 'auto' ? 'since the operator set it' : 'since the health verdict last changed' },
        admin !== 'auto' && hl?.adminAt ? ago(hl.adminAt) : hl?.since ? ago(hl.since) : '—'),
      h('td', { class: 'admin-cell' },
        h('div', { class: 'segmented', role: 'group', 'aria-label': `Admin state of ${label}` },
          ACTIONS.map((a) => h('button', {
            type: 'button', class: `seg seg-${a.state}`, 'data-action': 'set-state', 'data-pool': pool.name, 'data-member': m.id, 'data-state': a.state,
            'aria-pressed': String(admin === a.state), 'aria-label': `${a.word} ${label}`, title: a.hint, disabled: !operate,
          }, a.word)))),
    );
  };

  /** "serving" / "standby" for the name's pools; nothing when the name's decision could not be read. */
  const roleBadge = (pool: string, roles: PoolRoles | null | undefined): HTMLElement | null => {
    if (!roles) return null;
    const serving = roles.serving === pool;
    const why = serving
      ? `resolver ${PROBE_RESOLVER} is answered from this pool now (${roles.how === 'persistence' ? 'persistence record' : 'GET /v1/explain'}: ${roles.summary})`
      : `not answering resolver ${PROBE_RESOLVER} now; used when the pools before it in the chain have no usable member`;
    if (serving && roles.how === 'fallback') return h('span', { class: 'badge pool-role tone-warn', title: why }, 'serving (health ignored)');
    return h('span', { class: `badge pool-role ${serving ? 'tone-up' : 'tone-off'}`, title: why }, serving ? 'serving' : 'standby');
  };

  const poolBlock = (pool: PoolConfig, health: Map<string, MemberHealth>, operate: boolean, roles?: PoolRoles | null): HTMLElement => {
    const serving = pool.members.filter((m) => effectiveState(health.get(`${pool.name}/${m.id}`), m.enabled !== false).serving).length;
    const monitors = pool.monitors ?? (pool.monitor ? [pool.monitor] : []);
    const role = roles ? (roles.serving === pool.name ? 'serving' : 'standby') : null;
    return h('div', { class: `pool${role ? ` pool-${role}` : ''}`, 'data-pool': pool.name, 'data-role': role },
      h('div', { class: 'pool-head' },
        h('h3', null, h('span', { class: 'muted' }, 'pool '), pool.name),
        roleBadge(pool.name, roles),
        h('span', { class: `count ${serving === 0 ? 'tone-down' : serving < pool.members.length ? 'tone-warn' : 'tone-up'}` }, `${serving}/${pool.members.length} members usable`),
        h('span', { class: 'chip', title: 'member selection chain' }, chain(pool.select, DEFAULT_POOL_CHAIN)),
        monitors.length ? h('span', { class: 'chip', title: 'monitors' }, `monitor ${monitors.join(', ')}`) : h('span', { class: 'chip muted' }, 'no monitor')),
      h('table', { class: 'members' },
        // Fixed column widths so the tables of every pool line up under each other.
        // Fixed column widths so the tables of every pool line up under each other (wide screens; narrower ones get
        // two lines per member, see style.css).
        h('colgroup', null, ['15%', null, '84px', '15%', '180px', '96px', '264px'].map((w) => h('col', w ? { style: `width:${w}` } : null))),
        h('thead', null, h('tr', null,
          h('th', { scope: 'col', class: 'c-state' }, 'State'), h('th', { scope: 'col', class: 'c-member' }, 'Member'), h('th', { scope: 'col', class: 'num c-weight' }, 'Weight'),
          h('th', { scope: 'col', class: 'c-metrics' }, 'Metrics'), h('th', { scope: 'col', class: 'c-spark' }, 'Answers/s'), h('th', { scope: 'col', class: 'c-since' }, 'Since'), h('th', { scope: 'col', class: 'c-admin' }, 'Admin'))),
        h('tbody', null, pool.members.map((_, i) => memberRow(pool, i, health, operate)))));
  };

  const nameCard = (n: NameConfig, pools: Map<string, PoolConfig>, health: Map<string, MemberHealth>, operate: boolean, roles: PoolRoles | null): HTMLElement => {
    const values = series?.names[n.name];
    const fb = fallbackText(n.fallback);
    return h('section', { class: 'card name-card', 'data-name': n.name, 'aria-label': `name ${n.name}` },
      h('header', { class: 'name-head' },
        h('div', null,
          h('h2', null, n.name),
          h('div', { class: 'chips' },
            h('span', { class: 'chip', title: 'pool selection chain' }, chain(n.select, DEFAULT_NAME_CHAIN)),
            n.ttl !== undefined ? h('span', { class: 'chip' }, `TTL ${seconds(n.ttl)}`) : null,
            fb ? h('span', { class: 'chip', title: 'fallback' }, `fallback: ${fb}`) : null,
            n.persistence ? h('span', { class: 'chip', title: 'persistence' }, `persistence ${seconds(n.persistence.ttl)}${n.persistence.key === 'subnet' ? ' by subnet' : ''}`) : null,
            roles && roles.serving === null ? h('span', { class: 'badge tone-down no-serving', title: `what resolver ${PROBE_RESOLVER} gets now` }, `no pool serving: ${roles.summary}`) : null,
            roles && roles.how === 'fallback' ? h('span', { class: 'badge tone-warn no-serving', title: `what resolver ${PROBE_RESOLVER} gets now` }, `no usable member: ${roles.summary}`) : null)),
        h('div', { class: 'name-side' },
          values && series ? h('div', { class: 'name-rate' }, sparkline(values, { step: series.step, unit: 'q/s', width: 160, height: 34, label: `queries/s for ${n.name}` }), h('span', { class: 'rate' }, `${num(values[values.length - 1] ?? 0)}`, h('small', null, ' q/s'))) : null,
          h('button', { type: 'button', class: 'ghost small', 'data-action': 'explain', 'data-name': n.name, 'aria-label': `explain ${n.name}` }, 'Explain…'))),
      n.pools.map((p) => {
        const pool = pools.get(p);
        return pool ? poolBlock(pool, health, operate, roles) : h('p', { class: 'muted' }, `pool ${p} (not defined)`);
      }));
  };

  /** The page of names asked for, their pools, and (on the last page) the pools no name uses. */
  const fetchPage = async (): Promise<{ names: NameConfig[]; info: PageInfo; pools: Map<string, PoolConfig>; orphans: PoolConfig[] }> => {
    const body = await api<PageInfo & Record<string, unknown>>(`/v1/names${qs(names.params())}`);
    const page = listOf<Record<string, unknown>>(body, 'names').map(normaliseName);
    const wanted = [...new Set(page.flatMap((n) => n.pools))];
    const lastPage = (body.next ?? null) === null && !names.params().q;
    const [listed, unused] = await Promise.all([
      wanted.length ? allPages<Record<string, unknown>>('/v1/pools', { name: wanted }, 'pools') : Promise.resolve([]),
      lastPage ? api(`/v1/pools${qs({ unused: 'true', limit: NAMES_PER_PAGE })}`).then((b) => listOf<Record<string, unknown>>(b, 'pools')) : Promise.resolve([]),
    ]);
    return { names: page, info: body, pools: new Map(listed.map(normalisePool).map((p) => [p.name, p])), orphans: unused.map(normalisePool) };
  };

  /** Refreshes started (the timer's and a page change's may overlap): only the latest one draws. */
  let started = 0;
  refreshNow = async () => {
    const mine = ++started;
    const wantSeries = Date.now() - seriesAt > SERIES_EVERY_MS;
    const [pageData, status] = await Promise.all([fetchPage(), api<Record<string, unknown>>('/v1/status')]);
    if (mine !== started) return;
    const { names: shown, pools, orphans } = pageData;
    names.shown(shown.length, pageData.info);
    const poolNames = [...new Set([...pools.keys(), ...orphans.map((p) => p.name)])];
    const [healthList, newSeries] = await Promise.all([
      poolNames.length ? allPages<Record<string, unknown>>('/v1/health', { pool: poolNames }, 'members') : Promise.resolve([]),
      wantSeries ? fetchSeries({ names: shown.map((n) => n.name), pools: poolNames }).catch(() => null) : Promise.resolve(series),
    ]);
    if (wantSeries) { series = newSeries; seriesAt = Date.now(); }
    const health = new Map(healthList.map(normaliseHealth).map((m) => [`${m.pool}/${m.member}`, m]));
    const operate = canOperate(app);
    // One explained query per name on this page (never per name of the configuration): which pool answers now.
    const roles = await Promise.all(shown.map((n) => fetchRoles(n, pools).catch(() => null)));
    if (mine !== started) return;

    const tile = (label: string, value: string, tone = ''): HTMLElement => h('div', { class: `tile ${tone}` }, h('div', { class: 'tile-value' }, value), h('div', { class: 'tile-label' }, label));
    // Counts of the whole configuration come from the status, not from the page shown.
    const count = (k: string): number => (typeof status[k] === 'number' ? status[k] as number : 0);
    const members = count('members');
    const up = count('membersUp');
    const down = Math.max(0, members - up);
    const forced = count('overrides');
    patch(tiles, h('div', null, h('div', { class: 'tiles' },
      tile('names', count('names').toLocaleString('en-US')),
      tile('pools', count('pools').toLocaleString('en-US')),
      tile('members up', `${up.toLocaleString('en-US')}/${members.toLocaleString('en-US')}`, up === members ? 'tone-up' : up === 0 ? 'tone-down' : 'tone-warn'),
      tile('down', down.toLocaleString('en-US'), down ? 'tone-down' : ''),
      tile('operator overrides', forced.toLocaleString('en-US'), forced ? 'tone-warn' : ''))));

    const empty = count('names') === 0 && count('pools') === 0;
    const fresh = h('div', null,
      empty ? h('div', { class: 'card empty-state' }, h('h2', null, 'No policy names yet'), h('p', { class: 'muted' }, 'Add names and pools to the configuration (names:, pools:) to see them here.')) : null,
      !empty && shown.length === 0 ? h('div', { class: 'card empty-state' }, h('p', { class: 'muted' }, names.params().q ? 'No name matches the filter.' : 'No policy names.')) : null,
      shown.map((n, i) => nameCard(n, pools, health, operate, roles[i] ?? null)),
      orphans.length ? h('section', { class: 'card name-card', 'aria-label': 'pools without a name' },
        h('header', { class: 'name-head' }, h('h2', null, 'Pools no name uses')),
        orphans.map((p) => poolBlock(p, health, operate))) : null);
    patch(live, fresh);
  };

  return { refresh: () => refreshNow(), every: 2000 };
};
