// D2: zones served together, nested and many: a child zone served here hides the parent's delegation and glue (a
// name belongs to the most specific zone served), three levels deep; thousands of sibling zones load and answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import { startServer, query, addresses } from '../harness.js';

const aa = (r: { flags?: number }): boolean => ((r.flags ?? 0) & dnsPacket.AUTHORITATIVE_ANSWER) !== 0;

test('D2: a served child zone answers for its names instead of the parent\'s referral, three levels deep', async () => {
  const srv = await startServer(`
server: { rrl: { enabled: false } }
zones:                                  # children first: the parent, indexed last, must still not win
  - origin: grand.child.parent.test
    records:
      - { name: www, type: A, value: 192.0.2.3 }
  - origin: child.parent.test
    records:
      - { name: www, type: A, value: 192.0.2.2 }
      - { name: grand, type: NS, value: ns.grand }
  - origin: parent.test
    records:
      - { name: www, type: A, value: 192.0.2.1 }
      - { name: child, type: NS, value: ns.child }
      - { name: ns.child, type: A, value: 192.0.2.53 }
      - { name: www.child, type: A, value: 192.0.2.66 }
      - { name: away, type: NS, value: ns.away }
      - { name: ns.away, type: A, value: 192.0.2.54 }
`);
  try {
    const top = await query(srv.port, 'www.parent.test');
    assert.deepEqual(addresses(top), ['192.0.2.1']);
    const child = await query(srv.port, 'www.child.parent.test');
    assert.deepEqual(addresses(child), ['192.0.2.2'], "the child zone's data, not the parent's record below its cut");
    assert.ok(aa(child), 'authoritative, not a referral');
    const grand = await query(srv.port, 'www.grand.child.parent.test');
    assert.deepEqual(addresses(grand), ['192.0.2.3']);
    assert.ok(aa(grand));
    const missing = await query(srv.port, 'nothere.grand.child.parent.test');
    assert.equal(missing.rcode, 'NXDOMAIN');
    assert.equal(missing.authorities[0]?.name, 'grand.child.parent.test', 'negative answer from the most specific zone');
    const referral = await query(srv.port, 'www.away.parent.test');
    assert.ok(!aa(referral), 'a delegation to a zone not served here is still a referral');
    assert.equal(referral.authorities[0]?.type, 'NS');
  } finally {
    await srv.close();
  }
});

test('D2: 3,000 sibling zones load together and each answers its own names', async () => {
  const zones = Array.from({ length: 3000 }, (_, i) => `  - origin: z${i}.test\n    records: [{ name: www, type: A, value: 10.0.${i >> 8}.${i & 255} }]`).join('\n');
  const srv = await startServer(`server: { rrl: { enabled: false } }\nzones:\n${zones}\n`);
  try {
    for (const i of [0, 1499, 2999]) assert.deepEqual(addresses(await query(srv.port, `www.z${i}.test`)), [`10.0.${i >> 8}.${i & 255}`]);
    assert.equal((await query(srv.port, 'www.z3000.test')).rcode, 'REFUSED');
  } finally {
    await srv.close();
  }
});
