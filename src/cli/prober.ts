// `waymark prober`: an external prober process (SPEC H3; a seed 002 Heartbeat Server). It joins the distributor,
// probes what it is assigned, and reports results (its heartbeat) over signed HTTP; on SIGTERM/SIGINT it drains
// (hands its targets over without a gap) and leaves. Owns: that loop. It never trusts an unsigned or forged response.
import { Prober, type ProbeReport } from '../health/prober.js';
import { API_PREFIX, type AssignedTarget } from '../health/distributor.js';
import { NONCE_HEADER, RESPONSE_METHOD, Verifier, responsePath, sign } from '../health/signing.js';

export interface ProberProcessOptions {
  /**
   * The distributor's base URL, e.g. http://10.0.0.1:8053; in a cluster, every node's, comma-separated: only the
   * leader's listens, and the prober moves on to the next when one does not answer.
   */
  join: string;
  token: string;
  name: string;
  capacity: number;
  /** One JSON object per line (default: stdout). */
  log?: (line: object) => void;
  /** Stops the process as SIGTERM does; when given, no signal handlers are installed (in-process use). */
  signal?: AbortSignal;
  /** Give up (return 1) after the distributor has been unreachable this long (default 10 min). */
  giveUpAfterMs?: number;
  /** Longest drain after a stop request: then it leaves even if its list is not yet empty (default 10 s). */
  drainMaxMs?: number;
}

/** Most results waiting to be reported (oldest dropped first) and most sent in one report. */
const MAX_PENDING = 100_000;
const MAX_BATCH = 50_000;
const MAX_BACKOFF_MS = 5_000;

interface CallResult {
  /** HTTP status of a verified response; 0 when there was none (unreachable, timeout) or it was forged. */
  status: number;
  body: Record<string, unknown>;
}

function defaultLog(line: object): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...line })}\n`);
}

/** Keeps only well-formed targets from a (verified) assignment list. */
function wellFormed(list: unknown): AssignedTarget[] {
  if (!Array.isArray(list)) return [];
  return list.filter((t): t is AssignedTarget => {
    if (!t || typeof t !== 'object') return false;
    const o = t as Record<string, unknown>;
    const m = o.monitor as Record<string, unknown> | undefined;
    return typeof o.id === 'string' && typeof o.address === 'string' && typeof o.port === 'number'
      && !!m && typeof m.type === 'string' && typeof m.interval === 'number' && m.interval > 0 && typeof m.timeout === 'number';
  });
}

export async function runProberProcess(opts: ProberProcessOptions): Promise<number> {
  const log = opts.log ?? defaultLog;
  const bases = opts.join.split(',').map((u) => u.trim().replace(/\/+$/, '')).filter((u) => u !== '');
  let base = bases[0] ?? '';
  /** The next distributor in the list (the leader may be another node now); it must be joined anew. */
  const nextDistributor = (): void => {
    if (bases.length < 2) return;
    base = bases[(bases.indexOf(base) + 1) % bases.length]!;
    joined = false;
  };
  const verifier = new Verifier(opts.token);
  const giveUpAfterMs = opts.giveUpAfterMs ?? 600_000;
  const drainMaxMs = opts.drainMaxMs ?? 10_000;

  const pending: ProbeReport[] = [];
  let dropped = 0;
  const prober = new Prober({
    onResult: (r) => {
      pending.push({ ...r, rttMs: Number.isFinite(r.rttMs) && r.rttMs >= 0 ? r.rttMs : 0, detail: r.detail.slice(0, 1000) });
      if (pending.length > MAX_PENDING) { pending.splice(0, pending.length - MAX_PENDING); dropped++; }
    },
  });

  // Stop requests (signals or the abort signal) wake any wait at once.
  let stopAt = 0;
  let forced = false;
  let wake: (() => void) | null = null;
  const onStop = (why: string): void => {
    if (stopAt === 0) {
      stopAt = Date.now();
      log({ event: 'draining', why });
    } else if (!forced) {
      forced = true;
      log({ event: 'stopping now', why });
    }
    wake?.();
  };
  const onSigterm = (): void => onStop('SIGTERM');
  const onSigint = (): void => onStop('SIGINT');
  const onAbort = (): void => onStop('stop requested');
  if (opts.signal) {
    if (opts.signal.aborted) onAbort();
    else opts.signal.addEventListener('abort', onAbort, { once: true });
  } else {
    process.on('SIGTERM', onSigterm);
    process.on('SIGINT', onSigint);
  }
  const sleep = (ms: number): Promise<void> => new Promise((resolve) => {
    const timer = setTimeout(() => { wake = null; resolve(); }, Math.max(0, ms));
    wake = () => { clearTimeout(timer); wake = null; resolve(); };
  });

  let heartbeatMs = 1000;
  const requestTimeoutMs = (): number => Math.min(Math.max(2 * heartbeatMs, 1000), 10_000);

  async function call(path: string, payload: object, timeoutMs = requestTimeoutMs()): Promise<CallResult> {
    const full = `${API_PREFIX}${path}`;
    const body = JSON.stringify(payload);
    const headers: Record<string, string> = { ...sign(opts.token, 'POST', full, body), 'content-type': 'application/json' };
    let res: Response;
    let text: string;
    try {
      res = await fetch(`${base}${full}`, { method: 'POST', body, headers, signal: AbortSignal.timeout(timeoutMs) });
      text = await res.text();
    } catch (e) {
      const err = e as Error & { cause?: { code?: string } };
      log({ event: 'unreachable', path: full, error: err.cause?.code ?? err.name ?? 'error' });
      return { status: 0, body: {} };
    }
    const verdict = verifier.verify(RESPONSE_METHOD, responsePath(full, headers[NONCE_HEADER]!), text, res.headers);
    if (!verdict.ok) {
      log({ event: 'forged response ignored', path: full, status: res.status, reason: verdict.reason });
      return { status: 0, body: {} };
    }
    let parsed: unknown;
    try { parsed = JSON.parse(text); } catch { parsed = {}; }
    const out = parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed as Record<string, unknown> : {};
    if (res.status !== 200) log({ event: 'refused', path: full, status: res.status, reason: out.reason ?? out.error });
    return { status: res.status, body: out };
  }

  let joined = false;
  let version: number | undefined;
  let assignedCount = 0;
  let failures = 0;
  let rejoins = 0;
  let unreachableSince = 0;
  let code = 0;
  const backoff = (): number => {
    const ms = Math.min(Math.min(heartbeatMs, 250) * 2 ** Math.min(failures - 1, 10), MAX_BACKOFF_MS);
    return ms / 2 + Math.random() * (ms / 2);
  };
  const failed = (now: number): boolean => {
    failures++;
    if (unreachableSince === 0) unreachableSince = now;
    return now - unreachableSince > giveUpAfterMs;
  };

  // Each pass either joins or reports once; passes are paced by the heartbeat or the backoff, and the loop ends on
  // a finished drain, a drain past drainMaxMs, a second stop request, or giveUpAfterMs without the distributor.
  for (;;) {
    if (forced) break;
    const started = Date.now();
    if (stopAt !== 0 && started - stopAt > drainMaxMs) { log({ event: 'drain timed out', holding: assignedCount }); break; }
    if (!joined) {
      if (stopAt !== 0) break; // nothing was handed to us: nothing to hand over
      const r = await call('/join', { name: opts.name, capacity: opts.capacity });
      if (r.status === 200) {
        joined = true;
        version = undefined;
        failures = 0;
        unreachableSince = 0;
        if (typeof r.body.heartbeatMs === 'number' && Number.isFinite(r.body.heartbeatMs)) heartbeatMs = Math.min(Math.max(r.body.heartbeatMs, 50), 60_000);
        log({ event: 'joined', distributor: base, name: opts.name, capacity: opts.capacity, heartbeatMs });
        continue;
      }
      if (failed(started)) { log({ event: 'giving up', unreachableMs: started - unreachableSince }); code = 1; break; }
      nextDistributor();
      await sleep(backoff());
      continue;
    }
    const batch = pending.splice(0, MAX_BATCH);
    if (dropped > 0) { log({ event: 'results dropped while the distributor was unreachable', times: dropped }); dropped = 0; }
    const draining = stopAt !== 0;
    const r = await call('/report', { name: opts.name, results: batch, ...(draining ? { draining: true } : {}), ...(version !== undefined ? { version } : {}) });
    if (r.status === 200) {
      failures = 0;
      rejoins = 0;
      unreachableSince = 0;
      if (Array.isArray(r.body.assignments)) {
        const list = wellFormed(r.body.assignments);
        prober.assign(list);
        assignedCount = list.length;
        if (typeof r.body.version === 'number') version = r.body.version;
        log({ event: 'assigned', version, targets: list.length, primary: list.filter((t) => t.role === 'primary').length });
      }
      if (draining && assignedCount === 0) { log({ event: 'drained' }); break; }
      await sleep(started + heartbeatMs - Date.now());
      continue;
    }
    if (r.status === 404) {
      // The distributor does not know us (it restarted, or forgot us): join again, slower each time in a row.
      joined = false;
      rejoins++;
      if (rejoins > 1) await sleep(Math.min(250 * 2 ** Math.min(rejoins - 2, 10), MAX_BACKOFF_MS));
      continue;
    }
    if (r.status === 400) {
      // The distributor cannot read this batch: resending it would fail again.
      log({ event: 'results refused', count: batch.length, reason: r.body.error });
      await sleep(started + heartbeatMs - Date.now());
      continue;
    }
    // Unreachable, refused or forged: keep the results for the next try and keep probing the current assignments.
    const kept = batch.concat(pending).slice(-MAX_PENDING);
    pending.length = 0;
    for (const k of kept) pending.push(k);
    if (!draining && failed(started)) { log({ event: 'giving up', unreachableMs: started - unreachableSince }); code = 1; break; }
    if (draining) failures++;
    else if (r.status === 0) nextDistributor();
    await sleep(draining ? Math.min(backoff(), stopAt + drainMaxMs - Date.now() + 1) : backoff());
  }

  if (joined) {
    const r = await call('/leave', { name: opts.name }, 2000);
    log({ event: r.status === 200 ? 'left' : 'leave not confirmed' });
  }
  await prober.stop();
  if (opts.signal) opts.signal.removeEventListener('abort', onAbort);
  else {
    process.off('SIGTERM', onSigterm);
    process.off('SIGINT', onSigint);
  }
  log({ event: 'exit', code });
  return code;
}
