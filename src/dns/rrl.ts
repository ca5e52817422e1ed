// Response Rate Limiting (the BIND/Knot "RRL" idea): token buckets per (client prefix, response category)
// that decide whether a UDP response is sent, dropped, or "slipped" as a truncated reply.
// Owns: the fixed-size bucket table and its accounting. Must never allocate per call (IPv4 or IPv6), never
// grow its memory whatever the source addresses, and never read the clock itself (callers pass nowMs).

import { parseAddress, wordMask } from '../net/address.js';
import { mixWord, fmix } from '../net/hash.js';
import type { PeerAddress } from '../net/peer.js';

export interface RrlOptions {
  enabled: boolean;
  /** Per prefix, for positive answers (and NODATA). 0 = this category is never limited. */
  responsesPerSecond: number;
  /** Per prefix, for NXDOMAIN answers. 0 = never limited. */
  nxdomainsPerSecond: number;
  /** Per prefix, for REFUSED/FORMERR/SERVFAIL/NOTIMP. 0 = never limited. */
  errorsPerSecond: number;
  /** Seconds of debt a prefix must repay before it is answered again (BIND "window"), ≥ 1. */
  window: number;
  /** Every Nth limited response is sent truncated (TC=1) instead of dropped; 0 = never, 1 = always. */
  slip: number;
  /** Bits of an IPv4 source that form one bucket (BIND default 24). */
  ipv4PrefixLength: number;
  /** Bits of an IPv6 source that form one bucket (BIND default 56). */
  ipv6PrefixLength: number;
  /** Number of buckets; all memory is allocated at construction and never grows. */
  tableSize: number;
}

export const RRL_PASS = 0;
export const RRL_DROP = 1;
export const RRL_SLIP = 2;

export const RRL_ANSWER = 0;
export const RRL_NXDOMAIN = 1;
export const RRL_ERROR = 2;

export type RrlCategory = typeof RRL_ANSWER | typeof RRL_NXDOMAIN | typeof RRL_ERROR;
export type RrlVerdict = typeof RRL_PASS | typeof RRL_DROP | typeof RRL_SLIP;

export class RrlOptionsError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
    this.name = 'RrlOptionsError';
  }
}

/**
 * How many consecutive slots a key may live in. A small window lets a hot bucket survive a colliding
 * newcomer (the victim is chosen by value, see `findSlot`) while keeping a lookup to a few cache lines.
 */
const PROBE = 4;
/** Key tag bits: bit 0 = slot in use, bit 1 = IPv6, bits 2..3 = category. */
const TAG_USED = 1;
const TAG_V6 = 2;

function checkNumber(path: string, v: number, min: number, max: number, integer: boolean): void {
  if (!Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
    throw new RrlOptionsError(path, `must be ${integer ? 'an integer' : 'a number'} between ${min} and ${max}, got ${v}`);
  }
}

/** Validates options, naming the offending field the way configuration errors do elsewhere. */
export function validateRrlOptions(o: RrlOptions, path = 'rrl'): void {
  // Whole rates, as in BIND: with a fractional rate below 1 the one-second credit cap would never reach a
  // whole token. The upper bound keeps token clocks (ms × rate) exact to well under a token for years.
  checkNumber(`${path}.responsesPerSecond`, o.responsesPerSecond, 0, 1e6, true);
  checkNumber(`${path}.nxdomainsPerSecond`, o.nxdomainsPerSecond, 0, 1e6, true);
  checkNumber(`${path}.errorsPerSecond`, o.errorsPerSecond, 0, 1e6, true);
  checkNumber(`${path}.window`, o.window, 1, 3600, false);
  checkNumber(`${path}.slip`, o.slip, 0, 10, true);
  checkNumber(`${path}.ipv4PrefixLength`, o.ipv4PrefixLength, 0, 32, true);
  checkNumber(`${path}.ipv6PrefixLength`, o.ipv6PrefixLength, 0, 128, true);
  // 2^24 buckets is 512 MiB; anything bigger is a typo rather than a deployment.
  checkNumber(`${path}.tableSize`, o.tableSize, 1, 1 << 24, true);
}

/** Network mask of the top `len` bits of a 32-bit word, for len in [0, 32]. */

export class ResponseRateLimiter {
  readonly stats = { passed: 0, dropped: 0, slipped: 0 };
  /** Number of buckets; fixed for the life of the limiter. */
  readonly capacity: number;

  private readonly enabled: boolean;
  private readonly slip: number;
  /** Indexed by category: tokens per second, and the debt (window × rate) a bucket may run up. */
  private readonly rate = new Float64Array(3);
  private readonly debt = new Float64Array(3);
  private readonly v4Mask: number;
  private readonly v6Mask = new Uint32Array(4);
  /**
   * Per-instance random hash seed: without it a spoofing attacker could aim sources at the slots of a
   * prefix it wants to see forgiven (evicted), or pile all its traffic into one probe window.
   */
  private readonly seed: number;
  /**
   * capacity / 2^32: a 32-bit hash times this, truncated, is a slot in [0, capacity) (multiply-shift
   * range reduction). `%` on a uint32 that may exceed 2^31 compiles to a floating-point fmod call, which
   * cost as much as the rest of `account` together.
   */
  private readonly slotScale: number;
  /**
   * The first nowMs seen. Token clocks count from it so that they stay small numbers with sub-token
   * precision whatever the caller's epoch (Date.now() or performance.now()).
   */
  private epoch = Number.NaN;

  // The table: one 32-byte record per slot, so that probing and updating a bucket touch a single cache
  // line (measured: separate arrays per field cost ~2× on a table larger than the CPU caches).
  // Record s, through two views of one buffer:
  //   words[8s .. 8s+3]  the masked prefix (IPv4 uses the first word; the rest stay 0)
  //   nums[4s+2]         the bucket as a "theoretical arrival time" on its category's token clock
  //                      (t = (nowMs - epoch) × rate / 1000): balance = t - nums[4s+2]. One number
  //                      instead of balance + last-update time; see `account`.
  //   words[8s+6]        tag (TAG_* bits, 0 = empty slot) | limited-run count << 8
  //   words[8s+7]        unused, keeps records aligned to half cache lines
  private readonly record: ArrayBuffer;
  private readonly words: Uint32Array;
  private readonly nums: Float64Array;
  private used = 0;

  /** Where parseAddress writes the client address; reused so that accounting allocates nothing. */
  private readonly addr = new Uint32Array(4);

  constructor(options: RrlOptions) {
    validateRrlOptions(options);
    this.enabled = options.enabled;
    this.slip = options.slip;
    this.rate[RRL_ANSWER] = options.responsesPerSecond;
    this.rate[RRL_NXDOMAIN] = options.nxdomainsPerSecond;
    this.rate[RRL_ERROR] = options.errorsPerSecond;
    for (let c = 0; c < 3; c++) this.debt[c] = options.window * this.rate[c]!;
    this.v4Mask = wordMask(options.ipv4PrefixLength);
    for (let w = 0; w < 4; w++) this.v6Mask[w] = wordMask(options.ipv6PrefixLength - 32 * w);
    this.seed = (Math.random() * 0x100000000) | 0;

    const n = options.tableSize;
    this.capacity = n;
    this.slotScale = n / 4294967296;
    this.record = new ArrayBuffer(n * 32);
    this.words = new Uint32Array(this.record);
    this.nums = new Float64Array(this.record);
  }

  /** Buckets currently holding a prefix (≤ capacity); for metrics and tests. */
  get occupied(): number {
    return this.used;
  }

  /** Bytes held by the table; constant after construction. */
  get memoryBytes(): number {
    return this.record.byteLength;
  }

  /**
   * Called once per UDP response about to be sent. `nowMs` is the caller's clock in milliseconds, any
   * epoch; it should be monotonic (a step backwards counts as lost credit, bounded by the window).
   * Unparseable addresses pass: there is no prefix to charge them to, and Node's dgram never produces one.
   *
   * The bucket is a token bucket kept as a single timestamp (the GCRA formulation): with t the current
   * token clock and b the stored value, balance = t - b. Refill is then free (t advances by itself),
   * the one-second credit cap is b ≥ t - rate, spending a token is b += 1, the debt floor is
   * b ≤ t + window × rate, and the response is limited when the balance is negative, b > t.
   */
  account(address: string, category: RrlCategory, nowMs: number): RrlVerdict {
    if (!this.enabled || this.rate[category] === 0) return this.pass();
    return this.charge(parseAddress(address, this.addr), category, nowMs);
  }

  /** As account(), for a sender the transport already holds as a PeerAddress (words, or text parsed once). */
  accountPeer(peer: PeerAddress, category: RrlCategory, nowMs: number): RrlVerdict {
    if (!this.enabled || this.rate[category] === 0) return this.pass();
    const family = peer.resolve();
    const a = this.addr;
    const w = peer.w;
    a[0] = w[0]!; a[1] = w[1]!; a[2] = w[2]!; a[3] = w[3]!;
    return this.charge(family, category, nowMs);
  }

  /** The bucket arithmetic for the sender in `this.addr` (see account()). */
  private charge(family: 0 | 4 | 6, category: RrlCategory, nowMs: number): RrlVerdict {
    if (family === 0) return this.pass();
    const rate = this.rate[category]!;
    const a = this.addr;

    // Mask in place: the prefix words stay in a typed array from here on, because passing uint32 values
    // ≥ 2^31 between functions would box them as heap numbers whenever V8 does not inline the callee
    // (hence also the `| 0` on the words given to mixWord).
    const tag = TAG_USED | (category << 2) | (family === 6 ? TAG_V6 : 0);
    let h = mixWord(this.seed, tag);
    if (family === 4) {
      a[0] = a[0]! & this.v4Mask;
      h = mixWord(h, a[0]! | 0);
    } else {
      const m = this.v6Mask;
      a[0] = a[0]! & m[0]!;
      a[1] = a[1]! & m[1]!;
      a[2] = a[2]! & m[2]!;
      a[3] = a[3]! & m[3]!;
      h = mixWord(mixWord(mixWord(mixWord(h, a[0]! | 0), a[1]! | 0), a[2]! | 0), a[3]! | 0);
    }
    if (this.epoch !== this.epoch) this.epoch = nowMs; // NaN until the first call
    const found = this.findSlot(((fmix(h) >>> 0) * this.slotScale) | 0, tag, nowMs);

    const words = this.words;
    const nums = this.nums;
    const t = ((nowMs - this.epoch) * rate) / 1000;
    const full = t - rate;
    let slot: number;
    let b: number;
    if (found >= 0) {
      slot = found;
      b = nums[slot * 4 + 2]!;
      if (b < full) b = full;
    } else {
      // New (or evicted-and-replaced) prefix: starts with a full second of credit.
      slot = -found - 1;
      const k = slot * 8;
      if (words[k + 6] === 0) this.used++;
      words[k] = a[0]!;
      words[k + 1] = a[1]!;
      words[k + 2] = a[2]!;
      words[k + 3] = a[3]!;
      words[k + 6] = tag;
      b = full;
    }
    b += 1;
    const floor = t + this.debt[category]!;
    if (b > floor) b = floor;
    nums[slot * 4 + 2] = b;

    if (b <= t) return this.pass();
    const slip = this.slip;
    if (slip !== 0) {
      const meta = words[slot * 8 + 6]!;
      const run = (meta >>> 8) + 1;
      if (run >= slip) {
        words[slot * 8 + 6] = meta & 0xff;
        this.stats.slipped++;
        return RRL_SLIP;
      }
      words[slot * 8 + 6] = (meta & 0xff) | (run << 8);
    }
    this.stats.dropped++;
    return RRL_DROP;
  }

  private pass(): RrlVerdict {
    this.stats.passed++;
    return RRL_PASS;
  }

  /**
   * Looks up the masked prefix in `addr` with `tag` within the probe window. Returns its slot when
   * present, else -(slot + 1) for the slot to give it: an empty one, or the occupant with the most
   * (normalised) credit. A bucket at full credit carries no state, so evicting it forgets nothing;
   * buckets in debt are the ones doing the limiting and go last, so a flood of spoofed one-off sources
   * cannot wipe a real flooder's debt.
   */
  private findSlot(home: number, tag: number, nowMs: number): number {
    const cap = this.capacity;
    const words = this.words;
    const nums = this.nums;
    const a = this.addr;
    let best = home;
    let bestScore = -Infinity;
    let slot = home;
    const probes = cap < PROBE ? cap : PROBE;
    for (let p = 0; p < probes; p++) {
      const k = slot * 8;
      const t = words[k + 6]! & 0xff;
      // Keys are never deleted, so an empty slot ends the chain: the key cannot be further on.
      if (t === 0) return -slot - 1;
      if (t === tag && words[k] === a[0] && words[k + 1] === a[1] && words[k + 2] === a[2] && words[k + 3] === a[3]) {
        return slot;
      }
      if (bestScore < 1) {
        // Score = the occupant's balance as a fraction of its full second of credit; ≥ 1 means idle
        // (nothing to remember), so scoring can stop. Computed inline: a helper returning a double would
        // box it whenever V8 declines to inline the call.
        const r = this.rate[t >>> 2]!;
        const score = (((nowMs - this.epoch) * r) / 1000 - nums[slot * 4 + 2]!) / r;
        if (score > bestScore) {
          best = slot;
          bestScore = score;
        }
      }
      slot = slot + 1 === cap ? 0 : slot + 1;
    }
    return -best - 1;
  }
}
