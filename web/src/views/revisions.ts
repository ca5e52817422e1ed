// Configuration revisions (SPEC C2): the list, a diff of any revision against another, and rollback (a rollback is a
// new revision copying an old one). GET /v1/revisions, /v1/revisions/:id/diff?against=M, POST …/rollback.
// Owns: this page.
import { api, listOf } from '../api.js';
import { canAdmin, type ViewFactory } from '../app.js';
import { h, patch, replace } from '../dom.js';
import { ago, clock } from '../format.js';
import type { RevisionMeta } from '../model.js';

/** Unchanged runs longer than this are folded, keeping CONTEXT lines on each side of a change. */
const CONTEXT = 3;

function lineClass(l: string): string {
  if (l.startsWith('+++') || l.startsWith('---')) return 'd-file';
  if (l.startsWith('@@')) return 'd-hunk';
  if (l.startsWith('+')) return 'd-add';
  if (l.startsWith('-')) return 'd-del';
  return 'd-ctx';
}

/** A line diff ("+ ", "- ", "  " prefixes) with long unchanged runs folded behind a button that unfolds them. */
function diffView(text: string): HTMLElement {
  const lines = text.replace(/\n$/, '').split('\n');
  const changed = lines.map((l) => { const c = lineClass(l); return c === 'd-add' || c === 'd-del'; });
  if (!changed.some(Boolean)) return h('p', { class: 'muted' }, 'No differences.');
  const near = lines.map((_, i) => {
    for (let k = Math.max(0, i - CONTEXT); k <= Math.min(lines.length - 1, i + CONTEXT); k++) if (changed[k]) return true;
    return false;
  });
  const pre = h('pre', { class: 'diff', id: 'revision-diff', 'aria-label': 'diff' });
  let i = 0;
  while (i < lines.length) {
    const cls = lineClass(lines[i]!);
    if (cls !== 'd-ctx' || near[i]) { pre.appendChild(h('span', { class: cls }, `${lines[i]}\n`)); i++; continue; }
    let j = i;
    while (j < lines.length && lineClass(lines[j]!) === 'd-ctx' && !near[j]) j++;
    const hidden = lines.slice(i, j);
    const fold = h('button', { type: 'button', class: 'd-fold' }, `⋯ ${hidden.length} unchanged line${hidden.length === 1 ? '' : 's'}`);
    fold.addEventListener('click', () => fold.replaceWith(...hidden.map((l) => h('span', { class: 'd-ctx' }, `${l}\n`))));
    pre.appendChild(fold);
    i = j;
  }
  return pre;
}

export const revisionsView: ViewFactory = (root, app, params) => {
  let revisions: RevisionMeta[] = [];
  let selected: number | null = params.get('id') ? Number(params.get('id')) : null;
  let against: number | null = null;
  let confirming = false;
  const list = h('div', { class: 'rev-list card', id: 'revision-list' });
  const detail = h('div', { class: 'rev-detail' });
  root.append(h('div', { class: 'split' }, list, detail));

  const currentId = (): number | null => (revisions.length ? Math.max(...revisions.map((r) => r.id)) : null);

  const drawList = (): void => {
    const cur = currentId();
    patch(list, h('div', null,
      h('h2', null, 'Revisions'),
      revisions.length === 0 ? h('p', { class: 'muted' }, 'No revisions yet.') :
        h('ol', { class: 'rev-items', 'aria-label': 'revisions, newest first' }, revisions.map((r) => h('li', null,
          h('button', { type: 'button', class: `rev-item${r.id === selected ? ' selected' : ''}`, 'data-id': r.id, 'aria-current': r.id === selected ? 'true' : false, 'aria-label': `revision ${r.id}` },
            h('span', { class: 'rev-id' }, `#${r.id}`),
            h('span', { class: 'rev-meta' },
              h('span', { class: 'rev-comment' }, r.comment || r.source),
              h('span', { class: 'muted small' }, `${r.source} · ${r.author} · ${ago(r.at)}`)),
            r.id === cur ? h('span', { class: 'badge tone-up' }, 'current') : null))))));
  };

  const drawDetail = async (): Promise<void> => {
    const r = revisions.find((x) => x.id === selected);
    if (!r) { replace(detail, h('div', { class: 'card' }, h('p', { class: 'muted' }, 'Pick a revision.'))); return; }
    const older = revisions.filter((x) => x.id < r.id).map((x) => x.id);
    const base = against ?? (older.length ? Math.max(...older) : null);
    const cur = currentId();
    const select = h('select', { id: 'revision-against', 'aria-label': 'compare against revision' },
      revisions.filter((x) => x.id !== r.id).map((x) => h('option', { value: x.id, selected: x.id === base }, `#${x.id} ${x.comment || x.source}`)));
    select.addEventListener('change', () => { against = Number(select.value); void drawDetail(); });
    const rollback = r.id === cur ? null : h('div', { class: 'rollback' },
      confirming
        ? [h('span', null, `Make revision #${r.id} current again? This creates a new revision.`),
          h('button', { type: 'button', class: 'danger', id: 'rollback-confirm', onclick: () => void doRollback(r.id) }, `Roll back to #${r.id}`),
          h('button', { type: 'button', class: 'ghost', onclick: () => { confirming = false; void drawDetail(); } }, 'Cancel')]
        : h('button', { type: 'button', class: 'danger', id: 'rollback', disabled: !canAdmin(app), title: canAdmin(app) ? undefined : 'needs an admin token', onclick: () => { confirming = true; void drawDetail(); } }, `Roll back to #${r.id}…`));
    let diff: HTMLElement;
    if (base === null) diff = h('p', { class: 'muted' }, 'The first revision: nothing to compare with.');
    else {
      try {
        diff = diffView(await api<string>(`/v1/revisions/${r.id}/diff?against=${base}`, { text: true }));
      } catch (e) {
        diff = h('p', { class: 'form-error', role: 'alert' }, (e as Error).message);
      }
    }
    if (selected !== r.id) return;
    replace(detail, h('section', { class: 'card', 'aria-label': `revision ${r.id}` },
      h('div', { class: 'rev-head' },
        h('h2', null, `Revision #${r.id}`, r.id === cur ? h('span', { class: 'badge tone-up' }, 'current') : null),
        rollback),
      h('dl', { class: 'facts' },
        h('dt', null, 'When'), h('dd', null, `${clock(r.at)} (${ago(r.at)})`),
        h('dt', null, 'Who'), h('dd', null, r.author),
        h('dt', null, 'Source'), h('dd', null, r.source),
        h('dt', null, 'Comment'), h('dd', null, r.comment || '—')),
      base !== null ? h('div', { class: 'diff-head' }, h('h3', null, 'Changes'), h('label', { for: 'revision-against' }, 'against'), select) : null,
      diff));
  };

  const doRollback = async (id: number): Promise<void> => {
    try {
      const res = await api<{ id?: number; revision?: { id?: number } }>(`/v1/revisions/${id}/rollback`, { method: 'POST', body: {} });
      const newId = res?.revision?.id ?? res?.id;
      app.notify(`Rolled back to #${id}${newId ? `: now revision #${newId}` : ''}`, 'ok');
      app.changed();
      confirming = false;
      against = null;
      await load();
      selected = currentId();
      drawList();
      await drawDetail();
    } catch (e) {
      app.notify(`Rollback failed: ${(e as Error).message}`, 'error');
    }
  };

  list.addEventListener('click', (ev) => {
    const btn = (ev.target as Element).closest('button[data-id]') as HTMLButtonElement | null;
    if (!btn) return;
    selected = Number(btn.dataset.id);
    against = null;
    confirming = false;
    drawList();
    void drawDetail();
  });

  const load = async (): Promise<void> => {
    revisions = listOf<RevisionMeta>(await api('/v1/revisions'), 'revisions').slice().sort((a, b) => b.id - a.id);
  };

  let first = true;
  return {
    every: 5000,
    async refresh() {
      const before = revisions.map((r) => r.id).join(',');
      await load();
      if (selected === null || !revisions.some((r) => r.id === selected)) selected = currentId();
      drawList();
      if (first || before !== revisions.map((r) => r.id).join(',')) { first = false; await drawDetail(); }
    },
  };
};
