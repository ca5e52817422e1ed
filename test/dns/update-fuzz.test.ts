// Fuzzing dynamic update (issue 12, SPEC D5/D1): random and mutated UPDATE messages, unsigned and TSIG-signed, through
// the supervisor's whole decision (ZoneUpdates over a real SQLite store and the zone as compiled) and over UDP and TCP
// against a live `waymark serve`, which must answer a valid update and a query afterwards. Every response must be a
// well-formed UPDATE response with the request's ID; the zone must still compile. WAYMARK_FUZZ_SEED replays a run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { parseZoneText } from '../../src/dns/zonefile.js';
import { compileZone, type ZoneLayers } from '../../src/dns/zone.js';
import { ZoneUpdates } from '../../src/supervisor/zone-updates.js';
import { Serial } from '../../src/supervisor/serial.js';
import { openStore } from '../../src/state/store.js';
import { sqliteStateStore } from '../../src/state/async.js';
import { zoneSchema } from '../../src/config/schema.js';
import { layerRecords, layerSerial } from '../../src/dns/dynamic.js';
import { signRequest, TsigKeyring } from '../../src/wire/tsig.js';
import { encodeName } from '../../src/wire/name.js';
import { decode, freePort, rng as makeRng, spawnWaymark, tcpExchange, tempDir, udpExchange, query } from '../harness.js';

const SEED = Number(process.env.WAYMARK_FUZZ_SEED ?? Math.floor(Math.random() * 0x7fffffff));
const ZONE = `$ORIGIN fz.test.
$TTL 300
@ IN SOA ns1 hostmaster 1 3600 600 604800 60
@ IN NS ns1
ns1 IN A 127.0.0.1
www IN A 192.0.2.1
alias IN CNAME www
keep IN A 192.0.2.99
`;
const SECRET = crypto.randomBytes(32).toString('base64');
const ring = new TsigKeyring([{ name: 'ddns', algorithm: 'hmac-sha256', secret: SECRET }]);
const KEY = ring.find(Buffer.from(encodeName('ddns')))!;

type Rnd = (n: number) => number;
const NAMES = ['fz.test', 'www.fz.test', 'alias.fz.test', 'h.fz.test', 'a.b.fz.test', 'ns1.fz.test', 'x.elsewhere.test', 'WWW.FZ.TEST'];
const TYPES = [1, 2, 5, 6, 15, 16, 28, 33, 255, 252, 41, 65280];
const CLASSES = [1, 1, 1, 254, 255, 3];

/** One RR of a random form, with RDATA that fits its type most of the time. */
function randomRR(r: Rnd): Buffer {
  const type = TYPES[r(TYPES.length)]!;
  const klass = CLASSES[r(CLASSES.length)]!;
  const rdata = klass === 255 && r(4) > 0 ? Buffer.alloc(0)
    : type === 1 ? Buffer.from([198, 51, 100, r(256)])
      : type === 28 ? Buffer.concat([Buffer.from([0x20, 1, 0xd, 0xb8]), Buffer.alloc(11), Buffer.from([r(256)])])
        : type === 16 ? Buffer.from([3, 0x61, 0x62, 0x63])
          : type === 5 || type === 2 ? encodeName(NAMES[r(NAMES.length)]!)
            : Buffer.from(Array.from({ length: r(12) }, () => r(256)));
  const head = Buffer.alloc(10);
  head.writeUInt16BE(type, 0);
  head.writeUInt16BE(klass, 2);
  head.writeUInt32BE(klass === 1 ? r(3600) : r(8) === 0 ? 5 : 0, 4);
  head.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([encodeName(NAMES[r(NAMES.length)]!), head, rdata]);
}

function randomUpdate(r: Rnd): Buffer {
  const pre = Array.from({ length: r(3) }, () => randomRR(r));
  const up = Array.from({ length: r(5) }, () => randomRR(r));
  const h = Buffer.alloc(12);
  h.writeUInt16BE(r(65536), 0);
  h.writeUInt16BE(5 << 11, 2);
  h.writeUInt16BE(r(10) === 0 ? r(3) : 1, 4);
  h.writeUInt16BE(pre.length, 6);
  h.writeUInt16BE(up.length, 8);
  const z = Buffer.from([0, 6, 0, 1]);
  let msg = Buffer.concat([h, encodeName(r(8) === 0 ? 'other.test' : 'fz.test'), z, ...pre, ...up]);
  // Mutations: flip bytes, cut the end, inflate a count.
  const m = r(6);
  if (m === 0) for (let i = 0; i < 1 + r(4); i++) msg[r(msg.length)] = r(256);
  else if (m === 1) msg = msg.subarray(0, 12 + r(msg.length - 11));
  else if (m === 2) msg.writeUInt16BE(r(65536), 6 + 2 * r(3));
  return msg;
}

function layersOf(): ZoneLayers {
  const z = compileZone('fz.test', parseZoneText(ZONE, { file: 'fz.zone', origin: 'fz.test', defaultTtl: 300 }).records);
  return z.zone!.layers;
}

test(`D5/D1: 5000 random and mutated UPDATEs through the whole decision (real store) give well-formed answers; the zone stays consistent (seed ${SEED})`, async () => {
  const dir = tempDir('waymark-update-fuzz-');
  try {
    const store = sqliteStateStore(openStore(dir));
    let layers = layersOf();
    const config = zoneSchema.parse({ origin: 'fz.test', update: [{ key: 'ddns', types: ['A', 'AAAA', 'TXT', 'CNAME'], maxRecords: 8 }, { from: '127.0.0.0/8', owners: { exact: 'h.fz.test' } }] });
    const updates = new ZoneUpdates({
      store, queue: new Serial(), log: pino({ level: 'silent' }),
      zone: (o) => (o === 'fz.test' ? { index: 0, config, origin: 'fz.test' } : null),
      layers: () => layers, poolsOf: () => 'p',
      publish: (_i, l) => { layers = l; return Promise.resolve({ ok: true }); }, changed: () => {}, dynamicPool: () => null, register: () => Promise.resolve({ ok: true }),
    });
    const r = makeRng(SEED);
    let applied = 0;
    for (let i = 0; i < 5000; i++) {
      const msg = randomUpdate(r);
      const signed = r(2) === 0;
      const res = await updates.handle({ kind: 'update', message: msg.toString('base64'), key: signed ? 'ddns' : null, client: r(4) === 0 ? '10.1.1.1' : '127.0.0.1', tcp: false });
      const d = decode(res);
      assert.equal(d.id, msg.readUInt16BE(0), `the ID is echoed (message ${msg.toString('hex')})`);
      assert.equal(d.opcode, 'UPDATE');
      assert.equal(d.type, 'response');
      if (d.rcode === 'NOERROR') applied++;
    }
    assert.ok(applied > 50, `some updates applied (${applied})`);
    // What the store holds is what is served: a restart from it lays the same records over the same zone.
    const again = new ZoneUpdates({ store, queue: new Serial(), log: pino({ level: 'silent' }), zone: () => null, layers: () => undefined, poolsOf: () => '', publish: () => Promise.resolve({ ok: true }), changed: () => {}, dynamicPool: () => null, register: () => Promise.resolve({ ok: true }) });
    await again.load();
    const zone = compileZone('fz.test', parseZoneText(ZONE, { file: 'fz.zone', origin: 'fz.test', defaultTtl: 300 }).records).zone!;
    const restarted = again.served([zone]);
    assert.ok(restarted.ok);
    const fresh = restarted.zones[0]!.layers;
    assert.equal(layerSerial(fresh), layerSerial(layers));
    for (const n of ['fz.test', 'www.fz.test', 'h.fz.test', 'a.b.fz.test', 'alias.fz.test']) {
      const key = (l: ZoneLayers): string[] => layerRecords(l, n).map((x) => `${x.type} ${x.ttl} ${JSON.stringify(x.data)}`).sort();
      assert.deepEqual(key(fresh), key(layers), `${n} after a restart`);
    }
    await store.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test(`D5/D1: a live server takes 1500 random UPDATEs, signed and not, over UDP and TCP, then applies valid ones (120 new names: folded) and answers them all (seed ${SEED})`, { timeout: 120_000 }, async () => {
  const dir = tempDir('waymark-update-live-');
  const port = await freePort();
  fs.writeFileSync(path.join(dir, 'fz.zone'), ZONE);
  fs.writeFileSync(path.join(dir, 'w.yaml'), `server: { listen: ["127.0.0.1:${port}"], workers: 1, rrl: { enabled: false } }
store: { path: data }
keys: [{ name: ddns, algorithm: hmac-sha256, secret: "${SECRET}" }]
zones:
  - file: fz.zone
    update: [{ key: ddns, types: [A, AAAA, TXT, CNAME], maxRecords: 8 }]
`);
  const w = await spawnWaymark(['serve', '--config', path.join(dir, 'w.yaml')]);
  try {
    const r = makeRng(SEED ^ 0x5a5a);
    const now = Math.floor(Date.now() / 1000);
    for (let i = 0; i < 1500; i++) {
      let msg = randomUpdate(r);
      if (r(2) === 0 && msg.length >= 12) msg = signRequest(msg, KEY, now).message;
      if (r(5) === 0) msg[r(msg.length)] = r(256); // a signed message spoilt after signing
      if (r(5) === 0) await tcpExchange(port, [msg], { timeoutMs: 500, expect: 1 }).catch(() => []);
      else await udpExchange(port, msg, { timeoutMs: 300 }).catch(() => null);
    }
    const head = Buffer.from([0x77, 0x77, 0x28, 0x00, 0, 1, 0, 0, 0, 1, 0, 0]);
    const add = Buffer.concat([encodeName('after.fz.test'), Buffer.from([0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 203, 0, 113, 1])]);
    const valid = signRequest(Buffer.concat([head, encodeName('fz.test'), Buffer.from([0, 6, 0, 1]), add]), KEY, Math.floor(Date.now() / 1000)).message;
    const res = decode((await udpExchange(port, valid, { timeoutMs: 5000 }))!);
    assert.equal(res.rcode, 'NOERROR');
    assert.deepEqual((await query(port, 'after.fz.test')).answers.map((a) => a.data), ['203.0.113.1']);
    // 120 new names: the overlay outgrows the zone several times and is folded into its image; the worker answers all.
    for (let i = 0; i < 120; i++) {
      const rr = Buffer.concat([encodeName(`n${i}.fz.test`), Buffer.from([0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 203, 0, 113, i])]);
      const m = signRequest(Buffer.concat([head, encodeName('fz.test'), Buffer.from([0, 6, 0, 1]), rr]), KEY, Math.floor(Date.now() / 1000)).message;
      assert.equal(decode((await udpExchange(port, m, { timeoutMs: 5000 }))!).rcode, 'NOERROR');
    }
    for (let i = 0; i < 120; i++) assert.deepEqual((await query(port, `n${i}.fz.test`)).answers.map((a) => a.data), [`203.0.113.${i}`], `n${i}`);
    assert.deepEqual((await query(port, 'keep.fz.test')).answers.map((a) => a.data), ['192.0.2.99'], 'the file\'s records outlive the folds');
  } finally {
    await w.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
