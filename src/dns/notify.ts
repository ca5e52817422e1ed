// NOTIFY (RFC 1996): telling a zone's secondaries that it changed, so they ask for it now rather than at the next
// refresh. Owns the message, its retries with back-off until the secondary answers, and signing it with a TSIG key
// when the target has one. One notification per target at a time: a newer serial replaces a retry in progress.
import dgram from 'node:dgram';
import net from 'node:net';
import { encodeName } from '../wire/name.js';
import { CLASS_IN, OPCODE, TYPE } from '../wire/types.js';
import { signRequest, type TsigKey } from '../wire/tsig.js';
import type { ZoneRecord } from '../wire/rdata.js';
import { recordWire } from './transfer.js';
import { hostPort } from '../net/address.js';

/** Where a zone's NOTIFY goes: an address and port, and the key to sign with (or none). */
export interface NotifyTarget { host: string; port: number; key: TsigKey | null }

/** Parse "host:port", "[v6]:port" or a bare address (port 53). Null when it is none of these. */
export function parseTarget(text: string): { host: string; port: number } | null {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  const [host, port] = v6 ? [v6[1]!, v6[2]] : net.isIPv6(text) ? [text, undefined] : text.split(':') as [string, string | undefined];
  if (net.isIP(host) === 0) return null;
  const p = port === undefined ? 53 : Number(port);
  return Number.isInteger(p) && p > 0 && p < 65536 ? { host, port: p } : null;
}

/** A NOTIFY for `zone` (RFC 1996 §3.7): opcode NOTIFY, AA, the zone's SOA as the question and in the answer. */
export function notifyMessage(zone: string, soa: ZoneRecord, id: number): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE((OPCODE.NOTIFY << 11) | 0x0400, 2);
  h.writeUInt16BE(1, 4);
  h.writeUInt16BE(1, 6);
  const q = Buffer.alloc(4);
  q.writeUInt16BE(TYPE.SOA, 0);
  q.writeUInt16BE(CLASS_IN, 2);
  return Buffer.concat([h, encodeName(zone), q, recordWire(soa)]);
}

/** The delays between a NOTIFY's attempts: 1, 2, 4, 8, 16 s (six tries in half a minute). */
export const NOTIFY_BACKOFF_MS: readonly number[] = [1000, 2000, 4000, 8000, 16_000];

export interface NotifyOutcome { target: string; answered: boolean; rcode: number | null; attempts: number }

/** Sends NOTIFYs and retries them until answered; `log` hears of each outcome. */
export class Notifier {
  private readonly running = new Map<string, { cancel: () => void }>();
  constructor(private readonly log: (level: 'info' | 'warn', fields: object, msg: string) => void, private readonly backoff: readonly number[] = NOTIFY_BACKOFF_MS) {}

  /** Tell every target that `zone` is now at `soa`; resolves with what each did (after its last try). */
  notify(zone: string, soa: ZoneRecord, targets: readonly NotifyTarget[]): Promise<NotifyOutcome[]> {
    return Promise.all(targets.map((t) => this.one(zone, soa, t)));
  }

  private one(zone: string, soa: ZoneRecord, t: NotifyTarget): Promise<NotifyOutcome> {
    const name = hostPort(t.host, t.port);
    const key = `${zone} ${name}`;
    this.running.get(key)?.cancel();
    return new Promise((resolve) => {
      const sock = dgram.createSocket(net.isIPv6(t.host) ? 'udp6' : 'udp4');
      const id = Math.floor(Math.random() * 65536);
      let attempts = 0;
      let timer: NodeJS.Timeout | null = null;
      let settled = false;
      const stop = (): void => {
        settled = true;
        if (timer !== null) clearTimeout(timer);
        try { sock.close(); } catch { /* closed */ }
      };
      const done = (answered: boolean, rcode: number | null): void => {
        if (settled) return;
        stop();
        this.running.delete(key);
        const serial = (soa.data as { serial: number }).serial;
        this.log(answered ? 'info' : 'warn', { zone, target: name, serial, attempts, rcode }, answered ? 'NOTIFY answered' : 'NOTIFY not answered; the secondary finds the change at its next refresh');
        resolve({ target: name, answered, rcode, attempts });
      };
      // A newer NOTIFY to the same target replaces this one: it ends unanswered, quietly.
      this.running.set(key, { cancel: () => { if (!settled) { stop(); resolve({ target: name, answered: false, rcode: null, attempts }); } } });
      sock.on('error', () => { /* an unreachable port: retried */ });
      sock.on('message', (m) => {
        if (m.length < 12 || m.readUInt16BE(0) !== id || (m[2]! & 0x80) === 0 || ((m[2]! >> 3) & 0xf) !== OPCODE.NOTIFY) return;
        done(true, m[3]! & 0xf);
      });
      const send = (): void => {
        if (settled) return;
        attempts++;
        const msg = notifyMessage(zone, soa, id);
        const out = t.key === null ? msg : signRequest(msg, t.key, Math.floor(Date.now() / 1000)).message;
        sock.send(out, t.port, t.host);
        const wait = this.backoff[attempts - 1];
        timer = setTimeout(() => (wait === undefined ? done(false, null) : send()), wait ?? this.backoff.at(-1) ?? 1000);
        timer.unref();
      };
      send();
    });
  }

  close(): void {
    for (const r of this.running.values()) r.cancel();
    this.running.clear();
  }
}
