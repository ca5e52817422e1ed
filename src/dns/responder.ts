// The responder pipeline: parse (fast path, else general codec) → resolve against the snapshot → encode.
// Owns: choosing the path per message and the response buffer. One Responder per worker; it is synchronous, never
// awaits and never touches the database. Listeners (udp.ts, tcp.ts) own transport concerns.
import { LeasedNames } from './leased-names.js';
import { Query, parseQueryFast, FAST_OK } from '../wire/query.js';
import { writeResponse, writeError, udpLimit } from '../wire/response.js';
import { parseQueryGeneral, encodeResponseGeneral, encodeErrorGeneral, GENERAL_DROP, GENERAL_ERROR, type GeneralInfo } from '../wire/codec.js';
import { OPCODE, RCODE, TYPE } from '../wire/types.js';
import { resolve, Resolution } from './lookup.js';
import type { Snapshot } from '../answer/snapshot.js';
import { AnswerEngine } from '../answer/engine.js';
import { QueryCounters } from '../metrics/counters.js';
import { QueryLog } from '../metrics/query-log.js';
import { PeerAddress } from '../net/peer.js';
import { readName } from '../wire/name.js';
import { appendTsig, signResponse, signContinued, findTsig, tsigLength, unsigned, verifyRequest, TSIG_MALFORMED, type TsigKey, type TsigKeyring, type TsigRecord } from '../wire/tsig.js';

export const TRANSPORT_UDP = 0;
export const TRANSPORT_TCP = 1;
/** respond()/answer(): the message is answered later, through takeDeferred(). */
export const DEFERRED = -2;

/**
 * A message answered off the query path (a dynamic update: the control plane decides and commits it): the message
 * without its TSIG, the key it was verified with (null: unsigned), and who sent it over what.
 */
export interface Deferred { kind: 'update' | 'transfer' | 'lease'; message: Buffer; key: TsigKey | null; transport: number; client: string }
/**
 * Takes a deferred message; calls `reply` once, with the response messages (unsigned: the responder signs them, a
 * multi-message answer chained per RFC 8945 §5.3.1), or null for none.
 */
export type DeferredHandler = (d: Deferred, reply: (responses: Buffer[] | null) => void) => void;

const OUT_SIZE = 65535 + 128;

export interface ResponderCounters {
  queries: number;
  fast: number;
  general: number;
  /** Messages that got no response on purpose (responses, runts). */
  dropped: number;
  /** Messages answered FORMERR from their header counts alone, without decoding. */
  early: number;
  /** Exceptions caught while answering: each one is a bug to fix (the message got no response). */
  errors: number;
  rcodes: Uint32Array;
}

const questionScratch = Buffer.alloc(256);
/** The QTYPE of a message's one question, or -1 when it cannot be read. */
function questionType(msg: Buffer): number {
  const r = readName(msg, 12, questionScratch);
  return r === null || r[0] + 2 > msg.length ? -1 : msg.readUInt16BE(r[0]);
}

export class Responder {
  /** The buffer holding the last response; valid until the next call to respond(). */
  response: Buffer;
  /** Rcode of the last response (for RRL categories and metrics). */
  lastRcode = 0;
  private out = Buffer.allocUnsafe(OUT_SIZE);
  private readonly q = new Query();
  private readonly res = new Resolution();
  private readonly info: GeneralInfo = { qnameText: null, packetSafe: true, early: false };
  readonly counters: ResponderCounters = { queries: 0, fast: 0, general: 0, dropped: 0, early: 0, errors: 0, rcodes: new Uint32Array(32) };
  /** Metrics (SPEC C3): responses by zone/qtype/rcode/name, decisions, latency; shipped as deltas by the worker. */
  readonly metrics = new QueryCounters(this.counters);
  /** The opt-in, sampled query log of listed policy names. */
  readonly queryLog = new QueryLog();

  /** Who sent the message being answered: the transport sets it, then calls answer(). */
  readonly peer = new PeerAddress();

  /** The answer engine for policy names (null while the snapshot has no policy). Per worker: it holds live state. */
  engine: AnswerEngine | null = null;
  snapshot!: Snapshot;
  /** TSIG keys (configuration `keys:`); a signed request is verified and its response signed with them. */
  tsig: TsigKeyring | null = null;
  /** Bytes a UDP response must leave free for the TSIG record that will be appended to it. */
  private reserve = 0;
  /** Where messages answered later go (the worker sends them to the supervisor); null: they get NOTIMP. */
  deferred: DeferredHandler | null = null;
  /** Names the lease book answers (addressPools: leasedNames): their queries are deferred to it. */
  leased: LeasedNames | null = null;
  /** The message the last respond() deferred, with its TSIG record, until the transport takes it. */
  private pending: { d: Deferred; tsig: TsigRecord | null } | null = null;

  constructor(snapshot: Snapshot, serverPayload: number, private readonly maxPersistenceRecords = 1_000_000) {
    this.q.serverPayload = serverPayload;
    this.response = this.out;
    this.setSnapshot(snapshot);
  }

  /** Swap in a new snapshot (one assignment for the query path); the engine carries live state across. */
  setSnapshot(snapshot: Snapshot): void {
    const policy = snapshot.policy;
    this.metrics.setSnapshot(snapshot);
    if (policy !== null) {
      if (this.engine === null) {
        this.engine = new AnswerEngine(policy, this.maxPersistenceRecords);
        this.engine.tally = this.metrics.tally;
      } else this.engine.swap(policy);
    }
    this.queryLog.setSnapshot(snapshot);
    this.snapshot = snapshot;
  }

  /** Replace the response buffer: the transport still holds the old one in a queued send. */
  renewBuffer(): void {
    this.out = Buffer.allocUnsafe(OUT_SIZE);
    this.response = this.out;
  }

  /** Answer one message from the sender `client` (address text); see answer(). */
  respond(msg: Buffer, transport: number, client = ''): number {
    this.peer.setText(client);
    return this.answer(msg, msg.length, transport);
  }

  /**
   * Answer the message in msg[0, len) from `this.peer`. Returns the response length in `this.response`, or -1 when
   * nothing must be sent. Catches everything: a bug on an odd packet costs that packet a drop, never the process.
   */
  answer(msg: Buffer, len: number, transport: number): number {
    const start = performance.now();
    this.counters.queries++;
    let out: number;
    try {
      this.res.zone = null;
      this.engine?.setClient(this.peer, this.q);
      out = this.respondUnsafe(msg, len, transport);
    } catch {
      this.counters.errors++;
      return -1;
    }
    if (out >= 0) {
      // Metrics: allocation-free counting; the query log only for flagged policy names.
      const engine = this.engine;
      const name = engine !== null ? engine.lastName : -1;
      this.metrics.count(this.res.zone, this.q.qtype, this.lastRcode, name, performance.now() - start);
      if (name >= 0 && this.queryLog.enabled && this.queryLog.flags[name] === 1) {
        this.queryLog.maybeLog(this.peer.toString(), name, this.q.qtype, this.lastRcode, this.res, engine!.lastPoolDecision, engine!.lastMemberDecision);
      }
    }
    return out;
  }

  private respondUnsafe(msg: Buffer, len: number, transport: number): number {
    const q = this.q;
    const res = this.res;
    const snapshot = this.snapshot;
    if (parseQueryFast(msg, q, len) === FAST_OK) {
      if (this.leased !== null && this.deferred !== null && this.leased.has(q.qname)) return this.defer('lease', msg.subarray(0, len), null, null, transport);
      this.counters.fast++;
      this.response = this.out;
      const limit = transport === TRANSPORT_UDP ? udpLimit(q, q.serverPayload) : 65535;
      if (!resolve(snapshot, q.qname, q.qtype, res, this.engine)) {
        this.lastRcode = RCODE.REFUSED;
        this.counters.rcodes[RCODE.REFUSED]!++;
        return writeError(this.out, q, RCODE.REFUSED, true);
      }
      this.lastRcode = res.rcode;
      this.counters.rcodes[res.rcode]!++;
      return writeResponse(this.out, q, res, limit, res.ecsScope);
    }
    // The general codec decodes a whole Buffer: give it exactly the message (rare path, the view is affordable).
    return this.respondGeneral(len === msg.length ? msg : msg.subarray(0, len), transport);
  }

  private ownAnswer(len: number): number {
    this.counters.rcodes[this.lastRcode & 31]!++;
    this.response = this.out;
    return len;
  }

  /** The general codec path alone (public so tests can hold it against the fast path). */
  respondGeneral(msg: Buffer, transport: number): number {
    // Only the general path sees additional records other than one OPT: a TSIG-signed request comes here.
    if (msg.length >= 12 && msg.readUInt16BE(10) > 0 && (msg[2]! & 0x80) === 0) {
      const t = findTsig(msg);
      if (t === TSIG_MALFORMED) return this.refuse(msg, RCODE.FORMERR);
      if (t !== null) return this.respondSigned(msg, t, transport);
    }
    const kind = this.defers(msg, transport);
    if (kind !== null) return this.defer(kind, msg, null, null, transport);
    return this.respondPlain(msg, transport);
  }

  /**
   * What `msg` (a request) is answered later as, when there is someone to take it: an UPDATE; a zone transfer (AXFR
   * over TCP, IXFR over either). Null: answered here.
   */
  private defers(msg: Buffer, transport: number): Deferred['kind'] | null {
    if (this.deferred === null || msg.length < 12 || (msg[2]! & 0x80) !== 0) return null;
    const opcode = (msg[2]! >> 3) & 0xf;
    if (opcode === OPCODE.UPDATE) return 'update';
    if (opcode !== OPCODE.QUERY || msg.readUInt16BE(4) !== 1) return null;
    const type = questionType(msg);
    if (this.leased !== null && type !== TYPE.AXFR && type !== TYPE.IXFR && this.leased.hasQuestion(msg)) return 'lease';
    return type === TYPE.IXFR || (type === TYPE.AXFR && transport === TRANSPORT_TCP) ? 'transfer' : null;
  }

  private defer(kind: Deferred['kind'], message: Buffer, key: TsigKey | null, tsig: TsigRecord | null, transport: number): number {
    this.pending = { d: { kind, message: Buffer.from(message), key, transport, client: this.peer.toString() }, tsig };
    return DEFERRED;
  }

  /**
   * Hand the message the last answer() deferred to the deferred handler; `send` gets its response, signed with the
   * request's key when it came signed (null: no response is sent); `send` null drops the message. The transport calls this right after answer() returned DEFERRED.
   */
  takeDeferred(send: ((response: Buffer | null) => void) | null): void {
    const p = this.pending;
    this.pending = null;
    if (send === null) { this.counters.dropped++; return; } // refused by the transport (rate limited): no answer
    if (p === null || this.deferred === null) return send(null);
    this.deferred(p.d, (responses) => {
      if (responses === null || responses.length === 0) return send(null);
      const key = p.d.key;
      if (p.tsig === null || key === null) { for (const r of responses) send(r); return; }
      const now = Math.floor(Date.now() / 1000);
      let signed = signResponse(responses[0]!, p.tsig, key, 0, now);
      send(signed.message);
      for (let i = 1; i < responses.length; i++) {
        signed = signContinued(responses[i]!, p.tsig, key, signed.mac, now);
        send(signed.message);
      }
    });
  }

  /**
   * A TSIG-signed request (RFC 8945): verified before anything else; a bad one gets NOTAUTH with the TSIG error
   * (BADKEY, BADSIG unsigned; BADTIME signed), a good one its answer, signed.
   */
  private respondSigned(msg: Buffer, t: TsigRecord, transport: number): number {
    const now = Math.floor(Date.now() / 1000);
    const v = verifyRequest(msg, t, this.tsig, now);
    const inner = unsigned(msg, t);
    inner.writeUInt16BE(msg.readUInt16BE(0), 0); // answered with the ID it came with
    if (!v.ok) {
      if (v.formerr) return this.refuse(inner, RCODE.FORMERR);
      const len = this.refuse(inner, RCODE.NOTAUTH);
      if (len < 0) return len;
      this.response = appendTsig(this.response.subarray(0, len), t, v.key, v.error, now);
      return this.response.length;
    }
    const kind = this.defers(inner, transport);
    if (kind !== null) return this.defer(kind, inner, v.key, t, transport);
    this.reserve = tsigLength(v.key, t);
    let len: number;
    try {
      len = this.respondPlain(inner, transport);
    } finally {
      this.reserve = 0;
    }
    if (len < 0) return len;
    this.response = appendTsig(this.response.subarray(0, len), t, v.key, 0, now);
    return this.response.length;
  }

  /** An error answer to `msg` with its question echoed (when it has a readable one); -1 for what gets none. */
  private refuse(msg: Buffer, rcode: number): number {
    const q = this.q;
    if (parseQueryGeneral(msg, q, this.info) === GENERAL_DROP) {
      this.counters.dropped++;
      return -1;
    }
    this.lastRcode = rcode;
    return this.ownAnswer(writeError(this.out, q, rcode, q.questionEnd > q.questionOff));
  }

  private respondPlain(msg: Buffer, transport: number): number {
    const q = this.q;
    const res = this.res;
    const snapshot = this.snapshot;
    this.counters.general++;
    const info = this.info;
    const kind = parseQueryGeneral(msg, q, info);
    if (kind === GENERAL_DROP) {
      this.counters.dropped++;
      return -1;
    }
    if (info.early) this.counters.early++;
    // Questions dns-packet's text form cannot carry are written by our own writer from their wire bytes.
    const own = !info.packetSafe;
    let buf: Buffer;
    if (kind === GENERAL_ERROR) {
      this.lastRcode = q.forcedRcode;
      if (own) return this.ownAnswer(writeError(this.out, q, q.forcedRcode, q.questionEnd > q.questionOff));
      buf = encodeErrorGeneral(q, info, q.forcedRcode);
    } else if (!resolve(snapshot, q.qname, q.qtype, res, this.engine)) {
      this.lastRcode = RCODE.REFUSED;
      if (own) return this.ownAnswer(writeError(this.out, q, RCODE.REFUSED, true));
      buf = encodeErrorGeneral(q, info, RCODE.REFUSED);
    } else {
      this.lastRcode = res.rcode;
      const limit = (transport === TRANSPORT_UDP ? udpLimit(q, q.serverPayload) : 65535) - this.reserve;
      if (own) return this.ownAnswer(writeResponse(this.out, q, res, limit, res.ecsScope));
      buf = encodeResponseGeneral(q, info, res, limit, res.ecsScope);
    }
    this.counters.rcodes[this.lastRcode & 31]!++;
    this.response = buf;
    return buf.length;
  }
}
