// Revisions and the stores they live in, through the real CLI and a real SQLite store: an API edit survives a reload
// and a restart of an unchanged file; a store belongs to one configuration file (a second one is refused, naming
// both; a server never adopts another file's revision); every change is audited with who, when, what and from where.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnWaymark, runWaymark, freePort, tempDir, query, addresses, type SpawnedWaymark } from '../harness.js';
import { openStore } from '../../src/state/store.js';

const BOOT = 'bootstrap-token-for-revision-tests-01';
const ENV = { WAYMARK_BOOTSTRAP_TOKEN: BOOT };

function config(dnsPort: number, apiPort: number, origin: string, store = './data'): string {
  return `
server: { listen: ["127.0.0.1:${dnsPort}"], workers: 1, rrl: { enabled: false } }
api: { listen: "127.0.0.1:${apiPort}" }
store: { path: ${store} }
zones:
  - origin: ${origin}
    records: [{ name: www, type: A, value: 192.0.2.1 }]
names:
  - { name: gslb.${origin}, pools: [p], ttl: 1 }
pools:
  - { name: p, members: [{ address: 192.0.2.10 }, { address: 192.0.2.11 }] }
`;
}

async function api(port: number, method: string, p: string, body?: unknown): Promise<{ status: number; body: any }> { // any: test reads JSON bodies loosely
  const res = await fetch(`http://127.0.0.1:${port}${p}`, {
    method, headers: { authorization: `Bearer ${BOOT}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

interface Setup { dir: string; files: string[]; ports: Array<{ dns: number; api: number }> }

/**
 * A scratch directory with one configuration file per zone origin (each on its own ports, all with the store
 * ./data), handed to `fn`; removed afterwards, with every server `fn` started stopped.
 */
async function withConfigs(origins: string[], fn: (s: Setup, started: SpawnedWaymark[]) => Promise<void>): Promise<void> {
  const dir = tempDir('waymark-rev-');
  const started: SpawnedWaymark[] = [];
  const setup: Setup = { dir, files: [], ports: [] };
  for (const origin of origins) {
    const p = { dns: await freePort(), api: await freePort() };
    const file = path.join(dir, `${origin.split('.')[0]}.yaml`);
    fs.writeFileSync(file, config(p.dns, p.api, origin));
    setup.files.push(file);
    setup.ports.push(p);
  }
  try {
    await fn(setup, started);
  } finally {
    for (const w of started) await w.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** `waymark serve --config FILE …`, recorded in `started` so withConfigs stops it. */
async function serve(started: SpawnedWaymark[], args: string[]): Promise<SpawnedWaymark> {
  const w = await spawnWaymark(['serve', '--config', ...args], { env: ENV });
  started.push(w);
  return w;
}

test('C2: an API edit survives `waymark reload` and a restart of an unchanged file; editing the file still applies it', () => withConfigs(['a.test'], async ({ files: [cfg], ports: [p] }, started) => {
  const w = await serve(started, [cfg!]);
  const add = await api(p!.api, 'POST', '/v1/zones/a.test/records', { name: 'api', type: 'A', value: '192.0.2.77' });
  assert.equal(add.status, 201, JSON.stringify(add.body));
  // The reply comes once the worker reported the new snapshot: the next query sees it, without waiting.
  assert.deepEqual(addresses(await query(p!.dns, 'api.a.test')), ['192.0.2.77']);
  const reload = await runWaymark(['reload', '--config', cfg!]);
  assert.equal(reload.code, 0, reload.stderr);
  assert.match(reload.stdout, /unchanged since it was last applied/);
  assert.deepEqual(addresses(await query(p!.dns, 'api.a.test')), ['192.0.2.77'], 'the API record is still answered after reload');
  await w.stop();
  await serve(started, [cfg!]);
  assert.deepEqual(addresses(await query(p!.dns, 'api.a.test')), ['192.0.2.77'], 'and after a restart');
  const revs = await api(p!.api, 'GET', '/v1/revisions');
  assert.equal(revs.body.revisions.length, 2, 'one from the file, one from the API: nothing new from an unchanged file');

  fs.writeFileSync(cfg!, fs.readFileSync(cfg!, 'utf8').replace('192.0.2.1 }', '192.0.2.2 }'));
  assert.equal((await runWaymark(['reload', '--config', cfg!])).code, 0);
  assert.deepEqual(addresses(await query(p!.dns, 'www.a.test')), ['192.0.2.2'], 'an edited file wins');
}));

test('C2: a second configuration file is refused a store that belongs to another, naming both; the first keeps answering', () => withConfigs(['a.test', 'b.test'], async ({ files: [a, b], ports: [pa] }, started) => {
  await serve(started, [a!]);
  const second = await runWaymark(['serve', '--config', b!], { env: ENV });
  assert.equal(second.code, 1);
  assert.match(second.stderr, new RegExp(`belongs to ${a!.replace(/[.]/g, '\\.')}.*${b!.replace(/[.]/g, '\\.')} cannot share it`));
  assert.match(second.stderr, /store of its own/);
  const explain = await runWaymark(['explain', '--config', b!, 'gslb.b.test', '-r', '10.0.0.1']);
  assert.equal(explain.code, 1, "the running server of the store is not b's");
  assert.match(explain.stderr, /this server serves .*a\.yaml, not .*b\.yaml/);
  const offline = await runWaymark(['explain', '--config', b!, 'gslb.b.test', '-r', '10.0.0.1', '--offline']);
  assert.match(offline.stderr, /cannot share it/);
  for (const cmd of [['member', 'down', 'p', '192.0.2.10', '--config', b!], ['token', 'create', '--config', b!, '--role', 'read']]) {
    const r = await runWaymark(cmd);
    assert.equal(r.code, 1, `${cmd[0]} refuses too`);
    assert.match(r.stderr, /cannot share it/);
  }
  await new Promise((r) => setTimeout(r, 400)); // more than one poll of the store
  assert.deepEqual(addresses(await query(pa!.dns, 'www.a.test')), ['192.0.2.1'], 'a serves its own zone');
  assert.equal((await query(pa!.dns, 'www.b.test')).rcode, 'REFUSED', "and never b's");
}));

test('C2: a running server refuses a revision made from another configuration file, loudly, and keeps serving', () => withConfigs(['a.test'], async ({ dir, files: [a], ports: [p] }, started) => {
  const w = await serve(started, [a!]);
  // What an older Waymark (or a store copied by hand) could leave: a file revision from another configuration.
  const store = openStore(path.join(dir, 'data'));
  const cur = store.currentRevision()!;
  const other = path.join(dir, 'intruder.yaml');
  store.addRevision({ at: Date.now(), author: 'file', source: 'file', comment: 'x', hash: 'h', file: other, config: { zones: [{ origin: 'b.test', text: 'www 60 IN A 192.0.2.9\n' }] } },
    { at: Date.now(), actor: 'file', origin: `file ${other}`, action: 'config.file', target: 'config', before: null });
  store.close();
  const out = (): string => w.stdout.join('');
  for (let i = 0; i < 40 && !out().includes('refused'); i++) await new Promise((r) => setTimeout(r, 50));
  assert.match(out(), new RegExp(`was made from ${other.replace(/[.]/g, '\\.')}, but this server serves ${a!.replace(/[.]/g, '\\.')}: refused; still serving revision ${cur.id}`));
  assert.deepEqual(addresses(await query(p!.dns, 'www.a.test')), ['192.0.2.1']);
}));

test('C2: --adopt-store lets a configuration that replaces another take its store over', () => withConfigs(['a.test', 'b.test'], async ({ files: [a, b], ports: [pa, pb] }, started) => {
  await (await serve(started, [a!])).stop();
  await serve(started, [b!, '--adopt-store']);
  assert.deepEqual(addresses(await query(pb!.dns, 'www.b.test')), ['192.0.2.1']);
  assert.equal((await query(pb!.dns, 'www.a.test')).rcode, 'REFUSED', "a's zones are not b's");
  assert.notEqual(pa!.dns, pb!.dns);
  const refused = await runWaymark(['explain', '--config', a!, 'gslb.a.test', '-r', '10.0.0.1', '--offline']);
  assert.match(refused.stderr, /belongs to .*b\.yaml/, "the store is b's now");
}));

test('C3: every change is audited with who, when, what and from where (CLI member, file revisions, API)', () => withConfigs(['a.test'], async ({ files: [cfg], ports: [p] }, started) => {
  await serve(started, [cfg!]);
  const before = Date.now();
  const m = await runWaymark(['member', 'down', 'p', '192.0.2.10', '--config', cfg!], { env: { USER: 'alice' } });
  assert.equal(m.code, 0, m.stderr);
  await api(p!.api, 'POST', '/v1/zones/a.test/records', { name: 'x', type: 'A', value: '192.0.2.5' });
  const entries = (await api(p!.api, 'GET', '/v1/audit')).body.entries as Array<{ at: number; actor: string; origin: string; action: string; target: string; before: unknown; after: unknown }>;
  const member = entries.find((e) => e.action === 'member.state');
  assert.ok(member, JSON.stringify(entries));
  assert.equal(member.actor, 'cli:alice');
  assert.equal(member.origin, `cli alice@${os.hostname()}`);
  assert.equal(member.target, 'pools/p/members/192.0.2.10');
  assert.deepEqual([member.before, member.after], [{ state: 'auto' }, { state: 'down' }]);
  assert.ok(member.at >= before);
  assert.equal(entries.find((e) => e.action === 'config.file')?.origin, `file ${cfg}`);
  assert.equal(entries.find((e) => e.action === 'zone.record.create')?.origin, 'api 127.0.0.1');
  const revs = (await api(p!.api, 'GET', '/v1/revisions')).body.revisions as Array<{ source: string; file: string | null }>;
  assert.equal(revs.find((r) => r.source === 'file')?.file, cfg, 'a file revision records which file');
}));
