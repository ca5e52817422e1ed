// An AXFR client (RFC 5936): fetch a whole zone from a primary over TCP, signed with TSIG when a key is given and
// every message of the answer verified (RFC 8945 §5.3.1). Owns the request, reading the framed answer and checking
// it (ID, rcode, SOA first and last). What `waymark zone import --axfr` uses, and the market's import of a buyer's zone.
import net from 'node:net';
import { encodeName, readName, wireToName, canonicalName } from '../wire/name.js';
import { decodeBody, type SoaData, type ZoneRecord } from '../wire/rdata.js';
import { CLASS_IN, TYPE } from '../wire/types.js';
import { signRequest, verifyResponse, findTsig, TSIG_MALFORMED, TYPE_TSIG, type TsigKey } from '../wire/tsig.js';

export interface AxfrOptions { host: string; port: number; zone: string; key: TsigKey | null; timeoutMs?: number }
export interface FetchedZone { origin: string; serial: number; records: ZoneRecord[]; messages: number; bytes: number }

const RCODE_NAMES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'YXDOMAIN', 'YXRRSET', 'NXRRSET', 'NOTAUTH', 'NOTZONE'];

/** The AXFR query for `zone`, with this ID. */
export function axfrQuery(zone: string, id: number): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(1, 4);
  const q = Buffer.alloc(4);
  q.writeUInt16BE(TYPE.AXFR, 0);
  q.writeUInt16BE(CLASS_IN, 2);
  return Buffer.concat([h, encodeName(zone), q]);
}

const scratch = Buffer.alloc(256);

/** The answer records of one response message (TSIG aside). Throws naming what is malformed. */
function answerRecords(msg: Buffer): ZoneRecord[] {
  const qd = msg.readUInt16BE(4);
  const an = msg.readUInt16BE(6);
  let p = 12;
  for (let i = 0; i < qd; i++) {
    const r = readName(msg, p, scratch);
    if (r === null) throw new Error('a malformed question');
    p = r[0] + 4;
  }
  const out: ZoneRecord[] = [];
  for (let i = 0; i < an; i++) {
    const r = readName(msg, p, scratch);
    if (r === null || r[0] + 10 > msg.length) throw new Error(`answer record ${i + 1} is malformed`);
    const name = wireToName(scratch, 0);
    const end = r[0] + 10 + msg.readUInt16BE(r[0] + 8);
    if (end > msg.length) throw new Error(`answer record ${i + 1} runs past the message`);
    if (msg.readUInt16BE(r[0]) !== TYPE_TSIG) out.push(decodeBody(name, msg, r[0]));
    p = end;
  }
  return out;
}

/** Fetch zone `opts.zone` by AXFR. Rejects with a message saying what went wrong (refused, BADSIG, timeout…). */
export function fetchZone(opts: AxfrOptions): Promise<FetchedZone> {
  const zone = canonicalName(opts.zone);
  const id = Math.floor(Math.random() * 65536);
  const now = (): number => Math.floor(Date.now() / 1000);
  const query = axfrQuery(zone, id);
  const signed = opts.key === null ? null : signRequest(query, opts.key, now());
  const where = `${opts.host}:${opts.port}`;
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: opts.host, port: opts.port });
    const records: ZoneRecord[] = [];
    let prior = signed?.mac ?? Buffer.alloc(0);
    let messages = 0;
    let bytes = 0;
    let soas = 0;
    let pending = Buffer.alloc(0);
    const fail = (why: string): void => { sock.destroy(); reject(new Error(`AXFR of ${zone} from ${where}: ${why}`)); };
    const timer = setTimeout(() => fail(`no complete answer within ${opts.timeoutMs ?? 30_000} ms`), opts.timeoutMs ?? 30_000);
    const take = (msg: Buffer): boolean => {
      messages++;
      bytes += msg.length;
      if (msg.length < 12 || msg.readUInt16BE(0) !== id || (msg[2]! & 0x80) === 0) { fail(`message ${messages} is not an answer to our query`); return false; }
      const rcode = msg[3]! & 0xf;
      if (rcode !== 0) {
        const t = findTsig(msg);
        const tsigError = t !== null && t !== TSIG_MALFORMED && t.error !== 0 ? ` (TSIG error ${t.error})` : '';
        fail(`the server answered ${RCODE_NAMES[rcode] ?? rcode}${tsigError}`);
        return false;
      }
      if (opts.key !== null) {
        const v = verifyResponse(msg, opts.key, prior, messages === 1, now());
        if (!v.ok) { fail(`message ${messages}: ${v.error}`); return false; }
        prior = v.mac;
      }
      for (const r of answerRecords(msg)) {
        if (r.type === TYPE.SOA && canonicalName(r.name) === zone) {
          soas++;
          if (soas === 1) records.push(r);
          if (soas === 2) return true;
        } else if (soas === 0) { fail('the answer does not begin with the zone\'s SOA'); return false; } else records.push(r);
      }
      return false;
    };
    sock.on('connect', () => {
      const m = signed?.message ?? query;
      const len = Buffer.alloc(2);
      len.writeUInt16BE(m.length);
      sock.write(Buffer.concat([len, m]));
    });
    sock.on('data', (d: Buffer) => {
      pending = Buffer.concat([pending, d]);
      while (pending.length >= 2 && pending.length - 2 >= pending.readUInt16BE(0)) {
        const msg = pending.subarray(2, 2 + pending.readUInt16BE(0));
        pending = pending.subarray(2 + msg.length);
        let complete: boolean;
        try {
          complete = take(msg);
        } catch (e) {
          fail(`message ${messages}: ${(e as Error).message}`);
          return;
        }
        if (sock.destroyed) return;
        if (complete) {
          clearTimeout(timer);
          sock.destroy();
          resolve({ origin: zone, serial: (records[0]!.data as SoaData).serial, records, messages, bytes });
          return;
        }
      }
    });
    sock.on('error', (e) => { clearTimeout(timer); fail(e.message); });
    sock.on('close', () => { clearTimeout(timer); if (soas < 2) fail('the connection closed before the closing SOA'); });
  });
}
