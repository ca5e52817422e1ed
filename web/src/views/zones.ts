// Zones and their records (SPEC C1): the zones of the configuration (GET /v1/zones), the inline records of one
// (GET /v1/zones/:origin/records), adding a record (POST) and deleting one by its index (DELETE …/records/:index).
// Owns: this page. Writes send If-Match with the revision the records were read from, so an index never hits a record
// that moved; a 412 reloads the list. Zones and records are shown a page at a time, each with a filter: the zone list
// asks for summaries (GET /v1/zones?view=summary: counts, no records), the records list for one page of one zone.
import { api, apiWithEtag, ApiError, listOf, qs } from '../api.js';
import { canAdmin, type ViewFactory } from '../app.js';
import { h, replace, replaceKeepingFocus } from '../dom.js';
import { FormErrors, formField, numberOf, textOf } from '../form.js';
import { pager, type PageInfo } from '../pager.js';

/** A zone as the summary view lists it (full zones carry records and text instead of their counts). */
interface ZoneView { origin: string; recordCount?: number; textLines?: number; records?: unknown[]; text?: string; ns?: string[]; ttl?: number | string }
interface RecordView { name: string; type: string; ttl?: number | string; value?: string; values?: string[] }

const ZONES_PER_PAGE = 100;
const RECORDS_PER_PAGE = 100;

function recordCount(z: ZoneView): number {
  return z.recordCount ?? (z.records ?? []).length;
}

function hasText(z: ZoneView): boolean {
  return z.textLines !== undefined ? z.textLines > 0 : !!z.text;
}

const TYPES = ['A', 'AAAA', 'CNAME', 'TXT', 'MX', 'NS', 'SRV', 'CAA', 'PTR'];

function valueText(r: RecordView): string {
  return r.value ?? (r.values ?? []).join(', ');
}

export const zonesView: ViewFactory = (root, app, params) => {
  let zones: ZoneView[] = [];
  let selected: string | null = params.get('zone');
  /** The selected zone's summary (it may be on another page of the list). */
  let zone: ZoneView | null = null;
  let records: RecordView[] = [];
  /** indexes[i]: the index of records[i] in its zone (what DELETE …/records/:index takes). */
  let indexes: number[] = [];
  let etag: string | null = null;
  let confirming: number | null = null;
  const zonePages = pager({ id: 'zones', size: ZONES_PER_PAGE, noun: 'zones', filterHint: 'zone contains', changed: () => { void reload(); } });
  const recordPages = pager({ id: 'records', size: RECORDS_PER_PAGE, noun: 'records', filterHint: 'owner contains', changed: () => { void reload(); } });

  const list = h('div', { class: 'card zone-list', id: 'zone-list' });
  const detail = h('div', { class: 'zone-detail' });
  root.append(h('div', { class: 'split' }, list, detail));

  const admin = (): boolean => canAdmin(app);
  const readOnlyNote = (): HTMLElement | null => (admin() ? null : h('p', { class: 'muted small read-only-note' }, 'Changing records needs an admin token; this one can only read.'));

  const drawList = (): void => {
    replaceKeepingFocus(list,
      h('h2', null, 'Zones'),
      zonePages.box,
      zones.length === 0 ? h('p', { class: 'muted' }, zonePages.params().q ? 'No zone matches the filter.' : 'No zones in the configuration.') : null,
      h('ul', { class: 'rev-items' }, zones.map((z) => h('li', null,
        h('button', { type: 'button', class: `rev-item${z.origin === selected ? ' selected' : ''}`, 'aria-pressed': String(z.origin === selected), 'aria-label': `zone ${z.origin}`,
          onclick: () => { app.go('zones', { zone: z.origin }); } },
        h('span', { class: 'rev-meta' }, h('code', { class: 'rev-comment' }, z.origin),
          h('small', { class: 'muted' }, `${recordCount(z).toLocaleString('en-US')} inline record${recordCount(z) === 1 ? '' : 's'}${hasText(z) ? ' + master-file text' : ''}`)))))));
  };

  // The add-record form lives across redraws, so what the user typed survives a reload of the list.
  const fName = formField('name', 'Name', h('input', { id: 'record-name', name: 'name', placeholder: 'www or @', spellcheck: 'false', autocomplete: 'off' }), 'relative to the zone, or absolute with a final dot');
  const typeSelect = h('select', { id: 'record-type', name: 'type' }, TYPES.map((t) => h('option', { value: t }, t)));
  const fType = formField('type', 'Type', typeSelect);
  const fTtl = formField('ttl', 'TTL', h('input', { id: 'record-ttl', name: 'ttl', placeholder: 'zone default', inputmode: 'numeric', autocomplete: 'off' }), 'seconds, or 5m, 1h');
  const fValue = formField('value', 'Value', h('input', { id: 'record-value', name: 'value', placeholder: '192.0.2.10', spellcheck: 'false', autocomplete: 'off' }));
  const fields = [fName, fType, fTtl, fValue];
  fType.box.classList.add('field-narrow');
  fTtl.box.classList.add('field-narrow');
  const submit = h('button', { type: 'submit', class: 'primary', id: 'record-add' }, 'Add record');
  const errors = new FormErrors(fields, h('div', { id: 'record-errors' }));
  const form = h('form', { class: 'card', id: 'record-form', 'aria-label': 'add a record', novalidate: true },
    h('h3', null, 'Add a record'),
    h('div', { class: 'form-row edit-form' }, fields.map((f) => f.box), h('div', { class: 'field field-button' }, submit)),
    errors.general);
  form.addEventListener('submit', (ev) => { ev.preventDefault(); void addRecord(); });

  /** The selected zone's summary and one page of its records; false when the zone is gone. */
  const loadRecords = async (): Promise<boolean> => {
    if (!selected) { zone = null; records = []; indexes = []; etag = null; return true; }
    const origin = selected;
    try {
      const [summary, r] = await Promise.all([
        api(`/v1/zones${qs({ view: 'summary', name: [origin] })}`).then((b) => listOf<ZoneView>(b, 'zones')[0] ?? null),
        apiWithEtag<PageInfo & { indexes?: number[] }>(`/v1/zones/${encodeURIComponent(origin)}/records${qs(recordPages.params())}`),
      ]);
      zone = summary;
      records = listOf<RecordView>(r.body, 'records');
      indexes = r.body.indexes ?? records.map((_, i) => i);
      etag = r.etag;
      recordPages.shown(records.length, r.body);
      return zone !== null;
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return false;
      throw e;
    }
  };

  const deleteRecord = async (i: number): Promise<void> => {
    const r = records[i];
    const index = indexes[i];
    if (!selected || !r || index === undefined) return;
    try {
      await api(`/v1/zones/${encodeURIComponent(selected)}/records/${index}`, { method: 'DELETE', ifMatch: etag });
      app.notify(`Deleted ${r.name} ${r.type} from ${selected}`, 'ok');
      app.changed();
    } catch (e) {
      app.notify(e instanceof ApiError && e.status === 412 ? 'The configuration changed meanwhile: the records were reloaded; check and try again.' : `Could not delete: ${(e as Error).message}`, 'error');
    }
    confirming = null;
    await reload();
  };

  const deleteCell = (r: RecordView, i: number): HTMLElement => {
    if (confirming === i) {
      return h('td', { class: 'row-actions' },
        h('button', { type: 'button', class: 'danger small', 'aria-label': `confirm delete ${r.name} ${r.type}`, onclick: () => void deleteRecord(i) }, 'Delete'),
        h('button', { type: 'button', class: 'small', onclick: () => { confirming = null; drawDetail(); } }, 'Keep'));
    }
    return h('td', { class: 'row-actions' }, h('button', {
      type: 'button', class: 'danger small', disabled: !admin(), 'aria-label': `delete record ${r.name} ${r.type} ${valueText(r)}`,
      title: admin() ? 'delete this record (asks first)' : 'needs an admin token',
      onclick: () => { confirming = i; drawDetail(); },
    }, 'Delete…'));
  };

  const drawDetail = (): void => {
    if (!zone) {
      replace(detail, h('div', { class: 'card empty-state' }, h('p', { class: 'muted' }, zones.length ? 'Choose a zone.' : 'No zones.')));
      return;
    }
    for (const f of fields) f.control.disabled = !admin();
    submit.disabled = !admin();
    replaceKeepingFocus(detail,
      h('section', { class: 'card', 'aria-label': `records of ${zone.origin}` },
        h('div', { class: 'card-head' }, h('h2', null, 'Records of ', h('code', null, zone.origin)), h('span', { class: 'muted small' }, etag ? `revision ${etag.replace(/\W|rev-/g, '')}` : '')),
        hasText(zone) ? h('p', { class: 'muted small' }, 'This zone also has master-file text; its records are not listed here (change them by replacing the zone).') : null,
        recordPages.box,
        records.length === 0 ? h('p', { class: 'muted' }, recordPages.params().q ? 'No record matches the filter.' : 'No inline records.')
          : h('div', { class: 'table-scroll' }, h('table', { class: 'grid-table records', id: 'records-table' },
            h('thead', null, h('tr', null, ['Name', 'Type', 'TTL', 'Value', ''].map((c) => h('th', { scope: 'col' }, c)))),
            h('tbody', null, records.map((r, i) => h('tr', { 'data-name': r.name, 'data-type': r.type },
              h('td', null, h('code', null, r.name)),
              h('td', null, r.type),
              h('td', null, r.ttl === undefined ? h('span', { class: 'muted' }, 'default') : String(r.ttl)),
              h('td', { class: 'record-value' }, h('code', null, valueText(r))),
              deleteCell(r, i)))))),
        readOnlyNote()),
      form);
  };

  async function addRecord(): Promise<void> {
    if (!selected) return;
    errors.clear();
    const body: Record<string, unknown> = { name: textOf(fName.control) ?? '', type: typeSelect.value };
    const ttl = numberOf(fTtl.control);
    if (ttl !== undefined) body.ttl = ttl;
    body.value = textOf(fValue.control) ?? '';
    submit.disabled = true;
    try {
      await api(`/v1/zones/${encodeURIComponent(selected)}/records`, { method: 'POST', body, ifMatch: etag });
      app.notify(`Added ${body.name} ${body.type} to ${selected}`, 'ok');
      app.changed();
      fName.control.value = '';
      fValue.control.value = '';
      fTtl.control.value = '';
      await reload();
    } catch (e) {
      if (e instanceof ApiError && e.status === 412) { await reload(); errors.show(new Error('The configuration changed meanwhile: the records were reloaded. Check them and add again.')); }
      else errors.show(e);
    } finally {
      submit.disabled = !admin();
    }
  }

  /** Reloads started (a write's and a page change's may overlap): only the latest one draws. */
  let started = 0;
  async function reload(): Promise<void> {
    const mine = ++started;
    const body = await api<PageInfo>(`/v1/zones${qs({ ...zonePages.params(), view: 'summary' })}`);
    if (mine !== started) return;
    zones = listOf<ZoneView>(body, 'zones');
    zonePages.shown(zones.length, body);
    // The selection may be on another page of the list (it came with the URL); a zone that is gone gives way.
    if (!selected) selected = zones[0]?.origin ?? null;
    if (!(await loadRecords())) {
      selected = zones[0]?.origin ?? null;
      recordPages.reset();
      await loadRecords();
    }
    if (mine !== started) return;
    drawList();
    drawDetail();
  }

  root.prepend(h('p', { class: 'lead muted' }, 'The zones Waymark answers for and their static records. Every change is a new configuration revision.'));
  return { refresh: reload };
};
