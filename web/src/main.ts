// The dashboard shell (SPEC C1, C4): login with a token, tabs, the refresh loop, notifications.
// Owns: which view is shown and when it refreshes. Each view owns its own drawing (views/*.ts).
import './style.css';
import { api, ApiError, getToken, setToken, whenUnauthorized } from './api.js';
import type { App, Role, ViewFactory, ViewInstance } from './app.js';
import { h, replace } from './dom.js';
import { span } from './format.js';
import { overviewView } from './views/overview.js';
import { chartsView } from './views/charts.js';
import { explainView } from './views/explain.js';
import { healthView } from './views/health.js';
import { persistenceView } from './views/persistence.js';
import { revisionsView } from './views/revisions.js';
import { auditView } from './views/audit.js';
import { zonesView } from './views/zones.js';
import { poolsView } from './views/pools.js';
import { nodesView } from './views/nodes.js';
import { dispatcherView } from './views/dispatcher.js';
import { leasesView } from './views/leases.js';

const TABS: Array<{ id: string; title: string; view: ViewFactory }> = [
  { id: 'overview', title: 'Overview', view: overviewView },
  { id: 'charts', title: 'Charts', view: chartsView },
  { id: 'explain', title: 'Explain', view: explainView },
  { id: 'zones', title: 'Zones', view: zonesView },
  { id: 'pools', title: 'Pools', view: poolsView },
  { id: 'probers', title: 'Health & probers', view: healthView },
  { id: 'persistence', title: 'Persistence', view: persistenceView },
  { id: 'revisions', title: 'Revisions', view: revisionsView },
  { id: 'audit', title: 'Audit log', view: auditView },
  { id: 'leases', title: 'Leases', view: leasesView },
  { id: 'dispatcher', title: 'Dispatcher', view: dispatcherView },
  { id: 'nodes', title: 'Nodes', view: nodesView },
];

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

/** The header's status line (revision in force, uptime, workers). */
const STATUS_EVERY_MS = 2000;

let role: Role | null = null;
let current: { id: string; instance: ViewInstance; timer: number | null; kick: () => void } | null = null;
let statusTimer: number | null = null;

const app: App = {
  notify,
  role: () => role,
  changed() {
    void refreshStatus();
  },
  go(tab, params) {
    const q = params ? new URLSearchParams(params).toString() : '';
    location.hash = q ? `${tab}?${q}` : tab;
  },
};

function notify(message: string, kind: 'ok' | 'error' | 'info' = 'info'): void {
  const box = $('toasts');
  const t = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, message);
  box.appendChild(t);
  setTimeout(() => t.classList.add('toast-out'), kind === 'error' ? 6000 : 3000);
  setTimeout(() => t.remove(), kind === 'error' ? 6400 : 3400);
}

function parseHash(): { tab: string; params: URLSearchParams } {
  const raw = location.hash.replace(/^#\/?/, '');
  const [tab, query] = raw.split('?', 2);
  const known = TABS.some((t) => t.id === tab);
  return { tab: known ? tab! : 'overview', params: new URLSearchParams(query ?? '') };
}

function stopView(): void {
  if (!current) return;
  if (current.timer !== null) clearTimeout(current.timer);
  current.instance.dispose?.();
  current = null;
}

function showView(): void {
  if (!getToken()) return showLogin();
  const { tab, params } = parseHash();
  stopView();
  for (const t of TABS) {
    const btn = $(`tab-${t.id}`);
    btn.setAttribute('aria-selected', String(t.id === tab));
    btn.tabIndex = t.id === tab ? 0 : -1;
  }
  const spec = TABS.find((t) => t.id === tab)!;
  const root = $('view');
  root.setAttribute('aria-labelledby', `tab-${tab}`);
  const errorBox = h('div', { class: 'view-error', role: 'alert', hidden: true });
  const body = h('div', { class: 'view-body' });
  replace(root, errorBox, body);
  document.title = `${spec.title} · Waymark`;
  const instance = spec.view(body, app, params);
  const me = { id: tab, instance, timer: null as number | null, kick: () => {} };
  current = me;
  const tick = async (): Promise<void> => {
    me.timer = null;
    if (current !== me) return;
    if (!document.hidden && instance.refresh) {
      try {
        await instance.refresh();
        errorBox.hidden = true;
      } catch (e) {
        if (current !== me) return;
        if (e instanceof ApiError && e.status === 401) return;
        errorBox.hidden = false;
        errorBox.textContent = (e as Error).message;
      }
    }
    if (current === me && instance.every) me.timer = window.setTimeout(tick, instance.every);
  };
  me.kick = () => { if (me.timer === null) return; clearTimeout(me.timer); me.timer = null; void tick(); };
  void tick();
}

async function refreshStatus(): Promise<void> {
  const line = $('status-line');
  try {
    const st = await api<Record<string, unknown>>('/v1/status');
    const who = (st.token ?? st.auth ?? st.whoami ?? st.caller) as { role?: unknown; name?: unknown } | undefined;
    const r = who?.role ?? st.role;
    role = r === 'read' || r === 'operator' || r === 'admin' ? r : null;
    const bits: string[] = [];
    const rev = st.revision ?? st.rev;
    if (rev !== undefined && rev !== null) bits.push(`rev ${typeof rev === 'object' ? String((rev as { id?: unknown }).id ?? '?') : String(rev)}`);
    const up = typeof st.uptime === 'number' ? st.uptime : typeof st.uptimeMs === 'number' ? st.uptimeMs / 1000 : typeof st.startedAt === 'number' ? (Date.now() - st.startedAt) / 1000 : null;
    if (up !== null) bits.push(`up ${span(up)}`);
    if (typeof st.workers === 'number') bits.push(`${st.workers} worker${st.workers === 1 ? '' : 's'}`);
    else if (Array.isArray(st.workers)) bits.push(`${st.workers.length} workers`);
    if (typeof st.version === 'string') bits.push(`v${st.version}`);
    if (role) bits.push(`signed in as ${typeof who?.name === 'string' ? `${who.name} (${role})` : role}`);
    line.textContent = bits.join(' · ');
    // The role stays in sight even when the status line is cut short: it says why edits are greyed out.
    const chip = $('role');
    chip.hidden = role === null;
    chip.textContent = role ?? '';
    chip.className = `role-chip role-${role ?? 'unknown'}`;
    line.title = line.textContent;
    line.classList.remove('offline');
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return;
    line.textContent = (e as Error).message;
    line.classList.add('offline');
  }
}

function showLogin(message?: string): void {
  stopView();
  if (statusTimer !== null) { clearInterval(statusTimer); statusTimer = null; }
  document.body.classList.add('signed-out');
  $('shell').hidden = true;
  $('login').hidden = false;
  const err = $('login-error');
  err.textContent = message ?? '';
  err.hidden = !message;
  document.title = 'Sign in · Waymark';
  $<HTMLInputElement>('token').focus();
}

function showShell(): void {
  document.body.classList.remove('signed-out');
  $('login').hidden = true;
  $('shell').hidden = false;
  if (statusTimer === null) statusTimer = window.setInterval(() => { if (!document.hidden) void refreshStatus(); }, STATUS_EVERY_MS);
  // The role comes with the status: views drawn once (Zones, Pools) must know it before they offer edits.
  // A 401 meanwhile has already sent the user to the login form (with its reason): then there is nothing to show.
  void refreshStatus().finally(() => { if (getToken()) showView(); });
}

function buildTabs(): void {
  const nav = $('tabs');
  for (const t of TABS) {
    nav.appendChild(h('a', { href: `#${t.id}`, id: `tab-${t.id}`, role: 'tab', 'aria-controls': 'view', 'aria-selected': 'false' }, t.title));
  }
  // Arrow keys move between tabs, as the ARIA tabs pattern expects.
  nav.addEventListener('keydown', (ev) => {
    if (ev.key !== 'ArrowRight' && ev.key !== 'ArrowLeft') return;
    const i = TABS.findIndex((t) => t.id === parseHash().tab);
    const next = TABS[(i + (ev.key === 'ArrowRight' ? 1 : TABS.length - 1)) % TABS.length]!;
    location.hash = next.id;
    $(`tab-${next.id}`).focus();
  });
}

function init(): void {
  buildTabs();
  whenUnauthorized(() => {
    // Several requests in flight may each get 401: only the first signs out (and says why).
    if (getToken() === null) return;
    setToken(null);
    showLogin('Your token was not accepted (expired, revoked or wrong). Sign in again.');
  });
  $('login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const input = $<HTMLInputElement>('token');
    const token = input.value.trim();
    if (!token) return;
    const button = $<HTMLButtonElement>('login-submit');
    button.disabled = true;
    try {
      await api('/v1/status', { token });
      setToken(token);
      input.value = '';
      showShell();
    } catch (e) {
      const msg = e instanceof ApiError && e.status === 401 ? 'That token was not accepted.' : (e as Error).message;
      showLogin(msg);
    } finally {
      button.disabled = false;
    }
  });
  $('logout').addEventListener('click', () => { setToken(null); showLogin(); });
  window.addEventListener('hashchange', () => { if (getToken()) showView(); });
  document.addEventListener('visibilitychange', () => { if (!document.hidden && current?.instance.every) current.kick(); });
  if (getToken()) showShell();
  else showLogin();
}

init();
