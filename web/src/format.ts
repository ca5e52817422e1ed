// Numbers and times as people read them: "3 min ago", "12.4/s", "2026-11-02 10:41:07".
// Owns: presentation of values only.

export function ago(epochMs: number | undefined | null, now = Date.now()): string {
  if (!epochMs) return '—';
  const s = Math.round((now - epochMs) / 1000);
  if (s < 0) return `in ${span(-s)}`;
  if (s < 2) return 'just now';
  return `${span(s)} ago`;
}

/** A duration in seconds, two units at most: "45 s", "3 min 20 s", "2 h 5 min", "3 d 4 h". */
export function span(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  const hr = Math.floor(m / 60);
  if (hr < 24) return m % 60 ? `${hr} h ${m % 60} min` : `${hr} h`;
  const d = Math.floor(hr / 24);
  return hr % 24 ? `${d} d ${hr % 24} h` : `${d} d`;
}

export function clock(epochMs: number | undefined | null): string {
  if (!epochMs) return '—';
  const d = new Date(epochMs);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** A rate or count with sensible precision: 0, 0.35, 4.2, 87, 1.2k, 3.4M. */
export function num(v: number | undefined | null): string {
  if (v === undefined || v === null || !Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  if (a >= 1e6) return `${(v / 1e6).toFixed(a >= 1e7 ? 0 : 1)}M`;
  if (a >= 1e3) return `${(v / 1e3).toFixed(a >= 1e4 ? 0 : 1)}k`;
  if (a >= 10 || Number.isInteger(v)) return String(Math.round(v));
  if (a >= 1) return v.toFixed(1);
  return v.toFixed(2);
}

/** Durations in config: numbers are seconds; strings are shown as written. */
export function seconds(v: number | string | undefined): string {
  if (v === undefined) return '—';
  return typeof v === 'number' ? `${v} s` : v;
}

/** A compact one-line JSON for before/after values in the audit log. */
export function compact(v: unknown, max = 160): string {
  if (v === undefined || v === null) return '—';
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

export const METRIC_LABELS: Record<string, (v: number) => string> = {
  rtt: (v) => `rtt ${num(v)} ms`,
  'packet-loss': (v) => `loss ${num(v)} %`,
  connections: (v) => `${num(v)} conns`,
  cpu: (v) => `cpu ${num(v)} %`,
  'reported-load': (v) => `load ${num(v)}`,
  'packet-rate': (v) => `${num(v)} pkt/s`,
  hops: (v) => `${num(v)} hops`,
};
