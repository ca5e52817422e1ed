// What every dashboard end-to-end test starts with: Debian's Chromium (never a downloaded browser), the real server
// with its API serving dist/web, and a fresh browser profile. Owns: the Chromium location and flags, waiting for the
// API, launching and closing. Test files own their configuration and their assertions.
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { ROOT, spawnWaymark, type SpawnedWaymark } from '../harness.js';

export const CHROMIUM = process.env.WAYMARK_CHROMIUM ?? '/usr/bin/chromium';
/** The flags a closed network needs (no background connections), as root (no sandbox), headless. */
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
export const NO_CHROMIUM = `${CHROMIUM} not found: the dashboard end-to-end test needs Debian's chromium package. `
  + '.ci/run installs it (apt-get install -y chromium); on a developer machine run that yourself.';

/** Fail early, with what to do, when Chromium or the built dashboard is missing. */
export function requireBrowserAndBuild(): void {
  if (!fs.existsSync(CHROMIUM)) throw new Error(NO_CHROMIUM);
  const index = path.join(ROOT, 'dist', 'web', 'index.html');
  if (!fs.existsSync(index)) throw new Error(`${index} is missing: run \`npm run build\` (it runs build:web) first`);
}

/** `waymark serve --config FILE` with `token` as the bootstrap admin token; resolves once its API answers. */
export async function startServer(configFile: string, apiBase: string, token: string): Promise<SpawnedWaymark> {
  const server = await spawnWaymark(['serve', '--config', configFile], { timeoutMs: 20_000, env: { WAYMARK_BOOTSTRAP_TOKEN: token } });
  // The API may start listening just after the DNS listeners report ready.
  for (let i = 0; ; i++) {
    if (await fetch(`${apiBase}/v1/status`).then((r) => r.status === 401, () => false)) return server;
    if (i > 100) throw new Error(`the API on ${apiBase} did not answer:\n${server.stdout.join('')}\n${server.stderr.join('')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A browser with a fresh, empty profile under `dir`; uncaught page errors are collected in `pageErrors`. */
export async function launchBrowser(dir: string, viewport: { width: number; height: number }, pageErrors: string[]): Promise<{ browser: BrowserContext; page: Page }> {
  const browser = await chromium.launchPersistentContext(path.join(dir, 'chromium-profile'), { executablePath: CHROMIUM, args: CHROMIUM_ARGS, viewport });
  const page = browser.pages()[0] ?? await browser.newPage();
  page.setDefaultTimeout(5000);
  page.on('pageerror', (e) => pageErrors.push(e.message));
  return { browser, page };
}

/** Close the browser and stop the server, reporting a server that did not exit cleanly. */
export async function closeSession(browser: BrowserContext | null, server: SpawnedWaymark | null): Promise<void> {
  await browser?.close().catch(() => {});
  const code = await server?.stop();
  if (code !== undefined && code !== 0 && code !== null) console.error(`waymark exited with ${code}:\n${server!.stderr.join('')}`);
}
