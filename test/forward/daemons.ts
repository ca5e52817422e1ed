// Real daemons for the data plane's tests: TCP servers that greet with their name and echo, UDP servers that answer
// with their name, each optionally reading a PROXY protocol header first (parsed here, as a daemon would).
import net from 'node:net';
import dgram from 'node:dgram';
import assert from 'node:assert/strict';
import { PROXY_V2_SIGNATURE } from '../../src/forward/proxy-protocol.js';

export interface ProxyInfo { version: 1 | 2; protocol: string; source: string; sourcePort: number; destination: string; destinationPort: number }

export interface TcpDaemon {
  name: string; address: string; port: number;
  /** Connections accepted, and those open now. */
  accepted: number; open: Set<net.Socket>;
  proxies: ProxyInfo[];
  /** Reset every open connection and stop listening (a daemon that dies). */
  kill(): Promise<void>;
  close(): Promise<void>;
}

/** A TCP daemon on address:port: on connect it writes "NAME\n"; then every chunk comes back as "NAME:chunk". */
export async function tcpDaemon(name: string, address: string, port: number, o: { proxy?: boolean } = {}): Promise<TcpDaemon> {
  const d: TcpDaemon = { name, address, port, accepted: 0, open: new Set(), proxies: [], kill: async () => {}, close: async () => {} };
  const server = net.createServer((s) => {
    d.accepted++;
    d.open.add(s);
    s.on('close', () => d.open.delete(s));
    s.on('error', () => {});
    let buffered = Buffer.alloc(0);
    let headerDone = !o.proxy;
    if (headerDone) s.write(`${name}\n`);
    s.on('data', (chunk: Buffer) => {
      if (!headerDone) {
        buffered = Buffer.concat([buffered, chunk]);
        const p = parseProxy(buffered);
        if (p === null) return;
        d.proxies.push(p.info);
        headerDone = true;
        s.write(`${name}\n`);
        chunk = buffered.subarray(p.length);
        if (chunk.length === 0) return;
      }
      s.write(`${name}:${chunk.toString()}`);
    });
  });
  await new Promise<void>((r) => server.listen(port, address, () => r()));
  d.close = () => new Promise<void>((r) => { for (const s of d.open) s.destroy(); server.close(() => r()); });
  d.kill = () => new Promise<void>((r) => { server.close(() => r()); for (const s of d.open) s.resetAndDestroy(); });
  return d;
}

export interface UdpDaemon { name: string; address: string; port: number; received: number; proxies: ProxyInfo[]; close(): Promise<void> }

/** A UDP daemon: each datagram is answered with "NAME:payload" (the payload after any PROXY v2 header). */
export async function udpDaemon(name: string, address: string, port: number, o: { proxy?: boolean; replies?: number } = {}): Promise<UdpDaemon> {
  const sock = dgram.createSocket('udp4');
  const d: UdpDaemon = { name, address, port, received: 0, proxies: [], close: () => new Promise<void>((r) => sock.close(() => r())) };
  sock.on('message', (msg, rinfo) => {
    d.received++;
    let payload = msg;
    if (o.proxy) {
      const p = parseProxy(msg);
      assert.ok(p, 'a PROXY v2 header starts the datagram');
      d.proxies.push(p.info);
      payload = msg.subarray(p.length);
    }
    for (let i = 0; i < (o.replies ?? 1); i++) sock.send(`${name}:${payload.toString()}`, rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => sock.bind(port, address, () => r()));
  return d;
}

/** A PROXY header (v1 or v2) at the start of `b`, or null when more bytes are needed. */
export function parseProxy(b: Buffer): { info: ProxyInfo; length: number } | null {
  if (b.length >= 16 && b.subarray(0, 12).equals(PROXY_V2_SIGNATURE)) {
    const len = b.readUInt16BE(14);
    if (b.length < 16 + len) return null;
    assert.equal(b[12], 0x21, 'version 2, command PROXY');
    const fam = b[13]! >> 4;
    const protocol = (b[13]! & 0x0f) === 1 ? 'tcp' : 'udp';
    const n = fam === 1 ? 4 : 16;
    const addr = (at: number): string => (fam === 1 ? [...b.subarray(at, at + 4)].join('.') : ipv6Text(b.subarray(at, at + 16)));
    return { info: { version: 2, protocol, source: addr(16), destination: addr(16 + n), sourcePort: b.readUInt16BE(16 + 2 * n), destinationPort: b.readUInt16BE(18 + 2 * n) }, length: 16 + len };
  }
  const end = b.indexOf('\r\n');
  if (end < 0) return null;
  const parts = b.subarray(0, end).toString('latin1').split(' ');
  assert.equal(parts[0], 'PROXY', `a PROXY v1 line, got ${JSON.stringify(b.subarray(0, end).toString('latin1'))}`);
  return { info: { version: 1, protocol: parts[1]!, source: parts[2]!, destination: parts[3]!, sourcePort: Number(parts[4]), destinationPort: Number(parts[5]) }, length: end + 2 };
}

function ipv6Text(b: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  return groups.join(':');
}

export interface Client { socket: net.Socket; greeting: string; send(text: string): Promise<string>; closed: Promise<'close' | 'reset'> }

/** Connect to address:port and read the daemon's greeting (its name). Rejects on a reset or close before it. */
export function connect(address: string, port: number, from?: string): Promise<Client> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: address, port, ...(from ? { localAddress: from } : {}) });
    let buf = '';
    let waiter: ((s: string) => void) | null = null;
    let reset = false;
    const closed = new Promise<'close' | 'reset'>((r) => socket.once('close', () => r(reset ? 'reset' : 'close')));
    socket.on('error', (e: NodeJS.ErrnoException) => { reset = true; reject(e); });
    socket.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0 && waiter === null && !client.greeting) {
        client.greeting = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        resolve(client);
      } else if (waiter !== null && buf.length > 0) {
        const w = waiter;
        waiter = null;
        const out = buf;
        buf = '';
        w(out);
      }
    });
    socket.once('close', () => reject(new Error('closed before the greeting')));
    const client: Client = {
      socket, greeting: '', closed,
      send: (text) => new Promise<string>((r, rej) => {
        waiter = r;
        socket.write(text);
        socket.once('close', () => rej(new Error('closed')));
      }),
    };
  });
}

/** Send one datagram from `sock` (or a new socket) and wait for one reply: [text, from address, from port], or null. */
export function datagram(address: string, port: number, text: string, sock?: dgram.Socket, timeoutMs = 1000): Promise<[string, string, number] | null> {
  const s = sock ?? dgram.createSocket('udp4');
  return new Promise((resolve) => {
    const done = (v: [string, string, number] | null): void => {
      clearTimeout(timer);
      s.off('message', on);
      if (!sock) s.close();
      resolve(v);
    };
    const on = (msg: Buffer, r: dgram.RemoteInfo): void => done([msg.toString(), r.address, r.port]);
    const timer = setTimeout(() => done(null), timeoutMs);
    s.on('message', on);
    s.send(text, port, address);
  });
}

export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
