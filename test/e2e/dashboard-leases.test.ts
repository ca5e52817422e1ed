// End to end (issue 14, SPEC L1, C1): the dashboard's Leases page in headless Chromium against a real server: a real
// DNS query leases an address, and the page shows the pool's counts, its chart and the lease row.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { addresses, freePort, query, ROOT, tempDir, type SpawnedWaymark } from '../harness.js';
import { CHROMIUM, NO_CHROMIUM, requireBrowserAndBuild, startServer, launchBrowser, closeSession } from './session.js';

const SHOTS = path.join(ROOT, 'test-results', 'dashboard');

it('Chromium is installed for the dashboard leases test', () => {
  assert.ok(fs.existsSync(CHROMIUM), NO_CHROMIUM);
});

describe('the Leases page in headless Chromium', () => {
  let dir = '';
  let server: SpawnedWaymark | null = null;
  let browser: BrowserContext | null = null;
  let page: Page;
  let dns = 0;
  const token = `e2e-${crypto.randomBytes(16).toString('hex')}`;
  const pageErrors: string[] = [];

  before(async () => {
    requireBrowserAndBuild();
    fs.mkdirSync(SHOTS, { recursive: true });
    dir = tempDir('waymark-e2e-leases-');
    dns = await freePort();
    const api = await freePort();
    const file = path.join(dir, 'waymark.yaml');
    fs.writeFileSync(file, JSON.stringify({
      server: { listen: [`127.0.0.1:${dns}`], workers: 1 }, store: { path: path.join(dir, 'data') }, api: { listen: `127.0.0.1:${api}` },
      zones: [{ origin: 'l.test', ns: ['ns1'], records: [{ name: 'ns1', type: 'A', value: '127.0.0.53' }] }],
      addressPools: [{ name: 'public', addresses: ['127.0.6.0/30'] }],
      leasedServers: [{ name: 's1', address: '127.0.12.11' }],
      leasedNames: [{ name: 'www.l.test', pool: 'public', servers: ['s1'] }],
    }));
    const base = `http://127.0.0.1:${api}`;
    server = await startServer(file, base, token);
    ({ browser, page } = await launchBrowser(dir, { width: 1280, height: 900 }, pageErrors));
    await page.goto(`${base}/`);
    await page.getByLabel('API token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
  });

  after(async () => {
    await closeSession(browser, server);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('L1: a DNS query leases an address, and the page shows the lease and the pool\'s counts', async () => {
    assert.deepEqual(addresses(await query(dns, 'www.l.test')), ['127.0.6.0']);
    await page.getByRole('tab', { name: 'Leases' }).click();
    const row = page.locator('#leases-table tr[data-address="127.0.6.0"]');
    await row.waitFor();
    assert.match(await row.innerText(), /public\s+www\.l\.test\s+s1\s+127\.0\.12\.11/);
    await page.waitForFunction(() => document.getElementById('pool-public-counts')?.textContent === '3 free, 1 leased, 0 cooling');
    assert.equal(await page.locator('#pool-public-chart').count(), 1, 'the pool\'s chart is drawn');
    await page.screenshot({ path: path.join(SHOTS, 'leases.png'), fullPage: true });
    assert.deepEqual(pageErrors, []);
  });
});
