// End to end (issue 10 point 5: the dashboard at provider scale): the real server (supervisor + worker + REST API
// serving dist/web, SQLite store) with a generated configuration of 120 names, 60 pools and 121 zones, one of them
// with 250 records, driven by headless Chromium through playwright-core. The Overview shows 25 names at a time and
// explains only those; Previous / Next and the filter page through names, pools, zones and records; a record deleted
// from the last page of records leaves DNS (checked over UDP).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { freePort, query, ROOT, tempDir, type SpawnedWaymark } from '../harness.js';
import { CHROMIUM, NO_CHROMIUM, requireBrowserAndBuild, startServer, launchBrowser, closeSession } from './session.js';

const SHOTS = path.join(ROOT, 'test-results', 'dashboard-paging');
const NAMES = 120;
const POOLS = 60;
const ZONES = 120;
const RECORDS = 250;
const PER_PAGE = 25;

function config(dnsPort: number, apiPort: number, dataDir: string): Record<string, unknown> {
  return {
    server: { listen: [`127.0.0.1:${dnsPort}`], workers: 1 },
    store: { path: dataDir },
    api: { listen: `127.0.0.1:${apiPort}` },
    zones: [
      { origin: 'page.test', ns: ['ns1'], records: [{ name: 'ns1', type: 'A', value: '127.0.0.53' }, ...Array.from({ length: RECORDS - 1 }, (_, i) => ({ name: `r${i + 1}`, type: 'A', value: `10.9.${(i + 1) >> 8}.${(i + 1) & 255}` }))] },
      ...Array.from({ length: ZONES }, (_, i) => ({ origin: `z${i}.test`, ns: ['ns1'], records: [{ name: 'ns1', type: 'A', value: '127.0.0.53' }] })),
    ],
    names: Array.from({ length: NAMES }, (_, i) => ({ name: `n${i}.page.test`, ttl: 1, pools: [`p${i % POOLS}`] })),
    pools: [
      ...Array.from({ length: POOLS }, (_, i) => ({ name: `p${i}`, members: [{ address: `127.0.1.${i + 1}` }] })),
      { name: 'spare', members: [{ address: '127.0.2.1' }] },
    ],
  };
}

it('Chromium is installed for the dashboard paging test', () => {
  assert.ok(fs.existsSync(CHROMIUM), NO_CHROMIUM);
});

describe('dashboard paging through a generated configuration in headless Chromium', () => {
  let dir = '';
  let server: SpawnedWaymark | null = null;
  let browser: BrowserContext | null = null;
  let page: Page;
  let dnsPort = 0;
  let base = '';
  const token = `e2e-${crypto.randomBytes(16).toString('hex')}`;
  const pageErrors: string[] = [];
  /** The names GET /v1/explain was asked about, in order. */
  const explained: string[] = [];

  const shot = (label: string): Promise<Buffer> => page.screenshot({ path: path.join(SHOTS, `${label}.png`), fullPage: true });
  const cards = (): Promise<string[]> => page.locator('section.name-card[data-name]').evaluateAll((els) => els.map((e) => e.getAttribute('data-name') ?? ''));
  const cardsAre = (names: string[]): Promise<unknown> => page.waitForFunction((want) => {
    const got = Array.from(document.querySelectorAll('section.name-card[data-name]')).map((e) => e.getAttribute('data-name'));
    return JSON.stringify(got) === JSON.stringify(want);
  }, names);
  const range = (from: number, to: number, f: (i: number) => string): string[] => Array.from({ length: to - from }, (_, k) => f(from + k));
  const name = (i: number): string => `n${i}.page.test`;

  before(async () => {
    requireBrowserAndBuild();
    fs.mkdirSync(SHOTS, { recursive: true });
    dir = tempDir('waymark-e2e-paging-');
    dnsPort = await freePort();
    const apiPort = await freePort();
    base = `http://127.0.0.1:${apiPort}`;
    const file = path.join(dir, 'waymark.yaml');
    // JSON is YAML: the generated configuration is written as built.
    fs.writeFileSync(file, JSON.stringify(config(dnsPort, apiPort, path.join(dir, 'data'))));
    server = await startServer(file, base, token);
    ({ browser, page } = await launchBrowser(dir, { width: 1280, height: 900 }, pageErrors));
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.pathname === '/v1/explain') explained.push(u.searchParams.get('name') ?? '');
    });
  });

  after(async () => {
    await closeSession(browser, server);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('C1: the Overview shows 25 names of 120 and asks explain only about those, refresh after refresh', async () => {
    await page.goto(`${base}/`);
    await page.getByLabel('API token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await cardsAre(range(0, PER_PAGE, name));
    assert.equal(await page.locator('#names-position').innerText(), `1–${PER_PAGE} of ${NAMES}`);
    assert.equal(await page.locator('#names-prev').isDisabled(), true);
    // Three refreshes (every 2 s) later, every explained name is one on the page: never the other 95.
    explained.length = 0;
    for (let i = 0; explained.length < 3 * PER_PAGE; i++) {
      assert.ok(i < 200, `explain was asked ${explained.length} times`);
      await page.waitForTimeout(50);
    }
    const shown = new Set(range(0, PER_PAGE, name));
    assert.deepEqual(explained.filter((n) => !shown.has(n)), []);
    assert.equal(new Set(explained).size, PER_PAGE);
    await shot('overview-page-1');
  });

  it('C1: Next and Previous move through the names; the last page also lists the pools no name uses', async () => {
    await page.getByRole('button', { name: 'next page of names' }).click();
    await cardsAre(range(PER_PAGE, 2 * PER_PAGE, name));
    assert.equal(await page.locator('#names-position').innerText(), `26–50 of ${NAMES}`);
    // A refresh of the first page may have been under way at the click: count from the one after it.
    await page.waitForTimeout(2500);
    explained.length = 0;
    for (let i = 0; explained.length < 2 * PER_PAGE; i++) {
      assert.ok(i < 200, 'explain is asked about the new page');
      await page.waitForTimeout(50);
    }
    assert.deepEqual([...new Set(explained)].sort(), range(PER_PAGE, 2 * PER_PAGE, name).sort(), 'explained after moving: the second page');
    await cardsAre(range(PER_PAGE, 2 * PER_PAGE, name));
    await page.getByRole('button', { name: 'previous page of names' }).click();
    await cardsAre(range(0, PER_PAGE, name));
    for (let p = 1; p < Math.ceil(NAMES / PER_PAGE); p++) await page.getByRole('button', { name: 'next page of names' }).click();
    await page.locator('section[aria-label="pools without a name"] div.pool[data-pool="spare"]').waitFor();
    assert.deepEqual((await cards()).slice(0, NAMES % PER_PAGE), range(100, NAMES, name));
    assert.equal(await page.locator('#names-next').isDisabled(), true);
    await shot('overview-last-page');
  });

  it('C1: the names filter asks the API for the matching names only', async () => {
    await page.locator('#names-filter').fill('n11');
    await cardsAre([name(11), ...range(110, 120, name)]);
    assert.equal(await page.locator('#names-position').innerText(), '1–11 of 11');
    assert.equal(await page.locator('#names-next').isDisabled(), true);
    await page.locator('#names-filter').fill('nothing-like-this');
    await page.getByText('No name matches the filter.').waitFor();
    await page.locator('#names-filter').fill('');
    await cardsAre(range(0, PER_PAGE, name));
  });

  it('C1: the Pools tab shows 25 pools at a time, with a filter', async () => {
    await page.getByRole('tab', { name: 'Pools' }).click();
    const pools = (): Promise<string[]> => page.locator('section.pool-config').evaluateAll((els) => els.map((e) => e.getAttribute('data-pool') ?? ''));
    await page.locator('section.pool-config[data-pool="p0"]').waitFor();
    assert.deepEqual(await pools(), range(0, PER_PAGE, (i) => `p${i}`));
    await page.getByRole('button', { name: 'next page of pools' }).click();
    await page.locator('section.pool-config[data-pool="p25"]').waitFor();
    assert.deepEqual(await pools(), range(PER_PAGE, 2 * PER_PAGE, (i) => `p${i}`));
    await page.locator('#pools-filter').fill('p5');
    await page.waitForFunction(() => document.querySelectorAll('section.pool-config').length === 11);
    assert.deepEqual(await pools(), ['p5', ...range(50, 60, (i) => `p${i}`)]);
    await shot('pools-filtered');
  });

  it('C1: the Zones tab pages zones and a zone\'s records; a record deleted from the last page leaves DNS', async (t) => {
    await page.getByRole('tab', { name: 'Zones' }).click();
    await page.getByRole('button', { name: 'zone page.test' }).waitFor();
    assert.equal(await page.locator('#zone-list .rev-item').count(), 100);
    assert.equal(await page.locator('#zones-position').innerText(), `1–100 of ${ZONES + 1}`);
    assert.match(await page.getByRole('button', { name: 'zone page.test' }).innerText(), /250 inline records/);
    await page.locator('#records-table tbody tr').first().waitFor();
    assert.equal(await page.locator('#records-table tbody tr').count(), 100);
    assert.equal(await page.locator('#records-position').innerText(), `1–100 of ${RECORDS}`);
    await page.getByRole('button', { name: 'next page of records' }).click();
    await page.locator('#records-table tr[data-name="r100"]').waitFor();
    await page.getByRole('button', { name: 'next page of records' }).click();
    await page.locator('#records-table tr[data-name="r249"]').waitFor();
    assert.equal(await page.locator('#records-table tbody tr').count(), RECORDS - 200);
    assert.equal((await query(dnsPort, 'r230.page.test')).rcode, 'NOERROR');
    await page.getByRole('button', { name: 'delete record r230 A 10.9.0.230' }).click();
    await page.getByRole('button', { name: 'confirm delete r230 A' }).click();
    await page.locator('#records-table tr[data-name="r230"]').waitFor({ state: 'detached' });
    for (let i = 0; (await query(dnsPort, 'r230.page.test')).rcode !== 'NXDOMAIN'; i++) {
      assert.ok(i < 100, 'the deleted record leaves DNS');
      await page.waitForTimeout(50);
    }
    assert.equal((await query(dnsPort, 'r231.page.test')).rcode, 'NOERROR', 'the record after it stays');
    t.diagnostic('deleted r230 from the third page of records; DNS answers NXDOMAIN for it');
    await page.locator('#records-filter').fill('r23');
    await page.waitForFunction(() => document.querySelectorAll('#records-table tbody tr').length === 10);
    const owners = await page.locator('#records-table tbody tr').evaluateAll((els) => els.map((e) => e.getAttribute('data-name')));
    assert.deepEqual(owners, ['r23', ...range(231, 240, (i) => `r${i}`)]);
    await page.getByRole('button', { name: 'next page of zones' }).click();
    await page.getByRole('button', { name: 'zone z119.test' }).waitFor();
    assert.equal(await page.locator('#zone-list .rev-item').count(), ZONES + 1 - 100);
    await page.locator('#zones-filter').fill('z11');
    await page.waitForFunction(() => document.querySelectorAll('#zone-list .rev-item').length === 11);
    await shot('zones-paged');
  });

  it('the pagers fit a tablet-wide window and the pages raised no errors', async () => {
    await page.setViewportSize({ width: 768, height: 900 });
    for (const tab of ['Overview', 'Pools', 'Zones']) {
      await page.getByRole('tab', { name: tab }).click();
      const prefix = tab === 'Overview' ? 'names' : tab === 'Pools' ? 'pools' : 'zones';
      await page.locator(`#${prefix}-next`).waitFor();
      // The position ("1-25 of …") is written once the page's data arrives: measured before, it is empty.
      await page.waitForFunction((id) => (document.getElementById(id)?.textContent ?? '').trim() !== '', `${prefix}-position`);
      for (const id of [`${prefix}-filter`, `${prefix}-prev`, `${prefix}-next`, `${prefix}-position`]) {
        const box = await page.locator(`#${id}`).boundingBox();
        assert.ok(box && box.x >= 0 && box.x + box.width <= 768 && box.width > 0, `#${id} on ${tab} is inside the window: ${JSON.stringify(box)}`);
      }
    }
    await shot('tablet');
    assert.equal(await page.locator('.view-error:not([hidden])').count(), 0, `no view error: ${await page.locator('.view-error').allInnerTexts()}`);
    assert.deepEqual(pageErrors, []);
  });
});
