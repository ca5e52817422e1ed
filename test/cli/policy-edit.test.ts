// Issue 10, G1/H2/C1: edits of pools, members and names (changed, added, removed) through the API at 20,000 names
// reach every worker as edits (workers apply them to what they serve; no worker loads the configuration again),
// under load with no query lost; live state (an operator's admin state) carries over; bad edits are refused with
// their paths; a worker that starts afterwards gets the edited configuration.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { spawnWaymark, freePort, tempDir, query, addresses, udpExchange, buildQuery } from '../harness.js';

const NAMES = 20_000;
const member = (i: number, k: number): string => `10.${(i >> 8) & 255}.${i & 255}.${k}`;

/** Ask `name` until `streak` queries in a row give exactly `want` (every worker has the change), within 30 s. */
async function answeredEverywhere(port: number, name: string, want: string[], streak = 24): Promise<void> {
  const deadline = Date.now() + 30_000;
  let last: string[] = [];
  for (let run = 0; run < streak;) {
    assert.ok(Date.now() < deadline, `${name}: ${JSON.stringify(last)}, not ${JSON.stringify(want)} from every worker within 30 s`);
    last = addresses(await query(port, name)).sort();
    run = JSON.stringify(last) === JSON.stringify([...want].sort()) ? run + 1 : 0;
  }
}

test('G1/H2 (issue 10): pool, member and name edits (names added and removed too) at 20,000 names reach every worker as edits under load; admin states carry over; bad edits are refused by path', async () => {
  const dir = tempDir('waymark-edit-');
  const port = await freePort();
  const apiPort = await freePort();
  const boot = 'bootstrap-token-for-policy-edit-tests-1';
  const cfg = path.join(dir, 'waymark.yaml');
  let yaml = `server: { listen: ["127.0.0.1:${port}"], workers: 2, rrl: { enabled: false } }\nstore: { path: ./state }\napi: { listen: "127.0.0.1:${apiPort}" }\n`;
  yaml += 'zones:\n  - { origin: gslb.test, ns: [ns1], records: [{ name: ns1, type: A, value: 127.0.0.53 }] }\nnames:\n';
  for (let i = 0; i < NAMES; i++) yaml += `  - { name: n${i}.gslb.test, pools: [p${i}], answer: { count: 2 } }\n`;
  yaml += 'pools:\n';
  for (let i = 0; i < NAMES; i++) yaml += `  - { name: p${i}, members: [{ address: ${member(i, 1)} }, { address: ${member(i, 2)} }] }\n`;
  fs.writeFileSync(cfg, yaml);
  const w = await spawnWaymark(['serve', '--config', cfg], { env: { WAYMARK_BOOTSTRAP_TOKEN: boot }, timeoutMs: 120_000 });
  const api = async (method: string, url: string, body?: unknown): Promise<{ status: number; text: string }> => {
    const res = await fetch(`http://127.0.0.1:${apiPort}${url}`, {
      method, headers: { authorization: `Bearer ${boot}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, text: await res.text() };
  };
  const ok = async (method: string, url: string, body?: unknown): Promise<void> => {
    const r = await api(method, url, body);
    assert.ok(r.status === 200 || r.status === 201, `${method} ${url}: ${r.status} ${r.text}`);
  };
  const loads = (): number => w.stdout.join('').split('\n').filter((l) => l.includes('"worker swapped snapshot"')).length;
  let stop = false;
  let sent = 0;
  let unanswered = 0;
  const load = (async () => {
    while (!stop && sent < 30_000) {
      const i = sent++;
      void udpExchange(port, buildQuery(`n${i % NAMES}.gslb.test`, { id: i & 0xffff }), { timeoutMs: 1500 }).then((r) => { if (!r) unanswered++; });
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
  // The load runs before, during and after the edits (they take milliseconds: it would barely have started).
  const queriesSent = async (n: number): Promise<void> => { while (sent < n) await new Promise((r) => setTimeout(r, 20)); };
  try {
    await queriesSent(200);
    // The first change after the start compiles in full (the configuration in force is then known as the store holds it).
    await ok('PUT', '/v1/pools/p0', { name: 'p0', members: [{ address: '192.0.2.100' }] });
    await answeredEverywhere(port, 'n0.gslb.test', ['192.0.2.100']);
    // Both workers took that load (each says so once it has swapped).
    for (let i = 0; i < 100 && loads() < 2; i++) await new Promise((r) => setTimeout(r, 50));
    const loadsBefore = loads();
    assert.equal(loadsBefore, 2);
    await ok('PUT', `/v1/pools/p9/members/${member(9, 1)}/state`, { state: 'down' });
    await answeredEverywhere(port, 'n9.gslb.test', [member(9, 2)]);
    // Another pool replaced: the admin state stays where it was.
    await ok('PUT', '/v1/pools/p10', { name: 'p10', members: [{ address: '192.0.2.110' }] });
    await answeredEverywhere(port, 'n10.gslb.test', ['192.0.2.110']);
    await answeredEverywhere(port, 'n9.gslb.test', [member(9, 2)]);
    // The pool of the down member edited: the member keeps its state (by its key), the new one answers.
    await ok('POST', '/v1/pools/p9/members', { address: '192.0.2.109' });
    await ok('DELETE', `/v1/pools/p9/members/${member(9, 2)}`);
    await answeredEverywhere(port, 'n9.gslb.test', ['192.0.2.109']);
    // A name edited to use another pool.
    await ok('PUT', '/v1/names/n11.gslb.test', { name: 'n11.gslb.test', pools: ['p0'] });
    await answeredEverywhere(port, 'n11.gslb.test', ['192.0.2.100']);
    // A name added (laid over its zone as an overlay) and one removed, as edits too.
    await ok('POST', '/v1/names', { name: 'added.gslb.test', pools: ['p10'] });
    await answeredEverywhere(port, 'added.gslb.test', ['192.0.2.110']);
    await ok('DELETE', '/v1/names/n14.gslb.test');
    await answeredEverywhere(port, 'n14.gslb.test', []);
    assert.equal((await query(port, 'n14.gslb.test')).rcode, 'NXDOMAIN');
    // Refused, with the path of what is wrong; nothing changes.
    const outside = await api('POST', '/v1/names', { name: 'www.elsewhere.test', pools: ['p0'] });
    assert.equal(outside.status, 400, outside.text);
    assert.match(outside.text, /not inside any zone served here/);
    const used = await api('DELETE', '/v1/pools/p12');
    assert.equal(used.status, 400, used.text);
    assert.match(used.text, /names\[12\]\.pools\[0\]/);
    assert.match(used.text, /unknown pool \\"p12\\"/);
    const bad = await api('PUT', '/v1/pools/p13', { name: 'p13', members: [{ address: 'not-an-address' }] });
    assert.equal(bad.status, 400, bad.text);
    assert.match(bad.text, /members\[0\]\.address/);
    await answeredEverywhere(port, 'n12.gslb.test', [member(12, 1), member(12, 2)]);
    await answeredEverywhere(port, 'n13.gslb.test', [member(13, 1), member(13, 2)]);
    assert.equal(loads(), loadsBefore, 'every edit reached the workers as an edit, none as a whole load');
    // A record changed in the zone the edits laid names over: it is compiled whole again, its policy names placed
    // anew (not by the slots the edits numbered), and every name still answers what it did.
    await ok('POST', '/v1/zones/gslb.test/records', { name: 'www', type: 'TXT', value: '"after the edits"' });
    for (const [name, want] of [['added.gslb.test', ['192.0.2.110']], ['n9.gslb.test', ['192.0.2.109']], ['n11.gslb.test', ['192.0.2.100']], [`n${NAMES - 1}.gslb.test`, [member(NAMES - 1, 1), member(NAMES - 1, 2)]], ['n14.gslb.test', []]] as const) {
      await answeredEverywhere(port, name, [...want]);
    }
    await queriesSent(sent + 200);
  } finally {
    stop = true;
    await load;
    await new Promise((r) => setTimeout(r, 1600));
  }
  try {
    assert.ok(sent >= 400, `the load ran (${sent} queries)`);
    assert.equal(unanswered, 0, `${unanswered} of ${sent} queries went unanswered while names and pools changed`);
    // A worker started now is given the configuration as edited.
    const workerPids = (): number[] => execFileSync('pgrep', ['-P', String(w.proc.pid)]).toString().trim().split('\n').map(Number);
    const before = workerPids();
    process.kill(before[0]!, 'SIGKILL');
    let after: number[] = [];
    for (let i = 0; i < 100 && (after.length < 2 || after.includes(before[0]!)); i++) {
      await new Promise((r) => setTimeout(r, 100));
      after = workerPids();
    }
    assert.equal(after.length, 2);
    await answeredEverywhere(port, 'n9.gslb.test', ['192.0.2.109'], 40);
    await answeredEverywhere(port, 'n11.gslb.test', ['192.0.2.100'], 40);
    await answeredEverywhere(port, 'added.gslb.test', ['192.0.2.110'], 40);
    await answeredEverywhere(port, 'n14.gslb.test', [], 40);
  } finally {
    await w.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
