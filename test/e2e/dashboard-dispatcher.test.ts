// End to end (issue 13, SPEC C1, P2, P6): the dashboard's Dispatcher page in headless Chromium against a real server
// whose dispatcher forwards to real TCP daemons: the daemons with their states and open connections, the connection
// table, a drain that real connections then obey, and a kill that resets a real connection.
// Screenshots go to test-results/dashboard/ (git-ignored).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { freePort, ROOT, tempDir, type SpawnedWaymark } from '../harness.js';
import { CHROMIUM, NO_CHROMIUM, requireBrowserAndBuild, startServer, launchBrowser, closeSession } from './session.js';
import { connect, tcpDaemon, type Client, type TcpDaemon } from '../forward/daemons.js';

const SHOTS = path.join(ROOT, 'test-results', 'dashboard');
const CLUSTER = '127.0.16.1';

it('Chromium is installed for the dashboard dispatcher test', () => {
  assert.ok(fs.existsSync(CHROMIUM), NO_CHROMIUM);
});

describe('the Dispatcher page in headless Chromium', () => {
  let dir = '';
  let server: SpawnedWaymark | null = null;
  let browser: BrowserContext | null = null;
  let page: Page;
  let port = 0;
  let dport = 0;
  const daemons: TcpDaemon[] = [];
  const held: Client[] = [];
  const token = `e2e-${crypto.randomBytes(16).toString('hex')}`;
  const pageErrors: string[] = [];

  before(async () => {
    requireBrowserAndBuild();
    fs.mkdirSync(SHOTS, { recursive: true });
    dir = tempDir('waymark-e2e-dispatch-');
    const [dns, api] = [await freePort(), await freePort()];
    port = await freePort();
    dport = await freePort();
    daemons.push(await tcpDaemon('A', '127.0.16.2', dport), await tcpDaemon('B', '127.0.16.3', dport));
    const file = path.join(dir, 'waymark.yaml');
    fs.writeFileSync(file, JSON.stringify({
      server: { listen: [`127.0.0.1:${dns}`], workers: 1 }, store: { path: path.join(dir, 'data') }, api: { listen: `127.0.0.1:${api}` },
      zones: [{ origin: 'd.test', ns: ['ns1'], records: [{ name: 'ns1', type: 'A', value: '127.0.0.53' }] }],
      dispatcher: { clusters: [{ address: CLUSTER, ports: [{ port, method: 'round-robin', daemons: [{ address: '127.0.16.2', port: dport }, { address: '127.0.16.3', port: dport }] }] }] },
    }));
    const base = `http://127.0.0.1:${api}`;
    server = await startServer(file, base, token);
    ({ browser, page } = await launchBrowser(dir, { width: 1400, height: 900 }, pageErrors));
    await page.goto(`${base}/`);
    await page.getByLabel('API token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
  });

  after(async () => {
    for (const c of held) c.socket.destroy();
    await closeSession(browser, server);
    for (const d of daemons) await d.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('P2: the page lists both daemons up with their open connections, and the table with the real clients', async () => {
    held.push(await connect(CLUSTER, port, '127.0.16.50'), await connect(CLUSTER, port, '127.0.16.51'));
    await page.getByRole('tab', { name: 'Dispatcher' }).click();
    const rowA = page.locator(`#dispatcher-table tr[data-daemon="127.0.16.2:${dport}"]`);
    await rowA.waitFor();
    assert.equal(await rowA.getAttribute('data-state'), 'up');
    await page.waitForFunction(() => document.querySelectorAll('#connections-table tbody tr').length === 2);
    const clients = await page.locator('#connections-table tbody tr td:nth-child(3)').allInnerTexts();
    assert.deepEqual(clients.map((c) => c.split(':')[0]).sort(), ['127.0.16.50', '127.0.16.51']);
    await page.screenshot({ path: path.join(SHOTS, 'dispatcher.png'), fullPage: true });
  });

  it('P6: Drain takes daemon A out of rotation for new connections; Undrain puts it back', async () => {
    const rowA = page.locator(`#dispatcher-table tr[data-daemon="127.0.16.2:${dport}"]`);
    await rowA.getByRole('button', { name: 'Drain' }).click();
    await page.waitForFunction((sel) => document.querySelector(sel)?.getAttribute('data-state') === 'drain', `#dispatcher-table tr[data-daemon="127.0.16.2:${dport}"]`);
    for (let i = 0; i < 4; i++) {
      const c = await connect(CLUSTER, port);
      assert.equal(c.greeting, 'B', 'no new connection for a drained daemon');
      c.socket.destroy();
    }
    await page.screenshot({ path: path.join(SHOTS, 'dispatcher-drained.png'), fullPage: true });
    await rowA.getByRole('button', { name: 'Undrain' }).click();
    await page.waitForFunction((sel) => document.querySelector(sel)?.getAttribute('data-state') === 'up', `#dispatcher-table tr[data-daemon="127.0.16.2:${dport}"]`);
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) { const c = await connect(CLUSTER, port); seen.add(c.greeting); c.socket.destroy(); }
    assert.deepEqual([...seen].sort(), ['A', 'B']);
  });

  it('P4: Kill resets a real connection and its row goes', async () => {
    const victim = held[0]!;
    const row = page.locator('#connections-table tbody tr', { hasText: `127.0.16.50:${victim.socket.localPort}` });
    await row.getByRole('button', { name: 'Kill' }).click();
    assert.equal(await victim.closed, 'reset');
    await page.waitForFunction(() => document.querySelectorAll('#connections-table tbody tr').length === 1);
    assert.deepEqual(pageErrors, []);
  });
});
