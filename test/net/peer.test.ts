// The query sender as transports hand it over: text (dgram, TCP) parsed lazily, or words (batched UDP) formatted
// lazily; RRL charges the same bucket whichever form it gets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PeerAddress } from '../../src/net/peer.js';
import { ResponseRateLimiter, RRL_ANSWER, RRL_DROP, RRL_PASS } from '../../src/dns/rrl.js';

test('A3: a PeerAddress parses text only when asked, and formats words only when asked', () => {
  const p = new PeerAddress();
  p.setText('198.51.100.7');
  assert.equal(p.resolve(), 4);
  assert.equal(p.w[0], 0xc6336407);
  assert.equal(String(p), '198.51.100.7');
  p.setText('::ffff:198.51.100.8');
  assert.equal(p.resolve(), 4, 'IPv4-mapped text folds into IPv4');
  assert.equal(p.w[0], 0xc6336408);
  p.setText('not an address');
  assert.equal(p.resolve(), 0);
  p.setText('');
  assert.equal(p.resolve(), 0);
  p.w.set([0x20010db8, 0, 0, 0x53]);
  p.setWords(6);
  assert.equal(p.resolve(), 6);
  assert.equal(String(p), '2001:db8::53');
  p.w[0] = 0x7f000001;
  p.setWords(4);
  assert.equal(String(p), '127.0.0.1', 'text follows new words');
});

test('D7: RRL charges one bucket for a sender given as text or as words', () => {
  const rrl = new ResponseRateLimiter({
    enabled: true, responsesPerSecond: 3, nxdomainsPerSecond: 3, errorsPerSecond: 3, window: 5, slip: 0,
    ipv4PrefixLength: 24, ipv6PrefixLength: 56, tableSize: 1024,
  });
  const t = 1_700_000_000_000;
  const words = new PeerAddress();
  words.w.set([0xc0000205, 0, 0, 0]); // 192.0.2.5
  words.setWords(4);
  assert.equal(rrl.account('192.0.2.1', RRL_ANSWER, t), RRL_PASS);
  assert.equal(rrl.accountPeer(words, RRL_ANSWER, t), RRL_PASS);
  assert.equal(rrl.account('192.0.2.200', RRL_ANSWER, t), RRL_PASS);
  assert.equal(rrl.accountPeer(words, RRL_ANSWER, t), RRL_DROP, 'the /24 has spent its 3 tokens');
  const v6 = new PeerAddress();
  v6.w.set([0x20010db8, 0x000000ff, 1, 2]);
  v6.setWords(6);
  for (let i = 0; i < 3; i++) assert.equal(rrl.accountPeer(v6, RRL_ANSWER, t), RRL_PASS);
  assert.equal(rrl.account('2001:db8:0:ff::9', RRL_ANSWER, t), RRL_DROP, 'same /56 as text');
  assert.equal(rrl.account('2001:db8:0:100::9', RRL_ANSWER, t), RRL_PASS, 'the next /56 is another bucket');
});
