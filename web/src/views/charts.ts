// Charts: queries/s per name and answers/s per member over the last hour, from GET /v1/metrics/series (10 s steps).
// Owns: this page. Without a series endpoint (404) the frames are drawn empty with a note, never an error.
import type { ViewFactory } from '../app.js';
import { lineChart, type Line } from '../chart.js';
import { h, replace } from '../dom.js';
import { fetchSeries } from './overview.js';

/** Most lines drawn per chart; the busiest win, the rest are counted under the chart. */
const MAX_LINES = 10;

function busiest(map: Record<string, number[]>): { lines: Line[]; more: number } {
  const total = (v: number[]): number => v.reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
  const entries = Object.entries(map).sort((a, b) => total(b[1]) - total(a[1]) || a[0].localeCompare(b[0]));
  return {
    lines: entries.slice(0, MAX_LINES).map(([key, values]) => ({ key, label: key, values })),
    more: Math.max(0, entries.length - MAX_LINES),
  };
}

export const chartsView: ViewFactory = (root) => {
  const box = h('div', { class: 'charts' });
  root.appendChild(box);
  return {
    every: 10_000,
    async refresh() {
      const series = await fetchSeries();
      const step = series?.step ?? 10;
      const empty = series ? 'no traffic recorded yet' : 'this server collects no time series (the series endpoint answered 404)';
      const names = busiest(series?.names ?? {});
      const members = busiest(series?.members ?? {});
      const note = (more: number): HTMLElement | null => (more ? h('p', { class: 'muted small' }, `${more} more not drawn (the ${MAX_LINES} busiest are shown)`) : null);
      replace(box,
        lineChart({ id: 'chart-names', title: 'Queries per second, by name', unit: 'q/s', step, lines: names.lines, empty }),
        note(names.more),
        lineChart({ id: 'chart-members', title: 'Answers per second, by member', unit: 'answers/s', step, lines: members.lines, empty }),
        note(members.more));
    },
  };
};
