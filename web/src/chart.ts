// Hand-drawn SVG charts for the dashboard: a multi-line time chart with axes, legend and a hover read-out, and a
// sparkline for table rows. No chart library: the data is small (≤ 360 points a line) and SVG does it well.
// Owns: drawing. The caller passes series already fetched.
import { h, s } from './dom.js';
import { num, span } from './format.js';

export const PALETTE = ['#2563eb', '#d97706', '#059669', '#db2777', '#7c3aed', '#0891b2', '#65a30d', '#dc2626', '#4b5563', '#c026d3'];

export interface Line { key: string; label: string; values: Array<number | null> }

export interface ChartOptions {
  id: string;
  title: string;
  unit: string;
  /** Seconds between points; the last point is "now". */
  step: number;
  lines: Line[];
  /** Shown inside the frame when there is nothing to draw. */
  empty?: string;
}

const HOUR_S = 3600;
const W = 880;
const H = 260;
const PAD = { left: 52, right: 16, top: 24, bottom: 30 };

/** 1, 2, 5 × 10^k at or above v. */
export function niceCeil(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p + 1e-12) return m * p;
  return 10 * p;
}

function pathOf(values: Array<number | null>, x: (i: number) => number, y: (v: number) => number): string {
  let d = '';
  let pen = false;
  values.forEach((v, i) => {
    if (v === null || !Number.isFinite(v)) { pen = false; return; }
    d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
    pen = true;
  });
  return d;
}

function minutesLabel(secondsBack: number): string {
  if (secondsBack <= 0) return 'now';
  return `−${Math.round(secondsBack / 60)} min`;
}

export function lineChart(o: ChartOptions): HTMLElement {
  // The x axis always spans the last hour (or more when a line is longer); shorter lines end at "now".
  const n = Math.max(Math.round(HOUR_S / o.step) + 1, ...o.lines.map((l) => l.values.length));
  const lines0 = o.lines.map((l) => ({ ...l, values: [...Array<null>(n - l.values.length).fill(null), ...l.values] }));
  const max = niceCeil(Math.max(0, ...o.lines.flatMap((l) => l.values.filter((v): v is number => v !== null && Number.isFinite(v)))));
  const iw = W - PAD.left - PAD.right;
  const ih = H - PAD.top - PAD.bottom;
  const x = (i: number): number => PAD.left + (n <= 1 ? iw : (i / (n - 1)) * iw);
  const y = (v: number): number => PAD.top + ih - (v / max) * ih;

  const grid: SVGElement[] = [];
  for (let k = 0; k <= 4; k++) {
    const v = (max * k) / 4;
    grid.push(s('line', { x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v), class: k === 0 ? 'axis' : 'grid' }));
    grid.push(s('text', { x: PAD.left - 8, y: y(v) + 4, 'text-anchor': 'end', class: 'tick' }, v >= 1000 ? num(v) : String(Number(v.toFixed(3)))));
  }
  // The y axis's unit, above its top tick.
  grid.push(s('text', { x: 4, y: 12, 'text-anchor': 'start', class: 'tick unit' }, o.unit));
  const spanS = Math.max(1, n - 1) * o.step;
  const tickEvery = spanS > 1800 ? 600 : spanS > 600 ? 300 : 60;
  for (let back = 0; back <= spanS; back += tickEvery) {
    const i = n - 1 - back / o.step;
    const xi = n <= 1 ? x(0) : x(i);
    grid.push(s('line', { x1: xi, x2: xi, y1: PAD.top + ih, y2: PAD.top + ih + 4, class: 'axis' }));
    grid.push(s('text', { x: xi, y: H - 8, 'text-anchor': back === 0 ? 'end' : 'middle', class: 'tick' }, minutesLabel(back)));
  }

  const drawn = lines0.filter((l) => l.values.some((v) => v !== null));
  // Each line ends in a dot at its latest value, so a series of one point still shows.
  const lines = drawn.map((l, i) => {
    const colour = PALETTE[i % PALETTE.length]!;
    let last = l.values.length - 1;
    while (last >= 0 && (l.values[last] === null || !Number.isFinite(l.values[last]!))) last--;
    return s('g', { 'data-series': l.key },
      s('path', { d: pathOf(l.values, x, y), class: 'series', stroke: colour }),
      last >= 0 ? s('circle', { cx: x(last), cy: y(l.values[last]!), r: 3.5, fill: colour, class: 'series-end' }) : null);
  });
  const cursor = s('line', { x1: 0, x2: 0, y1: PAD.top, y2: PAD.top + ih, class: 'cursor', visibility: 'hidden' });
  const overlay = s('rect', { x: PAD.left, y: PAD.top, width: iw, height: ih, class: 'overlay' });
  const emptyText = drawn.length === 0 ? s('text', { x: PAD.left + iw / 2, y: PAD.top + ih / 2, 'text-anchor': 'middle', class: 'empty' }, o.empty ?? 'no data yet') : null;

  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `${o.title} over the last ${Math.round(spanS / 60)} minutes`, class: 'chart' },
    grid, lines, emptyText, cursor, overlay);

  // Legend: colour, label, value at the cursor (latest when the pointer is outside).
  const valueCells = drawn.map(() => h('span', { class: 'legend-value' }));
  const when = h('span', { class: 'legend-when' }, 'now');
  const showAt = (i: number): void => {
    drawn.forEach((l, k) => { valueCells[k]!.textContent = `${num(l.values[i] ?? null)} ${o.unit}`; });
    when.textContent = i >= n - 1 ? 'now' : `${Math.round(((n - 1 - i) * o.step) / 60)} min ago`;
  };
  if (n > 0) showAt(n - 1);
  overlay.addEventListener('mousemove', (ev) => {
    const box = (svg as unknown as SVGSVGElement).getBoundingClientRect();
    const px = ((ev as MouseEvent).clientX - box.left) * (W / box.width);
    const i = Math.min(n - 1, Math.max(0, Math.round(((px - PAD.left) / iw) * (n - 1))));
    cursor.setAttribute('x1', String(x(i)));
    cursor.setAttribute('x2', String(x(i)));
    cursor.setAttribute('visibility', 'visible');
    showAt(i);
  });
  overlay.addEventListener('mouseleave', () => { cursor.setAttribute('visibility', 'hidden'); if (n > 0) showAt(n - 1); });

  const legend = h('ul', { class: 'legend' },
    drawn.map((l, k) => h('li', null, h('span', { class: 'swatch', style: `background:${PALETTE[k % PALETTE.length]}` }), h('span', { class: 'legend-label' }, l.label), valueCells[k]!)),
    drawn.length ? h('li', { class: 'legend-time' }, when) : null);

  return h('figure', { class: 'chart-card card', id: o.id },
    h('figcaption', null, h('h3', null, o.title), h('span', { class: 'muted chart-scale' }, `${o.unit}, ${spanLabel(spanS)}`)),
    svg as unknown as Node, legend);
}

/** "last hour", or "last 20 min" for a shorter span. */
export function spanLabel(seconds: number): string {
  return Math.round(seconds) === HOUR_S ? 'last hour' : `last ${span(seconds)}`;
}

export interface SparkOptions {
  /** Seconds between points; the last point is "now". The frame always spans at least the last hour. */
  step: number;
  /** Per-second unit shown with the scale, e.g. "q/s". */
  unit: string;
  label: string;
  width?: number;
  height?: number;
  colour?: string;
}

/**
 * A small line for a table row, with its scale: the top of the frame is a round maximum labelled with the unit
 * ("12 q/s"), the bottom is 0, and the time span ("last hour" … "now") is written under it.
 */
export function sparkline(values: Array<number | null>, o: SparkOptions): HTMLElement {
  const w = o.width ?? 110;
  const hgt = o.height ?? 28;
  const n = Math.max(Math.round(HOUR_S / o.step) + 1, values.length);
  const padded: Array<number | null> = [...Array<null>(n - values.length).fill(null), ...values];
  const finite = padded.filter((v): v is number => v !== null && Number.isFinite(v));
  const peak = finite.length ? Math.max(...finite) : 0;
  const max = niceCeil(peak);
  const x = (i: number): number => (n <= 1 ? w : (i / (n - 1)) * w);
  const y = (v: number): number => hgt - 1 - (v / max) * (hgt - 2);
  const d = pathOf(padded, x, y);
  const first = padded.findIndex((v) => v !== null && Number.isFinite(v));
  const last = finite.length ? finite[finite.length - 1]! : null;
  let lastIndex = padded.length - 1;
  while (lastIndex >= 0 && (padded[lastIndex] === null || !Number.isFinite(padded[lastIndex]!))) lastIndex--;
  const colour = o.colour ?? PALETTE[0];
  const svg = s('svg', { viewBox: `0 0 ${w} ${hgt}`, width: w, height: hgt, class: 'spark', role: 'img',
    'aria-label': `${o.label}: ${num(last)} ${o.unit} now; scale 0 to ${num(max)} ${o.unit}, ${spanLabel((n - 1) * o.step)}` },
  s('title', {}, `${o.label}: ${num(last)} ${o.unit} now, peak ${num(finite.length ? peak : null)} ${o.unit} (${spanLabel((n - 1) * o.step)})`),
  s('line', { x1: 0, x2: w, y1: 0.5, y2: 0.5, class: 'spark-top' }),
  s('line', { x1: 0, x2: w, y1: hgt - 0.5, y2: hgt - 0.5, class: 'spark-base' }),
  first >= 0 ? s('path', { d: `${d}L${x(n - 1)},${hgt}L${x(first)},${hgt}Z`, class: 'spark-area', fill: colour }) : null,
  first >= 0 ? s('path', { d, class: 'spark-line', stroke: colour }) : null,
  // The latest value as a dot, so a series of one point (a fresh server) still shows.
  lastIndex >= 0 ? s('circle', { cx: Math.min(x(lastIndex), w - 2), cy: y(padded[lastIndex]!), r: 2, fill: colour, class: 'spark-end' }) : null);
  return h('div', { class: 'spark-box', 'data-max': String(max) },
    svg as unknown as Node,
    h('div', { class: 'spark-y', 'aria-hidden': 'true' }, h('span', { class: 'spark-max' }, `${num(max)} ${o.unit}`), h('span', null, '0')),
    h('div', { class: 'spark-x', 'aria-hidden': 'true' }, h('span', { class: 'spark-span' }, spanLabel((n - 1) * o.step)), h('span', null, 'now')));
}
