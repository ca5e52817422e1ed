// Paging through an API list (issue 10: 100,000 names): a filter box, Previous / Next and where the page is
// ("26–50 of 5,000"). The API pages by cursor (GET …?limit=N&cursor=C answers `next`), so the pager keeps the cursors
// of the pages before this one to go back. Owns: the controls and the cursor history; the view fetches and draws.
import { h } from './dom.js';

/** What a page of a list answers besides its items. */
export interface PageInfo { next?: string | null; total?: number }

export interface Pager {
  /** The controls (filter, position, Previous, Next): put them above the list. */
  readonly box: HTMLElement;
  /** The query of the page to show: limit, cursor, q. */
  params(): Record<string, string | number | undefined>;
  /** After a page arrived: what it held and what the API said about the rest. */
  shown(count: number, info: PageInfo): void;
  /** Back to the first page (e.g. the selection moved to a list the pager does not belong to). */
  reset(): void;
}

export interface PagerOptions {
  /** Element ids start with this ("names" → names-filter, names-prev, names-next). */
  id: string;
  /** Items per page. */
  size: number;
  /** What is paged, for labels: "names". */
  noun: string;
  /** Placeholder of the filter box. */
  filterHint: string;
  /** Called when the page or the filter changed: the view fetches the page. */
  changed(): void;
}

/** Exact counts with thousands separators (positions must not be rounded like rates). */
const count = (n: number): string => n.toLocaleString('en-US');

/** Typing in the filter waits this long for more keys before asking the API. */
const FILTER_WAIT_MS = 250;

export function pager(o: PagerOptions): Pager {
  /** Cursors of the pages shown before this one (undefined: the first page). */
  const back: Array<string | undefined> = [];
  let cursor: string | undefined;
  let next: string | null = null;
  let timer: number | null = null;

  const filter = h('input', { id: `${o.id}-filter`, type: 'search', placeholder: o.filterHint, spellcheck: 'false', autocomplete: 'off', 'aria-label': `filter ${o.noun}` });
  const position = h('span', { class: 'pager-pos muted', id: `${o.id}-position`, 'aria-live': 'polite' });
  const prev = h('button', { type: 'button', class: 'small', id: `${o.id}-prev`, 'aria-label': `previous page of ${o.noun}`, disabled: true }, 'Previous');
  const nextButton = h('button', { type: 'button', class: 'small', id: `${o.id}-next`, 'aria-label': `next page of ${o.noun}`, disabled: true }, 'Next');
  const box = h('div', { class: 'pager', role: 'navigation', 'aria-label': `pages of ${o.noun}` },
    h('div', { class: 'field inline pager-filter' }, h('label', { for: `${o.id}-filter` }, 'Filter'), filter),
    h('div', { class: 'pager-moves' }, position, prev, nextButton));

  const first = (): void => {
    back.length = 0;
    cursor = undefined;
  };
  /** A move waits for its page: until shown() both buttons are off, so a second quick click cannot reuse the cursor
   * of the page being left (it moved one page for two clicks and stacked the same cursor twice in the history). */
  const moving = (): void => {
    next = null;
    prev.disabled = true;
    nextButton.disabled = true;
    o.changed();
  };
  prev.addEventListener('click', () => {
    if (back.length === 0 || prev.disabled) return;
    cursor = back.pop();
    moving();
  });
  nextButton.addEventListener('click', () => {
    if (next === null) return;
    back.push(cursor);
    cursor = next;
    moving();
  });
  filter.addEventListener('input', () => {
    if (timer !== null) clearTimeout(timer);
    timer = window.setTimeout(() => { timer = null; first(); o.changed(); }, FILTER_WAIT_MS);
  });

  return {
    box,
    params: () => ({ limit: o.size, cursor, q: filter.value.trim() || undefined }),
    shown(n, info) {
      next = info.next ?? null;
      const start = back.length * o.size;
      const of = info.total !== undefined ? ` of ${count(info.total)}` : '';
      position.textContent = n === 0 ? (filter.value.trim() ? `no ${o.noun} match` : `no ${o.noun}`) : `${count(start + 1)}–${count(start + n)}${of}`;
      prev.disabled = back.length === 0;
      nextButton.disabled = next === null;
      // One page and no filter: nothing to page through, so the controls stay out of the way.
      box.hidden = back.length === 0 && next === null && !filter.value.trim();
    },
    reset: first,
  };
}
