// README.md is what an operator follows: every command in its ```sh blocks must work as written. This test runs each
// of them (by `sh -c`, from a scratch copy of the checkout's examples/, on the fixed loopback ports the README names)
// and checks what the README says it does; the few that CI runs instead (npm ci, npm test, the interop suite, the
// fuzzer and the benchmarks) must appear in .ci/run. A README command that neither checks is a failure, and so is a
// check for a command the README no longer has, so README and behaviour cannot drift apart.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, tempDir } from './harness.js';

const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const TOKEN = 'readme-test-admin-token-0123456789';

/** The commands of README.md's sh blocks, comments stripped, in order. */
function readmeCommands(): string[] {
  const out: string[] = [];
  for (const m of README.matchAll(/```sh\n([\s\S]*?)```/g)) {
    for (const line of m[1]!.split('\n')) {
      const cmd = line.replace(/\s+#\s.*$/, '').trim();
      if (cmd !== '' && !cmd.startsWith('#')) out.push(cmd);
    }
  }
  return out;
}

/** Commands .ci/run runs (on a fresh machine), rather than this test. */
const CI_COMMANDS = ['npm test', 'npm run interop', 'npm run fuzz', 'npm run bench', 'npm run bench:failover', 'npm run bench:scale', 'npm run bench:store', 'npm run bench:cluster', 'npm run bench:update', 'npm run bench:dispatcher', 'npm run bench:leases'];

let dir = '';
const env: Record<string, string> = { ...(process.env as Record<string, string>) };
const running: ChildProcess[] = [];
const checked = new Set<string>();

function sh(cmd: string): { code: number | null; stdout: string; stderr: string } {
  checked.add(cmd);
  const r = spawnSync('sh', ['-c', cmd], { cwd: dir, env, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Run `cmd`; assert exit 0 and return its output. */
function ok(cmd: string): string {
  const r = sh(cmd);
  assert.equal(r.code, 0, `${cmd}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Run `cmd` until its output passes `check` (what "within about a second" means), for at most `ms`. */
async function eventually(cmd: string, check: (out: string) => boolean, ms = 8000): Promise<string> {
  const start = Date.now();
  for (;;) {
    const out = ok(cmd);
    if (check(out)) return out;
    if (Date.now() - start > ms) assert.fail(`${cmd}: after ${ms} ms still ${JSON.stringify(out)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Start a long-running command; resolves when its output matches `ready`. */
function start(cmd: string, ready: RegExp, args?: string[]): Promise<ChildProcess> {
  checked.add(cmd);
  const p = spawn(args ? args[0]! : 'sh', args ? args.slice(1) : ['-c', `exec ${cmd}`], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.push(p);
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${cmd}: not ready in 20 s:\n${out}`)), 20_000);
    const onData = (d: Buffer): void => {
      out += d.toString();
      if (ready.test(out)) { clearTimeout(timer); resolve(p); }
    };
    p.stdout!.on('data', onData);
    p.stderr!.on('data', onData);
    p.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${cmd}: exited ${code}:\n${out}`)); });
  });
}

function stop(p: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) return resolve(p.exitCode);
    p.removeAllListeners('exit');
    const kill = setTimeout(() => p.kill('SIGKILL'), 8000);
    p.once('exit', (code) => { clearTimeout(kill); resolve(code); });
    p.kill('SIGTERM');
  });
}

const lines = (s: string): string[] => s.trim().split('\n').filter((l) => l !== '');

before(() => {
  for (const tool of ['dig', 'curl']) {
    assert.equal(spawnSync('sh', ['-c', `command -v ${tool}`]).status, 0, `the README's examples need ${tool} (README: Requirements)`);
  }
  // A scratch checkout: the examples copied (their stores start empty), bin/ and dist/ the real ones.
  dir = tempDir('waymark-readme-');
  fs.cpSync(path.join(ROOT, 'examples'), path.join(dir, 'examples'), { recursive: true, filter: (src) => !src.includes(`${path.sep}data`) });
  fs.symlinkSync(path.join(ROOT, 'bin'), path.join(dir, 'bin'));
  fs.symlinkSync(path.join(ROOT, 'dist'), path.join(dir, 'dist'));
  delete env.WAYMARK_TOKEN;
  delete env.WAYMARK_API;
  env.WAYMARK_BOOTSTRAP_TOKEN = TOKEN;
});

after(async () => {
  for (const p of running) await stop(p);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('C1: README: bin/waymark runs the CLI and check validates the demo', () => {
  assert.match(ok('bin/waymark --help'), /serve \[options\]/);
  assert.match(ok('bin/waymark check --config examples/demo.yaml'), /^ok: 2 zone\(s\)/);
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
  assert.equal(pkg.bin.waymark, 'bin/waymark', '`npm link` puts the same script on PATH');
});

test('C1/H2: README: the quick start, failover walk-through and operator override work as written', async () => {
  // `npm ci && npm start`: CI runs npm ci; npm start is the build, then examples/start-demo.mjs.
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  assert.equal(pkg.scripts.prestart, 'npm run build');
  assert.equal(pkg.scripts.start, 'node examples/start-demo.mjs');
  await start('npm ci && npm start', /"msg":"ready"/, [process.execPath, 'examples/start-demo.mjs']);

  assert.deepEqual(lines(ok('dig @127.0.0.1 -p 5300 web.example.test A +short')).sort(), ['127.0.0.81', '127.0.0.82', '127.0.0.83', '127.0.0.84']);
  assert.deepEqual(lines(ok('dig @127.0.0.1 -p 5300 www.demo.test AAAA +tcp +short')), ['::1']);

  const app = 'dig @127.0.0.1 -p 5300 app.demo.test A +short';
  await eventually(app, (o) => o.trim() === '127.0.0.1');
  assert.match(ok('curl -s http://127.0.0.1:18001/stop'), /site-a: stopped/);
  await eventually(app, (o) => o.trim() === '127.0.0.2');
  const why = ok('bin/waymark explain --config examples/demo.yaml app.demo.test --resolver 10.0.0.1');
  assert.match(why, /state: live: worker pid \d+/);
  assert.match(why, /pool site-a \[down/);
  assert.match(why, /answer: NOERROR: 127\.0\.0\.2/);
  ok('curl -s http://127.0.0.1:18002/stop');
  await eventually(app, (o) => o.trim() === '127.0.0.99');
  assert.match(ok('curl -s http://127.0.0.1:18001/start'), /site-a: started/);
  assert.match(ok('curl -s http://127.0.0.1:18002/start'), /site-b: started/);
  await eventually(app, (o) => o.trim() === '127.0.0.1');
  assert.match(ok('bin/waymark member down site-a 127.0.0.1:18001 --config examples/demo.yaml'), /site-a\/127\.0\.0\.1:18001: down/);
  await eventually(app, (o) => o.trim() === '127.0.0.2');
  ok('bin/waymark member auto site-a 127.0.0.1:18001 --config examples/demo.yaml');
  await eventually(app, (o) => o.trim() === '127.0.0.1');
  assert.match(ok('bin/waymark reload --config examples/demo.yaml'), /^reloaded: generation \d+; the file is unchanged/);
});

test('C1/C3/C4: README: the control-plane commands against the running demo', async () => {
  const exportLine = readmeCommands().find((c) => c.startsWith('export WAYMARK_TOKEN='));
  assert.ok(exportLine, 'the README says how to set the token');
  checked.add(exportLine);
  env.WAYMARK_TOKEN = TOKEN; // what `npm start` printed in this run

  assert.match(ok('bin/waymark status'), /revision/i);
  assert.match(ok('bin/waymark pools'), /site-a/);
  ok('bin/waymark members site-b drain 127.0.0.2');
  ok('bin/waymark members site-b auto 127.0.0.2');
  assert.match(ok('bin/waymark token create --config examples/demo.yaml --role operator --name oncall'), /^wm_\S+\n$/);
  assert.match(ok('bin/waymark revisions'), /file/);
  const audit = ok('bin/waymark audit');
  assert.match(audit, /member\.state/);
  assert.match(audit, /cli \S+@/, 'the CLI member change is audited with where it came from');
  assert.match(ok('bin/waymark api-explain app.demo.test --resolver 10.0.0.1'), /NOERROR/);
  ok('bin/waymark export --config examples/demo.yaml > demo-export.yaml');
  assert.match(fs.readFileSync(path.join(dir, 'demo-export.yaml'), 'utf8'), /origin: demo\.test/);
  assert.match(ok('bin/waymark apply demo-export.yaml --config examples/demo.yaml'), /^unchanged: revision \d+/);
  const viaCurl = JSON.parse(ok('curl -s -H "Authorization: Bearer $WAYMARK_TOKEN" "http://127.0.0.1:8053/v1/explain?name=app.demo.test&resolver=10.0.0.1"')) as { rcode: string; state: { live: boolean } };
  assert.equal(viaCurl.rcode, 'NOERROR');
  assert.equal(viaCurl.state.live, true);
});

test('H3: README: a prober joins the demo and SIGTERM drains it', async () => {
  const p = await start('bin/waymark prober --join http://127.0.0.1:8054 --token demo-prober-token-change-me --name p1', /"event":"joined"/);
  const res = await fetch('http://127.0.0.1:8053/v1/probers', { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.match(await res.text(), /"p1"/);
  assert.equal(await stop(p), 0);
});

test('G1/G7: README: the GSLB example runs beside the demo', async () => {
  const gslb = await start('bin/waymark serve --config examples/gslb.yaml', /"msg":"ready"/);
  const a = lines(ok('dig @127.0.0.1 -p 5301 www.example.test A +short'));
  assert.equal(a.length, 1);
  assert.match(a[0]!, /^127\.0\.[12]\.\d$/);
  assert.match(ok('bin/waymark explain --config examples/gslb.yaml www.example.test --resolver 10.1.2.3'), /region:europe|pool:eu|chose pool eu/);
  const e = JSON.parse(ok('bin/waymark explain --config examples/gslb.yaml www.example.test --resolver 192.0.2.53 --subnet 10.1.7.0/24 --json')) as { scope: number; state: { live: boolean } };
  assert.equal(e.state.live, true);
  assert.equal(e.scope, 24, 'the client subnet decided the answer');
  // The demo still serves its own zones (the two examples have separate stores).
  assert.deepEqual(lines(ok('dig @127.0.0.1 -p 5300 www.demo.test AAAA +tcp +short')), ['::1']);
  await stop(gslb);
});

test('D3/D5: README: the dynamic DNS example: nsupdate changes the zone and registers a member, AXFR and zone import copy it', async () => {
  const dyn = await start('bin/waymark serve --config examples/dyn.yaml', /"msg":"ready"/);
  const cmds = readmeCommands();
  const nsupdates = cmds.filter((c) => c.includes('| nsupdate -y'));
  assert.equal(nsupdates.length, 2);
  ok(nsupdates[0]!);
  assert.deepEqual(lines(ok('dig @127.0.0.1 -p 5302 host1.dyn.example.test A +short')), ['198.51.100.7']);
  ok(nsupdates[1]!);
  assert.deepEqual(lines(ok('dig @127.0.0.1 -p 5302 app.dyn.example.test A +short')), ['127.0.0.7']);
  const axfr = ok(cmds.find((c) => c.endsWith('dyn.example.test AXFR'))!);
  assert.match(axfr, /host1\.dyn\.example\.test\.\s+60\s+IN\s+A\s+198\.51\.100\.7/);
  assert.match(axfr, /app\.dyn\.example\.test\.\s+\d+\s+IN\s+A\s+127\.0\.0\.7/);
  const imported = ok('bin/waymark zone import dyn.example.test --axfr 127.0.0.1:5302 --key xfr --config examples/dyn.yaml');
  assert.match(imported, /host1\.dyn\.example\.test\.?\s+60\s+IN\s+A\s+198\.51\.100\.7/);
  await stop(dyn);
});

test('P1-P6: README: the dispatcher example: spawned daemons behind one port, DNS through it, the CLI lists, drains and undrains', async () => {
  const disp = await start('bin/waymark serve --config examples/dispatcher.yaml', /"msg":"ready"/);
  const cmds = readmeCommands();
  const body = await eventually(cmds.find((c) => c.startsWith('curl -s http://127.0.0.1:8080/'))!, (out) => out.includes('hello from a daemon'));
  assert.match(body, /hello from a daemon behind the dispatcher/);
  assert.deepEqual(lines(ok(cmds.find((c) => c.includes('-p 5310 www.dispatch.test'))!)), ['192.0.2.80']);
  const token = ok(cmds.find((c) => c.includes('token create --config examples/dispatcher.yaml'))!).trim();
  const exportLine = cmds.find((c) => c.startsWith('export WAYMARK_API=http://127.0.0.1:8073'))!;
  checked.add(exportLine);
  env.WAYMARK_API = 'http://127.0.0.1:8073';
  env.WAYMARK_TOKEN = token;
  try {
    const status = await eventually(cmds.find((c) => c === 'bin/waymark dispatcher status')!, (out) => (out.match(/ up /g) ?? []).length === 3);
    assert.match(status, /127\.0\.0\.1:8080\s+tcp\s+least-connections\s+127\.0\.0\.2:9101\s+1\s+up/);
    assert.match(status, /127\.0\.0\.1:5310\s+udp\s+round-robin\s+127\.0\.0\.1:5303/);
    assert.match(ok(cmds.find((c) => c.startsWith('bin/waymark dispatcher connections'))!), /of \d+ shown/);
    assert.match(ok(cmds.find((c) => c.startsWith('bin/waymark dispatcher drain'))!), /auto -> drain \(open connections reset after 30 s\)/);
    assert.match(ok('bin/waymark dispatcher status'), /127\.0\.0\.2:9101\s+1\s+drain/);
    for (let i = 0; i < 3; i++) ok('curl -s http://127.0.0.1:8080/hello.txt');
    // Not a README command: the JSON form, read by the test only.
    const json = (): string => { const out = ok('bin/waymark dispatcher status --json'); checked.delete('bin/waymark dispatcher status --json'); return out; };
    const conns = JSON.parse(json()) as { groups: Array<{ daemons: Array<{ daemon: string; selections: number }> }> };
    const before = conns.groups[0]!.daemons.find((d) => d.daemon === '127.0.0.2:9101')!.selections;
    for (let i = 0; i < 3; i++) ok('curl -s http://127.0.0.1:8080/hello.txt');
    const after = (JSON.parse(json()) as typeof conns).groups[0]!.daemons.find((d) => d.daemon === '127.0.0.2:9101')!.selections;
    assert.equal(after, before, 'a drained daemon is chosen for no new connection');
    assert.match(ok(cmds.find((c) => c.startsWith('bin/waymark dispatcher undrain'))!), /drain -> auto/);
  } finally {
    delete env.WAYMARK_API;
    delete env.WAYMARK_TOKEN;
  }
  assert.equal(await stop(disp), 0);
});

test('D1/D2: README: serving with --workers, and master files with no YAML', async () => {
  for (const p of running.splice(0)) await stop(p); // the demo holds 5300
  const two = await start('bin/waymark serve --config examples/demo.yaml --workers 2', /"workers":2,.*"msg":"ready"/);
  assert.deepEqual(lines(ok('dig @127.0.0.1 -p 5300 www.demo.test AAAA +tcp +short')), ['::1']);
  await stop(two);
  const zone = await start('bin/waymark serve --zone examples/zones/example.test.zone --listen 127.0.0.1:5300 --listen [::1]:5300', /"msg":"ready"/);
  assert.equal(lines(ok('dig @127.0.0.1 -p 5300 web.example.test A +short')).length, 4);
  assert.equal(lines(spawnSync('dig', ['@::1', '-p', '5300', 'web.example.test', 'A', '+short'], { encoding: 'utf8' }).stdout).length, 4, 'on [::1] too');
  await stop(zone);
});

test('C2/G6: README: the cluster demo: two nodes on an embedded PostgreSQL give a resolver the same member', async () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  assert.equal(pkg.scripts['demo:cluster'], 'npm run build && node examples/cluster-demo.mjs');
  const demo = await start('npm run demo:cluster', /cluster demo ready/, [process.execPath, 'examples/cluster-demo.mjs']);
  const [first, second, onB] = readmeCommands().filter((c) => c.includes('www.cluster.test'));
  assert.deepEqual(lines(ok(first!)), ['127.0.0.81']);
  assert.deepEqual(lines(ok(second!)), ['127.0.0.82']);
  // The record reaches node B within half a second or so; asked before, B would choose (and record) by itself.
  await new Promise((r) => setTimeout(r, 1500));
  assert.deepEqual(lines(ok(onB!)), ['127.0.0.82'], 'node B gives the resolver the member node A gave it');
  const nodesCmd = readmeCommands().find((c) => c.includes('bin/waymark nodes'))!;
  const withToken = nodesCmd.replace('the-token-it-printed', TOKEN);
  const nodes = ok(withToken);
  checked.delete(withToken);
  checked.add(nodesCmd);
  assert.match(nodes, /^dns-a +up +leader /m);
  assert.match(nodes, /^dns-b \* +up +follower /m);
  assert.equal(await stop(demo), 0);
});

test('C1: README: every command is run by this test or by CI, and the README names nothing outside the checkout', () => {
  const ci = fs.readFileSync(path.join(ROOT, '.ci', 'run'), 'utf8');
  for (const c of CI_COMMANDS) assert.match(ci, new RegExp(`(^|\\s)${c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\s|$)`, 'm'), `.ci/run runs ${c}`);
  const unchecked = [...new Set(readmeCommands())].filter((c) => !checked.has(c) && !CI_COMMANDS.includes(c));
  assert.deepEqual(unchecked, [], 'README commands that no test runs');
  const stale = [...checked].filter((c) => !readmeCommands().includes(c));
  assert.deepEqual(stale, [], 'checked commands the README no longer has');
  assert.doesNotMatch(README, /\.\.\/shared|SPEC\.md|\bseed \d{3}\b|FIG\. \d/, 'no references outside the repository');
  assert.deepEqual(readmeCommands().filter((c) => /\bnpx\b/.test(c)), [], 'npx outside the checkout could run a registry package of that name');
});
