// The control socket of a serving supervisor, like knotc's or rndc's channel: a Unix socket (mode 0600) in the
// store directory and beside the pid file, through which `waymark reload` learns the outcome of its reload and
// `waymark explain` asks the live server. Owns: where the sockets are, the line protocol (one JSON request, one
// JSON reply per connection) and both ends. Never listens on a network address.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { ExplainRequest } from '../answer/explain.js';

export const CONTROL_SOCKET = 'control.sock';
/** A request longer than this is refused (requests are a few hundred bytes). */
const MAX_REQUEST = 64 * 1024;
/** Unix socket paths longer than this do not fit in sockaddr_un. */
const MAX_SOCKET_PATH = 107;

/** `file`: the configuration file the client means; a server that serves another one refuses the request. */
export type ControlRequest = ({ op: 'reload' } | { op: 'explain'; request: ExplainRequest } | { op: 'status' } | { op: 'notify'; zone: string }) & { file?: string };
export type ControlReply = ({ ok: true } & Record<string, unknown>) | { ok: false; error: string; errors?: string[] };
export type ControlHandler = (req: ControlRequest) => Promise<ControlReply>;

/** The control sockets of a server with this store directory and pid file (either may be absent). */
export function controlPaths(storeDir: string | null, pidFile: string | null): string[] {
  const out: string[] = [];
  if (storeDir) out.push(path.join(storeDir, CONTROL_SOCKET));
  if (pidFile) out.push(`${path.resolve(pidFile)}.sock`);
  return out;
}

function parseRequest(text: string): ControlRequest | null {
  try {
    const v = JSON.parse(text) as { op?: unknown; request?: unknown; file?: unknown };
    const file = typeof v.file === 'string' ? { file: v.file } : {};
    if (v.op === 'reload' || v.op === 'status') return { op: v.op, ...file };
    if (v.op === 'explain' && typeof v.request === 'object' && v.request !== null) return { op: 'explain', request: v.request as ExplainRequest, ...file };
    if (v.op === 'notify' && typeof (v as { zone?: unknown }).zone === 'string') return { op: 'notify', zone: (v as { zone: string }).zone, ...file };
  } catch {
    // fall through: answered as a bad request
  }
  return null;
}

function serveConnection(sock: net.Socket, handler: ControlHandler): void {
  let buf = '';
  sock.setEncoding('utf8');
  sock.setTimeout(30_000, () => sock.destroy());
  sock.on('error', () => sock.destroy());
  // Half-open (allowHalfOpen): a client may send its request and end its side; the reply still goes back. One that
  // ends without a whole request gets nothing more.
  sock.on('end', () => { if (!buf.includes('\n')) sock.end(); });
  sock.on('data', (chunk: string) => {
    buf += chunk;
    if (buf.length > MAX_REQUEST) return void sock.end(`${JSON.stringify({ ok: false, error: 'request too long' })}\n`);
    const nl = buf.indexOf('\n');
    if (nl < 0) return;
    sock.removeAllListeners('data');
    const req = parseRequest(buf.slice(0, nl));
    const reply = req ? handler(req).catch((e: unknown) => ({ ok: false as const, error: (e as Error).message })) : Promise.resolve({ ok: false as const, error: 'not a control request' });
    void reply.then((r) => { if (!sock.destroyed) sock.end(`${JSON.stringify(r)}\n`); });
  });
}

/** Does a server answer on this socket path? */
function answers(p: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(p);
    c.once('connect', () => { c.destroy(); resolve(true); });
    c.once('error', () => resolve(false));
  });
}

/**
 * Listen on every path. A socket file left by a server that died is replaced; one a running server answers on
 * means that server uses the same store or pid file: an error naming it.
 */
export async function listenControl(paths: string[], handler: ControlHandler, warn: (msg: string) => void): Promise<{ close(): void }> {
  const servers: net.Server[] = [];
  const close = (): void => {
    for (const s of servers) s.close();
    for (const p of paths) fs.rmSync(p, { force: true });
  };
  for (const p of paths) {
    if (p.length > MAX_SOCKET_PATH) { warn(`control socket ${p}: path longer than ${MAX_SOCKET_PATH} bytes; not listening there`); continue; }
    if (fs.existsSync(p)) {
      if (await answers(p)) { close(); throw new Error(`another Waymark server answers on ${p}: it uses the same store or pid file; stop it first`); }
      fs.rmSync(p, { force: true });
    }
    const server = net.createServer({ allowHalfOpen: true }, (sock) => serveConnection(sock, handler));
    await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(p, () => resolve()); });
    fs.chmodSync(p, 0o600);
    server.unref();
    servers.push(server);
  }
  return { close };
}

/** Send one request to the first of `paths` that answers; null when none does (no server running there). */
export async function askControl(paths: string[], req: ControlRequest, timeoutMs = 15_000): Promise<{ path: string; reply: ControlReply } | null> {
  for (const p of paths) {
    if (!fs.existsSync(p)) continue;
    const reply = await new Promise<ControlReply | null>((resolve) => {
      const c = net.connect(p);
      let buf = '';
      const timer = setTimeout(() => { c.destroy(); resolve({ ok: false, error: `no reply from ${p} within ${timeoutMs} ms` }); }, timeoutMs);
      c.setEncoding('utf8');
      c.once('connect', () => c.write(`${JSON.stringify(req)}\n`));
      c.on('data', (d: string) => { buf += d; });
      c.once('end', () => {
        clearTimeout(timer);
        try { resolve(JSON.parse(buf) as ControlReply); } catch { resolve({ ok: false, error: `unreadable reply from ${p}` }); }
      });
      c.once('error', () => { clearTimeout(timer); resolve(null); });
    });
    if (reply) return { path: p, reply };
  }
  return null;
}
