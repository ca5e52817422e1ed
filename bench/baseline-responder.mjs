// The yardstick for `npm run bench`: a minimal Node responder that does nothing but rotate 4 precomputed answers
// (the "about 196k queries/s" reference). Plain node:dgram (Waymark's fallback transport), no parsing, no
// lookup; socket buffers as large as Waymark's, so that its losses are not a buffer-size artifact.
// Usage: node bench/baseline-responder.mjs PORT — loopback only; stops on SIGTERM.
import dgram from 'node:dgram';
import dnsPacket from 'dns-packet';

const port = Number(process.argv[2] ?? 5397);
const answers = [0, 1, 2, 3].map((k) => dnsPacket.encode({
  type: 'response', id: 0, flags: dnsPacket.AUTHORITATIVE_ANSWER,
  questions: [{ type: 'A', name: 'multi.bench.test' }],
  answers: [0, 1, 2, 3].map((i) => ({ type: 'A', name: 'multi.bench.test', ttl: 300, data: `192.0.2.${((i + k) % 4) + 1}` })),
}));
const sock = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
let n = 0;
sock.on('message', (msg, r) => {
  const a = answers[n++ & 3];
  a[0] = msg[0];
  a[1] = msg[1];
  sock.send(a, 0, a.length, r.port, r.address);
});
sock.bind(port, '127.0.0.1', () => console.log(`baseline responder ready on 127.0.0.1:${port}`));
process.on('SIGTERM', () => { sock.close(); process.exit(0); });
