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
