// D7: response rate limiting seen from clients on real sockets: a flooding /24 is limited with slip, others are not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import dgram from 'node:dgram';
import { startServer, buildQuery, decode, tempDir, TEST_ZONE } from '../harness.js';

/** Send `count` queries from `from` as one burst; collect replies for a short while. */
async function burst(port: number, from: string, count: number): Promise<{ full: number; truncated: number }> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, from, () => r()));
  let full = 0;
  let truncated = 0;
  sock.on('message', (m) => {
    const d = decode(m);
    if ((d.flags & 0x0200) !== 0) truncated++;
    else if (d.answers.length === 1) full++;
  });
  for (let i = 0; i < count; i++) sock.send(buildQuery('www.example.test', { id: i }), port, '127.0.0.1');
  await new Promise((r) => setTimeout(r, 500));
  sock.close();
  return { full, truncated };
}

test('D7: RRL limits a flooding prefix, slips every 2nd limited answer as TC, and spares other prefixes', async () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'z.zone'), TEST_ZONE);
  const srv = await startServer(`
server: { rrl: { enabled: true, responsesPerSecond: 20, window: 2, slip: 2 } }
zones: [ { file: ${path.join(dir, 'z.zone')} } ]
`);
  try {
    const flood = await burst(srv.port, '127.0.0.1', 200);
    // 20 answers of credit (plus at most a couple refilled during the burst); the other ~180 are limited,
    // half of them slipped as truncated responses so real clients can retry over TCP.
    assert.ok(flood.full >= 20 && flood.full <= 25, `full answers: ${flood.full}`);
    const limited = 200 - flood.full;
    assert.ok(Math.abs(flood.truncated - limited / 2) <= 2, `truncated ${flood.truncated} of ${limited} limited`);
    // Same /24: shares the exhausted bucket.
    const neighbour = await burst(srv.port, '127.0.0.9', 10);
    assert.equal(neighbour.full, 0);
    // Another /24 has its own bucket.
    const other = await burst(srv.port, '127.0.1.1', 10);
    assert.equal(other.full, 10);
    assert.ok(srv.server.rrl!.stats.dropped > 0 && srv.server.rrl!.stats.slipped > 0);
  } finally {
    await srv.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('D7/D5: a flood of UPDATEs from one prefix spends its error budget: only that many reach the control plane; another prefix still does', async () => {
  const srv = await startServer(`
server: { rrl: { enabled: true, errorsPerSecond: 20, window: 2, slip: 2 } }
zones: [ { origin: upd.test, records: [ { name: www, type: A, value: 192.0.2.1 } ] } ]
`);
  const handed: string[] = [];
  srv.server.responder.deferred = (d, reply) => { handed.push(d.client); reply([Buffer.from(d.message.subarray(0, 12))]); };
  const update = Buffer.concat([Buffer.from([0, 1, 0x28, 0, 0, 1, 0, 0, 0, 0, 0, 0]), Buffer.from([3, 0x75, 0x70, 0x64, 4, 0x74, 0x65, 0x73, 0x74, 0, 0, 6, 0, 1])]);
  const send = async (from: string, count: number): Promise<void> => {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, from, () => r()));
    for (let i = 0; i < count; i++) sock.send(update, srv.port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 400));
    sock.close();
  };
  try {
    await send('127.0.0.1', 300);
    const flooded = handed.filter((c) => c === '127.0.0.1').length;
    assert.ok(flooded >= 20 && flooded <= 26, `handed to the control plane: ${flooded} of 300`);
    await send('127.0.1.1', 5);
    assert.equal(handed.filter((c) => c === '127.0.1.1').length, 5, 'another /24 has its own budget');
  } finally {
    await srv.close();
  }
});
