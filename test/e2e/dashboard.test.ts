// End to end (SPEC C1, C4, issue 5 "Dashboard"): the real server (supervisor + worker + REST API serving dist/web)
// driven by a real headless Chromium through playwright-core, checked by real DNS queries over UDP.
// Log in with a token, see name → pool → member (one member red from a real failing monitor), disable a member and
// watch the DNS answer move, find the change in the audit log, put it back, roll a configuration revision back from
// the Revisions tab, explain a decision, delete a persistence record, see the rates charted, and get sent back to the
// login form when the token stops working.
// Screenshots of every step go to test-results/dashboard/ (git-ignored) for a person to look at.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { addresses, freePort, query, ROOT, tempDir, type SpawnedWaymark } from '../harness.js';
import { CHROMIUM, NO_CHROMIUM, requireBrowserAndBuild, startServer, launchBrowser, closeSession } from './session.js';

const SHOTS = path.join(ROOT, 'test-results', 'dashboard');
const NAME = 'app.e2e.test';
/** A name with persistence, so the Persistence tab has a record to show and delete. */
const STICKY = 'sticky.e2e.test';
/** A name whose only member fails its health check (nothing listens on the port), for the red state. */
const DEAD = 'dead.e2e.test';
const PRIMARY = '127.0.0.1';
const BACKUP = '127.0.0.2';
/** How fast an operator's change must show in DNS answers (SPEC: every change reaches the workers within 1 s). */
const CHANGE_BUDGET_MS = 2000;

function config(dnsPort: number, apiPort: number, dataDir: string, closedPort: number): string {
  return `
server:
  listen: ["127.0.0.1:${dnsPort}"]
  workers: 1
store: { path: ${JSON.stringify(dataDir)} }
api: { listen: "127.0.0.1:${apiPort}" }
zones:
  - origin: e2e.test
    ns: [ns1]
    records:
      - { name: ns1, type: A, value: 127.0.0.53 }
monitors:
  - { name: closed-port, type: tcp, port: ${closedPort}, interval: 1s, timeout: 300ms }
names:
  - name: ${NAME}
    ttl: 1
    pools: [primary, backup]
    select: [global-availability]
  - name: ${STICKY}
    ttl: 1
    pools: [backup]
    persistence: { ttl: 300s }
  - name: ${DEAD}
    ttl: 1
    pools: [broken]
pools:
  - name: primary
    members: [{ address: ${PRIMARY}, weight: 3 }]
  - name: backup
    members: [{ address: ${BACKUP} }]
  - name: broken
    monitor: closed-port
    members: [{ address: 127.0.0.3 }]
`;
}

async function answer(port: number): Promise<string[]> {
  return addresses(await query(port, NAME, { timeoutMs: 500 }));
}

/** Query until the answer is `want`; returns the milliseconds it took, or throws with the last answer seen. */
async function answerBecomes(port: number, want: string, budgetMs: number, since = Date.now()): Promise<number> {
  let last: string[] = [];
  while (Date.now() - since <= budgetMs) {
    try { last = await answer(port); } catch { last = ['(no reply)']; }
    if (last.length === 1 && last[0] === want) return Date.now() - since;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`DNS answer for ${NAME} is still ${JSON.stringify(last)} ${budgetMs} ms later; expected ${want}`);
}


// Never skipped: a machine without Chromium FAILS here (counted as a failure, not only as cancelled tests below).
it('Chromium is installed for the dashboard end-to-end test', () => {
  assert.ok(fs.existsSync(CHROMIUM), NO_CHROMIUM);
});

describe('dashboard in headless Chromium against the real server', () => {
  let dir = '';
  let server: SpawnedWaymark | null = null;
  let browser: BrowserContext | null = null;
  let page: Page;
  let dnsPort = 0;
  let base = '';
  const token = `e2e-${crypto.randomBytes(16).toString('hex')}`;
  const pageErrors: string[] = [];
  let step = 0;

  const shot = async (label: string): Promise<void> => {
    step += 1;
    await page.screenshot({ path: path.join(SHOTS, `${String(step).padStart(2, '0')}-${label}.png`), fullPage: true });
  };
  const restApi = async (method: string, url: string, body?: unknown): Promise<Response> => fetch(`${base}${url}`, {
    method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  /** A member's row under NAME on the overview (a pool shared by several names is drawn under each). */
  const rowSelector = (pool: string, member: string): string => `section.name-card[data-name="${NAME}"] tr.member[data-pool="${pool}"][data-member="${member}"]`;
  const memberRow = (pool: string, member: string) => page.locator(rowSelector(pool, member));
  const rowState = (pool: string, member: string, state: string) => page.waitForFunction(
    ({ sel, want }) => document.querySelector(sel)?.getAttribute('data-state') === want, { sel: rowSelector(pool, member), want: state });

  before(async () => {
    requireBrowserAndBuild();
    fs.mkdirSync(SHOTS, { recursive: true });
    for (const f of fs.readdirSync(SHOTS)) if (f.endsWith('.png')) fs.rmSync(path.join(SHOTS, f));

    dir = tempDir('waymark-e2e-');
    dnsPort = await freePort();
    const apiPort = await freePort();
    base = `http://127.0.0.1:${apiPort}`;
    const file = path.join(dir, 'waymark.yaml');
    fs.writeFileSync(file, config(dnsPort, apiPort, path.join(dir, 'data'), await freePort()));
    // The bootstrap admin token (SPEC C4): accepted as an admin token when set at start.
    server = await startServer(file, base, token);
    ({ browser, page } = await launchBrowser(dir, { width: 1360, height: 860 }, pageErrors));
  });

  after(async () => {
    await closeSession(browser, server);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('C4: the dashboard asks for a token and refuses a wrong one', async () => {
    await page.goto(`${base}/`);
    await page.getByLabel('API token').waitFor();
    await shot('login');
    await page.getByLabel('API token').fill('not-a-real-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'not accepted' }).waitFor();
    assert.equal(await page.locator('#shell').isHidden(), true, 'a wrong token must not show the dashboard');
  });

  it('C1: after login the overview shows name → pools → members with health', async () => {
    await page.getByLabel('API token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    const card = page.locator(`section.name-card[data-name="${NAME}"]`);
    await card.waitFor();
    await memberRow('primary', PRIMARY).waitFor();
    await memberRow('backup', BACKUP).waitFor();
    assert.equal(await memberRow('primary', PRIMARY).getAttribute('data-state'), 'up');
    assert.match(await card.innerText(), /pool\s+primary/);
    assert.match(await card.innerText(), /pool\s+backup/);
    assert.equal((await memberRow('primary', PRIMARY).locator('td.num').innerText()).trim(), '3', 'weight shown');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('waymark.token') !== null), true, 'token kept for the tab');
    assert.deepEqual(await answer(dnsPort), [PRIMARY], 'before any change, global availability answers the primary');
    // A real monitor's verdict: the member behind a closed port turns red, with the probe's reason.
    const dead = page.locator(`section.name-card[data-name="${DEAD}"] tr.member[data-member="127.0.0.3"]`);
    await page.waitForFunction((sel) => document.querySelector(sel)?.getAttribute('data-state') === 'down',
      `section.name-card[data-name="${DEAD}"] tr.member[data-member="127.0.0.3"]`);
    assert.match(await dead.innerText(), /down/);
    await shot('overview');
  });

  it('H2/C1: "disable" on the first member moves the real DNS answer to the other member within 2 s', async (t) => {
    const clicked = Date.now();
    await page.getByRole('button', { name: `disable ${PRIMARY} in pool primary`, exact: true }).click();
    const ms = await answerBecomes(dnsPort, BACKUP, CHANGE_BUDGET_MS, clicked);
    t.diagnostic(`disable → DNS answer changed in ${ms} ms`);
    await rowState('primary', PRIMARY, 'warn');
    assert.match(await memberRow('primary', PRIMARY).innerText(), /disabled by operator/);
    assert.equal(await page.getByRole('button', { name: `disable ${PRIMARY} in pool primary`, exact: true }).getAttribute('aria-pressed'), 'true');
    await shot('member-disabled');
  });

  it('C3: the audit log shows who disabled the member', async () => {
    await page.getByRole('tab', { name: 'Audit log' }).click();
    const row = page.locator('#audit-table tbody tr').filter({ hasText: PRIMARY }).first();
    await row.waitFor();
    const text = await row.innerText();
    assert.match(text, /bootstrap/, 'actor recorded');
    assert.match(text, /primary/, 'target names the pool');
    assert.match(text, /down/, 'after-state recorded');
    await shot('audit');
  });

  it('C1: "auto" puts the member back and the DNS answer returns', async (t) => {
    await page.getByRole('tab', { name: 'Overview' }).click();
    const clicked = Date.now();
    await page.getByRole('button', { name: `auto ${PRIMARY} in pool primary`, exact: true }).click();
    const ms = await answerBecomes(dnsPort, PRIMARY, CHANGE_BUDGET_MS, clicked);
    t.diagnostic(`auto → DNS answer back in ${ms} ms`);
    await rowState('primary', PRIMARY, 'up');
    await shot('member-auto');
  });

  it('C2: a configuration revision is shown with its diff and rolled back from the Revisions tab', async (t) => {
    // Another operator (here: the REST API directly) disables the member in the configuration: a new revision.
    const res = await restApi('PUT', `/v1/pools/primary/members/${PRIMARY}`, { address: PRIMARY, weight: 3, enabled: false });
    assert.ok(res.ok, `PUT member: ${res.status} ${await res.text()}`);
    await answerBecomes(dnsPort, BACKUP, CHANGE_BUDGET_MS);

    await page.getByRole('tab', { name: 'Revisions' }).click();
    await page.locator('#revision-diff').waitFor();
    const diff = await page.locator('#revision-diff').innerText();
    assert.match(diff, /^\+.*enabled: false/m, `diff shows the change:\n${diff}`);
    await shot('revision-diff');

    const first = page.getByRole('button', { name: 'revision 1', exact: true });
    await first.click();
    await page.getByRole('button', { name: 'Roll back to #1…' }).click();
    await shot('rollback-confirm');
    const clicked = Date.now();
    await page.getByRole('button', { name: 'Roll back to #1', exact: true }).click();
    const ms = await answerBecomes(dnsPort, PRIMARY, CHANGE_BUDGET_MS, clicked);
    t.diagnostic(`rollback → DNS answer back in ${ms} ms`);
    await page.locator('.rev-item.selected').filter({ hasText: 'current' }).waitFor();
    await shot('rolled-back');

    await page.getByRole('tab', { name: 'Overview' }).click();
    await rowState('primary', PRIMARY, 'up');
  });

  it('G7: the Explain form shows the answer and the steps that chose it', async () => {
    await page.getByRole('tab', { name: 'Explain' }).click();
    await page.getByLabel('Name', { exact: true }).fill(NAME);
    await page.getByLabel('Resolver', { exact: true }).fill('127.0.0.9');
    await page.getByRole('button', { name: 'Explain', exact: true }).click();
    const answerCard = page.getByRole('region', { name: 'answer' });
    await answerCard.waitFor();
    const text = await answerCard.innerText();
    assert.ok(text.includes('NOERROR') && text.includes(PRIMARY), `explain answers ${PRIMARY}: ${text}`);
    assert.ok(await page.locator('ol.steps li').count() > 0, 'explain lists its steps');
    await shot('explain');
  });

  it('G5: the Persistence tab lists a resolver\'s record and deletes it', async () => {
    assert.deepEqual(addresses(await query(dnsPort, STICKY)), [BACKUP]);
    await page.getByRole('tab', { name: 'Persistence' }).click();
    await page.getByLabel('Name', { exact: true }).fill(STICKY);
    // Records reach the supervisor in batches (~100 ms): search until it is there.
    const del = page.getByRole('button', { name: `delete record ${STICKY} 127.0.0.1`, exact: true });
    for (let i = 0; !(await del.isVisible()); i++) {
      assert.ok(i < 30, 'the persistence record never showed');
      await page.getByRole('button', { name: 'Search' }).click();
      await page.waitForTimeout(100);
    }
    const row = page.locator('#persist-table tbody tr').first();
    const text = await row.innerText();
    for (const want of [STICKY, '127.0.0.1', 'backup', BACKUP]) assert.ok(text.includes(want), `record row shows ${want}: ${text}`);
    await shot('persistence');
    await del.click();
    await page.getByText('No persistence records match').waitFor();
    const left = await (await restApi('GET', `/v1/persistence?name=${STICKY}`)).json() as { records: unknown[] };
    assert.equal(left.records.length, 0, 'the record is gone from the server too');
  });

  it('C1: the Charts tab draws queries/s per name and answers/s per member from the server\'s series', async () => {
    // Rates come in completed 10 s steps: keep a little traffic going until the first step with it has closed.
    const seriesOf = async (): Promise<{ names: Record<string, number[]>; members: Record<string, number[]> }> => (await restApi('GET', '/v1/metrics/series')).json() as never;
    const deadline = Date.now() + 12_000;
    for (;;) {
      await answer(dnsPort);
      const s = await seriesOf();
      if ((s.names[NAME] ?? []).some((v) => v > 0) && (s.members[`primary/${PRIMARY}`] ?? []).some((v) => v > 0)) break;
      assert.ok(Date.now() < deadline, `no rate for ${NAME} in the series after 12 s: ${JSON.stringify(s)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    await page.getByRole('tab', { name: 'Charts' }).click();
    await page.locator(`#chart-names [data-series="${NAME}"] circle`).waitFor();
    await page.locator(`#chart-members [data-series="primary/${PRIMARY}"] circle`).waitFor();
    assert.match(await page.locator('#chart-names .legend').innerText(), new RegExp(NAME.replace(/\./g, '\\.')));
    await shot('charts');
  });

  it('C2: the nodes tab shows this node from its heartbeat (single node, its revision) and the store as ok', async () => {
    await page.getByRole('tab', { name: 'Nodes' }).click();
    await page.getByRole('heading', { name: 'Nodes' }).waitFor();
    const row = page.locator('#nodes-table tbody tr');
    await row.first().waitFor();
    assert.equal(await row.count(), 1);
    assert.equal(await row.first().getAttribute('data-role'), 'single');
    assert.equal(await row.first().getAttribute('data-state'), 'up');
    const status = (await (await restApi('GET', '/v1/status')).json()) as { revision: { id: number } };
    assert.match(await row.first().innerText(), new RegExp(`\\(this one\\)[\\s\\S]*\\b${status.revision.id}\\b`));
    assert.equal(await page.locator('#store-state').getAttribute('data-state'), 'ok');
    await shot('nodes');
    assert.equal(await page.locator('.view-error:not([hidden])').count(), 0, `no view error: ${await page.locator('.view-error').allInnerTexts()}`);
  });

  it('the health & probers tab draws without errors', async () => {
    await page.getByRole('tab', { name: 'Health & probers' }).click();
    await page.getByRole('heading', { name: 'Probers' }).waitFor();
    await shot('probers');
    assert.equal(await page.locator('.view-error:not([hidden])').count(), 0, `no view error: ${await page.locator('.view-error').allInnerTexts()}`);
    assert.deepEqual(pageErrors, [], 'no uncaught errors in the page');
  });

  it('C4: a token the API stops accepting (401) sends the user back to the login form', async () => {
    await page.evaluate(() => sessionStorage.setItem('waymark.token', 'revoked-or-wrong'));
    await page.reload();
    await page.getByRole('alert').filter({ hasText: 'Sign in again' }).waitFor();
    assert.equal(await page.locator('#shell').isHidden(), true);
    await shot('token-rejected');
    await page.getByLabel('API token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    // Back where the user was (the tab is in the URL).
    await page.getByRole('heading', { name: 'Probers' }).waitFor();
    assert.equal(await page.getByRole('tab', { name: 'Health & probers' }).getAttribute('aria-selected'), 'true');
  });

  it('C4: signing out forgets the token', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API token').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('waymark.token')), null);
  });
});
