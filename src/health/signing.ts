// Signed messages between the distributor and its probers (SPEC H3): HMAC-SHA256 over method, path, timestamp,
// nonce and the body's digest, with a shared token. Owns: producing the headers and checking them (timestamp window,
// replayed nonces in bounded memory). Must never log, return or echo the token, and never grow without a bound.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const TIMESTAMP_HEADER = 'x-waymark-timestamp';
export const NONCE_HEADER = 'x-waymark-nonce';
export const SIGNATURE_HEADER = 'x-waymark-signature';

/** The method name a response is signed under; its path is `REQUEST_PATH#REQUEST_NONCE`, so a response answers one request. */
export const RESPONSE_METHOD = 'RESPONSE';

export function responsePath(requestPath: string, requestNonce: string): string {
  return `${requestPath}#${requestNonce}`;
}

function signature(token: string, method: string, path: string, timestamp: string, nonce: string, body: string): string {
  const digest = createHash('sha256').update(body, 'utf8').digest('hex');
  return createHmac('sha256', token).update(`${method.toUpperCase()}\n${path}\n${timestamp}\n${nonce}\n${digest}`, 'utf8').digest('hex');
}

/** Headers that authenticate one message (a request, or a response under RESPONSE_METHOD). */
export function sign(token: string, method: string, path: string, body: string, now = Date.now()): Record<string, string> {
  const timestamp = String(Math.trunc(now));
  const nonce = randomBytes(16).toString('hex');
  return {
    [TIMESTAMP_HEADER]: timestamp,
    [NONCE_HEADER]: nonce,
    [SIGNATURE_HEADER]: signature(token, method, path, timestamp, nonce, body),
  };
}

/** Node's incoming headers, fetch's Headers, or a plain record. */
export type HeaderSource = { get(name: string): string | null } | Record<string, string | string[] | undefined>;

function header(h: HeaderSource, name: string): string | undefined {
  if (typeof (h as { get?: unknown }).get === 'function') return (h as { get(name: string): string | null }).get(name) ?? undefined;
  const v = (h as Record<string, string | string[] | undefined>)[name];
  return Array.isArray(v) ? undefined : v; // a repeated header is ambiguous: refuse it
}

export type Verdict = { ok: true } | { ok: false; reason: string };

export interface VerifierOptions {
  /** Largest accepted difference between the message's timestamp and our clock (default 30 s). */
  maxSkewMs?: number;
  /** How long a seen nonce is remembered (default 60 s; never less than the whole accepted window). */
  nonceTtlMs?: number;
  /** Most nonces remembered at once; when full, new messages are refused rather than the set growing (default 100k). */
  maxNonces?: number;
}

const HEX_NONCE = /^[0-9a-f]{32}$/;
const HEX_SIGNATURE = /^[0-9a-f]{64}$/;
const DIGITS = /^\d{1,16}$/;

/** Checks signed messages from one shared token. One Verifier per receiving side (it remembers nonces). */
export class Verifier {
  readonly #token: string;
  readonly #maxSkewMs: number;
  readonly #nonceTtlMs: number;
  readonly #maxNonces: number;
  /** nonce → forget-after (epoch ms). Insertion order is expiry order (expiry = receive time + a constant). */
  readonly #seen = new Map<string, number>();
  #lastNow = 0;

  constructor(token: string, opts: VerifierOptions = {}) {
    this.#token = token;
    this.#maxSkewMs = opts.maxSkewMs ?? 30_000;
    // A replay must find the nonce still remembered for as long as its timestamp is acceptable.
    this.#nonceTtlMs = Math.max(opts.nonceTtlMs ?? 60_000, 2 * this.#maxSkewMs + 1000);
    this.#maxNonces = opts.maxNonces ?? 100_000;
  }

  /** Number of nonces currently remembered. */
  get remembered(): number {
    return this.#seen.size;
  }

  verify(method: string, path: string, body: string, headers: HeaderSource, now = Date.now()): Verdict {
    const timestamp = header(headers, TIMESTAMP_HEADER);
    const nonce = header(headers, NONCE_HEADER);
    const sig = header(headers, SIGNATURE_HEADER);
    if (timestamp === undefined || nonce === undefined || sig === undefined) return { ok: false, reason: 'missing signature headers' };
    if (!DIGITS.test(timestamp)) return { ok: false, reason: 'malformed timestamp' };
    if (!HEX_NONCE.test(nonce)) return { ok: false, reason: 'malformed nonce' };
    if (!HEX_SIGNATURE.test(sig)) return { ok: false, reason: 'malformed signature' };
    if (Math.abs(now - Number(timestamp)) > this.#maxSkewMs) return { ok: false, reason: 'timestamp outside the accepted window' };
    const expected = Buffer.from(signature(this.#token, method, path, timestamp, nonce, body), 'hex');
    if (!timingSafeEqual(expected, Buffer.from(sig, 'hex'))) return { ok: false, reason: 'bad signature' };
    // Only authentic messages are remembered, so forgeries cannot fill the set.
    this.#forgetExpired(now);
    if (this.#seen.has(nonce)) return { ok: false, reason: 'replayed nonce' };
    if (this.#seen.size >= this.#maxNonces) return { ok: false, reason: 'too many recent messages; retry later' };
    this.#seen.set(nonce, Math.max(now, this.#lastNow) + this.#nonceTtlMs);
    return { ok: true };
  }

  #forgetExpired(now: number): void {
    // Keep expiries monotonic even if the caller's clock steps back.
    this.#lastNow = Math.max(this.#lastNow, now);
    for (const [nonce, until] of this.#seen) {
      if (until > this.#lastNow) break;
      this.#seen.delete(nonce);
    }
  }
}
