// Interop: real third-party clients (dig, kdig, Node's own c-ares resolver) against the real `waymark serve` CLI.
// Owns: proof that the tools operators use every day read our answers as intended (flags, EDNS, TC, TCP, IPv6).
// Never skips: a missing tool fails with the command that installs it. Traffic stays on 127.0.0.1 and ::1.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import dns from 'node:dns';
import fs from 'node:fs';
import path from 'node:path';
import { spawnWaymark, freePort, tempDir, TEST_ZONE, type SpawnedWaymark } from '../harness.js';

const INSTALL_HINT = 'run .ci/run as root (it installs them), or: apt-get install -y bind9-dnsutils knot-dnsutils';

/** A second zone whose one big RRset (40 TXT records, about 2.3 kB) fits neither 512 nor 1232 bytes of UDP. */
const BIG_NAME = 'big.bulk.test';
const BIG_COUNT = 40;
const bigText = (i: number): string => `big-record-${String(i).padStart(2, '0')}-padded-so-the-rrset-outgrows-udp`;
const BULK_ZONE = [
  '$ORIGIN bulk.test.',
  '$TTL 300',
  '@    IN SOA ns1 hostmaster ( 1 3600 600 604800 60 )',
  '     IN NS  ns1',
  'ns1  IN A   127.0.0.53',
  ...Array.from({ length: BIG_COUNT }, (_, i) => `big  IN TXT "${bigText(i + 1)}"`),
  '',
].join('\n');
const BIG_TEXTS = Array.from({ length: BIG_COUNT }, (_, i) => bigText(i + 1)).sort();

// ---------------------------------------------------------------------------------------------------------------
// Running dig / kdig and reading their presentation output.

type Tool = 'dig' | 'kdig';

interface ToolRecord { name: string; ttl: number; class: string; type: string; data: string }

/** One reply as dig or kdig printed it. */
interface ToolReply {
  status: string;
  flags: Set<string>;
  /** The question as printed (dig prints the name exactly as sent and received). */
  question: { name: string; type: string } | null;
  /** null when the reply carried no OPT record. */
  edns: { flags: Set<string>; udp: number } | null;
  answer: ToolRecord[];
  authority: ToolRecord[];
  additional: ToolRecord[];
  server: { address: string; port: number; transport: 'UDP' | 'TCP' } | null;
  stdout: string;
  stderr: string;
}

function missingToolError(tool: string): Error {
  return new Error(`${tool} is not installed on this machine; the interop tests need it: ${INSTALL_HINT}`);
}

function execTool(cmd: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 15_000 }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') return reject(missingToolError(cmd));
      if (err) return reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`));
      resolve({ stdout, stderr });
    });
  });
}

function parseRecords(out: string, section: string): ToolRecord[] {
  const lines = out.split('\n');
  const start = lines.findIndex((l) => l.trim() === `;; ${section} SECTION:`);
  if (start < 0) return [];
  const records: ToolRecord[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === '' || line.startsWith(';')) break;
    const [name, ttl, klass, type, ...data] = line.trim().split(/\s+/);
    records.push({ name: name!, ttl: Number(ttl), class: klass!, type: type!, data: data.join(' ') });
  }
  return records;
}

/** Both dig and kdig layouts: dig writes "flags:" and "; EDNS: version: 0, flags: do; udp: 1232";
 *  kdig writes "Flags:" and ";; Version: 0; flags: do; UDP size: 1232 B". */
function parseReply(stdout: string, stderr: string): ToolReply {
  const status = /->>HEADER<<- opcode: QUERY[,;] status: (\w+)/.exec(stdout)?.[1];
  const flags = /^;; [Ff]lags:([^;]*);/m.exec(stdout)?.[1];
  if (status === undefined || flags === undefined) throw new Error(`no DNS reply in the tool output:\n${stdout}\n${stderr}`);
  const words = (s: string): Set<string> => new Set(s.trim().split(/\s+/).filter(Boolean));
  const ednsDig = /^; EDNS: version: \d+, flags:([^;]*); udp: (\d+)/m.exec(stdout);
  const ednsKdig = /^;; Version: \d+; flags:([^;]*); UDP size: (\d+) B/m.exec(stdout);
  const edns = ednsDig ?? ednsKdig;
  const lines = stdout.split('\n');
  const qAt = lines.findIndex((l) => l.trim() === ';; QUESTION SECTION:');
  const qFields = qAt >= 0 ? lines[qAt + 1]!.replace(/^;+\s*/, '').trim().split(/\s+/) : [];
  const serverDig = /^;; SERVER: (\S+?)#(\d+)\(.*?\) \((UDP|TCP)\)/m.exec(stdout);
  const serverKdig = /^;; From (\S+?)@(\d+)\((UDP|TCP)\)/m.exec(stdout);
  const server = serverDig ?? serverKdig;
  return {
    status,
    flags: words(flags),
    question: qFields.length >= 3 ? { name: qFields[0]!, type: qFields[2]! } : null,
    edns: edns ? { flags: words(edns[1]!), udp: Number(edns[2]) } : null,
    answer: parseRecords(stdout, 'ANSWER'),
    authority: parseRecords(stdout, 'AUTHORITY'),
    additional: parseRecords(stdout, 'ADDITIONAL'),
    server: server ? { address: server[1]!, port: Number(server[2]), transport: server[3] as 'UDP' | 'TCP' } : null,
    stdout,
    stderr,
  };
}

const data = (r: ToolReply, type: string): string[] => r.answer.filter((a) => a.type === type).map((a) => a.data).sort();

// ---------------------------------------------------------------------------------------------------------------

describe('interop: dig, kdig and c-ares against `waymark serve`', () => {
  let dir = '';
  let port = 0;
  let waymark: SpawnedWaymark | undefined;

  before(async () => {
    dir = tempDir('waymark-interop-');
    fs.writeFileSync(path.join(dir, 'example.test.zone'), TEST_ZONE);
    fs.writeFileSync(path.join(dir, 'bulk.test.zone'), BULK_ZONE);
    port = await freePort();
    waymark = await spawnWaymark([
      'serve', '--zone', path.join(dir, 'example.test.zone'), '--zone', path.join(dir, 'bulk.test.zone'),
      '--listen', `127.0.0.1:${port}`, '--listen', `[::1]:${port}`, '--workers', '1',
    ]);
  });

  after(async () => {
    if (waymark) await waymark.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Ask `tool` at `server` (default 127.0.0.1) with bounded time and no retries over the same transport. */
  async function ask(tool: Tool, name: string, type: string, opts: string[] = [], server = '127.0.0.1'): Promise<ToolReply> {
    const bounds = tool === 'dig' ? ['+time=2', '+tries=1'] : ['+time=2', '+retry=0'];
    const { stdout, stderr } = await execTool(tool, [`@${server}`, '-p', String(port), ...bounds, ...opts, name, type]);
    return parseReply(stdout, stderr);
  }

  test('the interop tools are installed (dig from bind9-dnsutils, kdig from knot-dnsutils)', async () => {
    const missing: string[] = [];
    for (const [tool, flag] of [['dig', '-v'], ['kdig', '-V']] as const) {
      try { await execTool(tool, [flag]); } catch { missing.push(tool); }
    }
    assert.deepEqual(missing, [], `missing ${missing.join(' and ')}: ${INSTALL_HINT}`);
  });

  for (const tool of ['dig', 'kdig'] as const) {
    // kdig sends no OPT unless asked; dig sends one by default.
    const withEdns = tool === 'dig' ? [] : ['+edns'];

    test(`${tool}: authoritative A over UDP with EDNS: aa set, ra clear, OPT echoed with udp 1232, DO clear`, async () => {
      const r = await ask(tool, 'www.example.test', 'A', withEdns);
      assert.equal(r.status, 'NOERROR');
      assert.ok(r.flags.has('qr') && r.flags.has('aa'), `flags: ${[...r.flags].join(' ')}`);
      assert.ok(!r.flags.has('ra') && !r.flags.has('tc'), `flags: ${[...r.flags].join(' ')}`);
      assert.deepEqual(r.answer, [{ name: 'www.example.test.', ttl: 30, class: 'IN', type: 'A', data: '192.0.2.1' }]);
      assert.ok(r.edns, 'the reply carries an OPT record');
      assert.equal(r.edns.udp, 1232);
      assert.ok(!r.edns.flags.has('do'), 'DO is not set when the query did not set it');
      assert.deepEqual(r.server, { address: '127.0.0.1', port, transport: 'UDP' });
    });

    test(`${tool}: +noedns gets an answer without OPT`, async () => {
      const r = await ask(tool, 'multi.example.test', 'A', ['+noedns']);
      assert.equal(r.status, 'NOERROR');
      assert.ok(r.flags.has('aa'));
      assert.equal(r.edns, null, 'no OPT record in reply to a query without one');
      assert.deepEqual(data(r, 'A'), ['192.0.2.11', '192.0.2.12', '192.0.2.13', '192.0.2.14']);
    });

    test(`${tool}: +tcp with and without EDNS`, async () => {
      const r = await ask(tool, 'www.example.test', 'AAAA', ['+tcp', ...withEdns]);
      assert.equal(r.status, 'NOERROR');
      assert.ok(r.flags.has('aa'));
      assert.deepEqual(data(r, 'AAAA'), ['2001:db8::1']);
      assert.equal(r.edns?.udp, 1232);
      assert.equal(r.server?.transport, 'TCP');
      const plain = await ask(tool, 'example.test', 'MX', ['+tcp', '+noedns']);
      assert.equal(plain.server?.transport, 'TCP');
      assert.equal(plain.edns, null);
      assert.deepEqual(data(plain, 'MX'), ['10 mail.example.test.']);
    });

    test(`${tool}: +dnssec echoes DO in the OPT pseudosection and adds no RRSIG (unsigned zone)`, async () => {
      for (const transport of [[], ['+tcp']]) {
        const r = await ask(tool, 'www.example.test', 'A', ['+dnssec', ...transport]);
        assert.equal(r.status, 'NOERROR');
        assert.ok(r.edns?.flags.has('do'), `DO echoed (${transport.join('') || 'udp'}):\n${r.stdout}`);
        assert.deepEqual(data(r, 'A'), ['192.0.2.1']);
        assert.ok(!/\bRRSIG\b/.test(r.stdout), 'no RRSIG in an unsigned zone');
      }
    });

    test(`${tool}: NXDOMAIN carries the zone SOA in AUTHORITY with the negative TTL`, async () => {
      for (const opts of [withEdns, ['+noedns'], ['+tcp']]) {
        const r = await ask(tool, 'nope.example.test', 'A', opts);
        assert.equal(r.status, 'NXDOMAIN');
        assert.ok(r.flags.has('aa'));
        assert.deepEqual(r.answer, []);
        assert.deepEqual(r.authority, [{
          name: 'example.test.', ttl: 60, class: 'IN', type: 'SOA',
          data: 'ns1.example.test. hostmaster.example.test. 2026112201 3600 600 604800 60',
        }]);
      }
    });

    test(`${tool}: a name outside every served zone is REFUSED without aa`, async () => {
      const r = await ask(tool, 'example.org', 'A', withEdns);
      assert.equal(r.status, 'REFUSED');
      assert.ok(!r.flags.has('aa'));
      assert.deepEqual(r.answer, []);
    });

    test(`${tool}: delegation to sub.example.test is a referral with glue, aa clear`, async () => {
      const r = await ask(tool, 'host.sub.example.test', 'A', withEdns);
      assert.equal(r.status, 'NOERROR');
      assert.ok(!r.flags.has('aa'));
      assert.deepEqual(r.answer, []);
      assert.deepEqual(r.authority.map((a) => `${a.name} ${a.type} ${a.data}`), ['sub.example.test. NS ns.sub.example.test.']);
      assert.deepEqual(r.additional.map((a) => `${a.name} ${a.type} ${a.data}`), ['ns.sub.example.test. A 192.0.2.55']);
    });

    test(`${tool}: +bufsize=512 on the big RRset: +ignore shows tc, otherwise the tool retries over TCP and gets all ${BIG_COUNT}`, async () => {
      const truncated = await ask(tool, BIG_NAME, 'TXT', ['+bufsize=512', '+ignore']);
      assert.equal(truncated.status, 'NOERROR');
      assert.ok(truncated.flags.has('tc'), `tc set:\n${truncated.stdout}`);
      assert.equal(truncated.server?.transport, 'UDP');
      assert.ok(truncated.answer.length < BIG_COUNT);

      const full = await ask(tool, BIG_NAME, 'TXT', ['+bufsize=512']);
      assert.ok(!full.flags.has('tc'));
      assert.equal(full.server?.transport, 'TCP', `${tool} fell back to TCP:\n${full.stdout}\n${full.stderr}`);
      assert.equal(full.answer.length, BIG_COUNT);
      assert.deepEqual(data(full, 'TXT'), BIG_TEXTS.map((t) => `"${t}"`));

      // Without EDNS the limit is 512 bytes; with dig's default 1232 the RRset is still too big.
      const noEdns = await ask(tool, BIG_NAME, 'TXT', ['+noedns', '+ignore']);
      assert.ok(noEdns.flags.has('tc'));
      assert.equal(noEdns.edns, null);
      const edns1232 = await ask(tool, BIG_NAME, 'TXT', [...withEdns, '+bufsize=1232', '+ignore']);
      assert.ok(edns1232.flags.has('tc'), 'the big RRset does not fit 1232 bytes either');

      const tcp = await ask(tool, BIG_NAME, 'TXT', ['+tcp']);
      assert.equal(tcp.answer.length, BIG_COUNT);
      assert.ok(!tcp.flags.has('tc'));
    });

    test(`${tool}: IPv6 server address ::1 over UDP and TCP`, async () => {
      for (const transport of [[], ['+tcp']]) {
        const r = await ask(tool, 'ns2.example.test', 'AAAA', [...withEdns, ...transport], '::1');
        assert.equal(r.status, 'NOERROR');
        assert.ok(r.flags.has('aa'));
        assert.deepEqual(data(r, 'AAAA'), ['::53']);
        assert.equal(r.server?.address, '::1');
        assert.equal(r.server?.transport, transport.length ? 'TCP' : 'UDP');
      }
    });
  }

  test('dig: a mixed-case question (0x20) is echoed unchanged in the question and the answer owner', async () => {
    // kdig lower-cases names before sending, so only dig can show this.
    for (const transport of [[], ['+tcp']]) {
      const r = await ask('dig', 'WwW.ExAmPle.TEST', 'A', transport);
      assert.equal(r.status, 'NOERROR');
      assert.deepEqual(r.question, { name: 'WwW.ExAmPle.TEST.', type: 'A' });
      assert.deepEqual(r.answer.map((a) => `${a.name} ${a.data}`), ['WwW.ExAmPle.TEST. 192.0.2.1']);
    }
  });

  // -------------------------------------------------------------------------------------------------------------
  // Node's resolver (c-ares), as any Node client of the service would use it.

  function resolver(server = `127.0.0.1:${port}`): dns.promises.Resolver {
    const r = new dns.promises.Resolver({ timeout: 2000, tries: 2 });
    r.setServers([server]);
    return r;
  }

  test('c-ares: A with TTL, AAAA, MX, TXT, SRV, CAA, NS, SOA', async () => {
    const r = resolver();
    assert.deepEqual(await r.resolve4('www.example.test', { ttl: true }), [{ address: '192.0.2.1', ttl: 30 }]);
    assert.deepEqual((await r.resolve4('multi.example.test')).sort(), ['192.0.2.11', '192.0.2.12', '192.0.2.13', '192.0.2.14']);
    assert.deepEqual(await r.resolve6('www.example.test'), ['2001:db8::1']);
    assert.deepEqual(await r.resolveMx('example.test'), [{ exchange: 'mail.example.test', priority: 10 }]);
    assert.deepEqual(await r.resolveTxt('example.test'), [['v=spf1 -all']]);
    assert.deepEqual(await r.resolveSrv('_sip._udp.example.test'), [{ name: 'sip.example.test', port: 5060, priority: 10, weight: 60 }]);
    assert.deepEqual(await r.resolveCaa('example.test'), [{ critical: 0, issue: 'ca.example' }]);
    assert.deepEqual((await r.resolveNs('example.test')).sort(), ['ns1.example.test', 'ns2.example.test']);
    assert.deepEqual(await r.resolveSoa('example.test'), {
      nsname: 'ns1.example.test', hostmaster: 'hostmaster.example.test',
      serial: 2026112201, refresh: 3600, retry: 600, expire: 604800, minttl: 60,
    });
  });

  test('c-ares: CNAME asked directly, and followed for A', async () => {
    const r = resolver();
    assert.deepEqual(await r.resolveCname('alias.example.test'), ['www.example.test']);
    assert.deepEqual(await r.resolve4('alias.example.test'), ['192.0.2.1']);
    assert.deepEqual(await r.resolve4('chain1.example.test'), ['192.0.2.1']);
  });

  test('c-ares: NXDOMAIN is ENOTFOUND, NODATA is ENODATA, outside the zones is EREFUSED', async () => {
    const r = resolver();
    await assert.rejects(r.resolve4('nope.example.test'), { code: 'ENOTFOUND' });
    await assert.rejects(r.resolve6('mail.example.test'), { code: 'ENODATA' });
    await assert.rejects(r.resolve4('example.org'), { code: 'EREFUSED' });
  });

  test(`c-ares: the big RRset comes back truncated over UDP, c-ares retries over TCP and gets all ${BIG_COUNT}`, async () => {
    const txt = await resolver().resolveTxt(BIG_NAME);
    assert.equal(txt.length, BIG_COUNT);
    assert.deepEqual(txt.map((chunks) => chunks.join('')).sort(), BIG_TEXTS);
  });

  test('c-ares: server at [::1]', async () => {
    const r = resolver(`[::1]:${port}`);
    assert.deepEqual(await r.resolve4('www.example.test'), ['192.0.2.1']);
    assert.deepEqual(await r.resolve6('ns2.example.test'), ['::53']);
  });
});
