// `waymark export` at provider scale (C2): the YAML is written line by line, small values by the yaml package as
// before and large arrays and texts in pieces, so the output is never one string; from the store it is read a part at
// a time while it is written. Through the real CLI: a 100,000-record revision applied to a real SQLite store is
// exported, and the output parses back to exactly the configuration in force. Memory is printed, not asserted.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import YAML from 'yaml';
import { freePort, runWaymark, spawnWaymark, tempDir, CLI } from '../harness.js';
import { YamlLines, YAML_OPTIONS, writeLines } from '../../src/config/render.js';
import { encodeRoot } from '../../src/state/content.js';
import { splitConfig } from '../../src/config/declarative.js';

const dir = tempDir('waymark-export-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function memory(): { put: (h: string, j: string) => void; load: (h: string) => string; loads: number } {
  const blobs = new Map<string, string>();
  const m = { loads: 0, put: (h: string, j: string) => { blobs.set(h, j); }, load: (h: string) => { m.loads++; return blobs.get(h)!; } };
  return m;
}

/** The document YamlLines writes for a configuration held in memory, and for the same one encoded in a store. */
function both(d: Record<string, unknown>): { plain: string; stored: string } {
  const m = memory();
  const root = JSON.parse(encodeRoot(d, m.put)) as Record<string, unknown>;
  return {
    plain: `${[...new YamlLines(null).document(Object.entries(d))].join('\n')}\n`,
    stored: `${[...new YamlLines(m.load).document(Object.entries(root))].join('\n')}\n`,
  };
}

const zoneText = (n: number, end = '\n'): string => `${Array.from({ length: n }, (_, i) => `h${i} 300 IN A 10.0.${(i >> 8) & 255}.${i & 255}`).join('\n')}${end}`;

test('C2: a small configuration is written exactly as the yaml package writes it whole', () => {
  const configs: Array<Record<string, unknown>> = [
    {},
    { server: { listen: ['127.0.0.1:53'] }, zones: [{ origin: 'a.test', ttl: 60, ns: ['ns1'], records: [{ name: 'ns1', type: 'A', value: '127.0.0.53' }] }] },
    { zones: [{ origin: 'b.test', text: '$ORIGIN b.test.\nwww 60 IN A 192.0.2.1\n' }, { origin: 'c.test', text: ' leading\nx\n\n' }], names: [], pools: [{}] },
    { names: [{ name: 'yes', pools: ['null', '1.0', 'a: b', '#x', "it's"], fallback: { address: '192.0.2.9' } }], topology: { regions: [], rules: [[['nested']]] } },
    { $weird: { $ref: 'x' }, 'key with: colon': [1, 2.5, -3, true, null, 'ü'] },
  ];
  for (const d of configs) {
    const whole = Object.keys(d).length ? YAML.stringify(d, YAML_OPTIONS) : '{}\n';
    const { plain, stored } = both(d);
    assert.equal(plain, whole);
    assert.equal(stored, whole, 'from the store too');
  }
});

test('C2: large arrays and long master-file texts are written in pieces that parse back to the same configuration', () => {
  const records = Array.from({ length: 5000 }, (_, i) => ({ name: `h${i}`, type: i % 2 ? 'A' : 'TXT', value: i % 2 ? `10.0.${(i >> 8) & 255}.${i & 255}` : `text "${i}": #not a comment` }));
  const texts = [zoneText(20_000), zoneText(20_000, ''), zoneText(20_000, '\n\n\n'), ` ${zoneText(9000)}`, `\n${zoneText(9000)}`, `${zoneText(9000)}\ttab\n`, `${zoneText(9000)}\u0001control\n`];
  const d: Record<string, unknown> = {
    server: { listen: ['127.0.0.1:53'] },
    zones: [{ origin: 'big.test', ttl: 300, records }, ...texts.map((text, i) => ({ origin: `t${i}.test`, text }))],
    names: Array.from({ length: 700 }, (_, i) => ({ name: `n${i}.big.test`, pools: [`p${i % 7}`, 'other'] })),
    deep: { a: { b: Array.from({ length: 100 }, (_, i) => [i, [i, `${i}`]]) } },
  };
  const { plain, stored } = both(d);
  assert.equal(stored, plain, 'a stored configuration is written like one in memory');
  assert.deepEqual(YAML.parse(plain), d);
  assert.match(plain, /^ {4}text: \|\n {6}h0 300 IN A 10\.0\.0\.0$/m, 'master-file text as a literal block');
});

test('C2: export writes as it reads: the first piece is on its way before more than a few parts are read, no piece is large', async () => {
  const m = memory();
  const records = Array.from({ length: 100_000 }, (_, i) => ({ name: `h${i}`, type: 'A', value: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` }));
  const root = JSON.parse(encodeRoot({ zones: [{ origin: 'big.test', records }] }, m.put)) as Record<string, unknown>;
  m.loads = 0;
  const pieces: Array<{ bytes: number; loadsBefore: number }> = [];
  const sink = new Writable({ write(chunk: Buffer, _enc, done) { pieces.push({ bytes: chunk.length, loadsBefore: m.loads }); setImmediate(done); } });
  await writeLines(new YamlLines(m.load).document(Object.entries(root)), sink);
  assert.ok(pieces.length > 20, `${pieces.length} pieces`);
  assert.ok(pieces[0]!.loadsBefore <= 3, `${pieces[0]!.loadsBefore} parts read before the first piece was written`);
  assert.ok(pieces.every((p) => p.bytes < 80 * 1024), `largest piece ${Math.max(...pieces.map((p) => p.bytes))} bytes`);
  assert.ok(m.loads > 100, `${m.loads} parts read in all`);
});

/** Run the CLI with stdout collected, sampling its peak resident memory (VmHWM) from /proc while it runs. */
function runMeasured(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; peakMb: number }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    let peak = 0;
    const sample = (): void => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${proc.pid}/status`, 'utf8'));
        if (m) peak = Math.max(peak, Number(m[1]) / 1024);
      } catch {
        // exited
      }
    };
    const timer = setInterval(sample, 10);
    proc.stdout.on('data', (d: Buffer) => { out.push(d); sample(); });
    proc.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    proc.on('exit', (code) => { clearInterval(timer); resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr, peakMb: Math.round(peak) }); });
  });
}

test('C2: `waymark export` streams a 100,000-record revision from the store; the output is the configuration in force', async (t) => {
  const small = path.join(dir, 'waymark.yaml');
  const listen = `127.0.0.1:${await freePort()}`;
  fs.writeFileSync(small, `server: { listen: ["${listen}"], workers: 1 }\nstore: { path: ./data }\nzones: [ { origin: small.test, ns: [ns1], records: [ { name: ns1, type: A, value: 127.0.0.53 } ] } ]\n`);
  // A server has served the file once (its revision is the file's), then a large configuration was applied.
  await (await spawnWaymark(['serve', '--config', small])).stop();
  const declarative = {
    zones: [
      { origin: 'big.test', ttl: 300, ns: ['ns1'], records: [{ name: 'ns1', type: 'A', value: '127.0.0.53' }, ...Array.from({ length: 100_000 }, (_, i) => ({ name: `h${i}`, type: 'A', value: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` }))] },
      { origin: 'text.test', text: zoneText(30_000).replace(/^/, '$ORIGIN text.test.\n@ 300 IN SOA ns1 hostmaster 1 3600 600 604800 60\n@ 300 IN NS ns1\nns1 300 IN A 127.0.0.53\n') },
    ],
    names: Array.from({ length: 20_000 }, (_, i) => ({ name: `n${i}.big.test`, pools: [`p${i % 100}`], ttl: 30 })),
    pools: Array.from({ length: 100 }, (_, i) => ({ name: `p${i}`, members: [{ address: `192.0.2.${i + 1}` }] })),
  };
  const big = path.join(dir, 'big.yaml');
  fs.writeFileSync(big, JSON.stringify({ server: { listen: [listen], workers: 1 }, ...declarative }));
  const applied = await runMeasured(['apply', big, '--config', small]);
  assert.equal(applied.code, 0, applied.stderr);

  const exported = await runMeasured(['export', '--config', small]);
  assert.equal(exported.code, 0, exported.stderr);
  t.diagnostic(`export: ${(exported.stdout.length / 1e6).toFixed(1)} MB of YAML, peak resident ${exported.peakMb} MB (apply of the same configuration: ${applied.peakMb} MB)`);
  const parsed = YAML.parse(exported.stdout) as Record<string, unknown>;
  const { bootstrap, declarative: inForce } = splitConfig(parsed);
  assert.deepEqual(bootstrap, { server: { listen: [listen], workers: 1 }, store: { path: './data' } }, 'the bootstrap sections come from the file');
  assert.deepEqual(inForce, declarative);
  // And it is what apply takes back: no new revision.
  fs.writeFileSync(path.join(dir, 'exported.yaml'), exported.stdout);
  const again = await runWaymark(['apply', path.join(dir, 'exported.yaml'), '--config', small, '--json']);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(JSON.parse(again.stdout).changed, false);
});
