// `npm run bench:revisions`: what configuration revisions cost in the store. Generates (in a temp directory; nothing
// large is committed) a declarative configuration with one large inline zone and many policy names, commits it and
// then REVISIONS_CHANGES small changes (one record added, one name changed, one pool changed, in turn) straight to
// the store, and prints the store's size on disk, the time to commit one small change, to read the current revision
// back whole and to diff the last two revisions. Everything runs in this process against a real SQLite file.
// Sizes: REVISIONS_RECORDS (default 200000), REVISIONS_NAMES (default 20000), REVISIONS_CHANGES (default 19: 20
// revisions in all).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { openStore, STORE_FILE } = await import(path.join(ROOT, 'dist', 'src', 'state', 'store.js'));
const { Revisions } = await import(path.join(ROOT, 'dist', 'src', 'config', 'revisions.js'));

const num = (name, def) => { const v = Number(process.env[name] ?? def); if (!(v >= 0)) throw new Error(`${name} must be a number ≥ 0`); return v; };
const RECORDS = num('REVISIONS_RECORDS', 200_000);
const NAMES = num('REVISIONS_NAMES', 20_000);
const CHANGES = num('REVISIONS_CHANGES', 19);

function config() {
  const records = [];
  for (let i = 0; i < RECORDS; i++) records.push({ name: `h${i}`, type: 'A', value: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` });
  const names = [];
  const pools = [];
  for (let i = 0; i < NAMES; i++) {
    names.push({ name: `n${i}.gslb.test`, pools: [`p${i}`], ttl: 30 });
    pools.push({ name: `p${i}`, members: [{ address: `10.1.${(i >> 8) & 255}.${i & 255}` }, { address: `10.2.${(i >> 8) & 255}.${i & 255}` }] });
  }
  return { zones: [{ origin: 'big.test', ttl: 300, ns: ['ns1'], records }, { origin: 'gslb.test', ns: ['ns1'], records: [{ name: 'ns1', type: 'A', value: '127.0.0.53' }] }], names, pools };
}

/** The i-th small change, made on a copy of `d` (as an API write makes it). */
function change(d, i) {
  const next = structuredClone(d);
  if (i % 3 === 0) next.zones[0].records.push({ name: `added${i}`, type: 'A', value: '192.0.2.1' });
  else if (i % 3 === 1) next.names[i % Math.max(1, next.names.length)].ttl = 30 + i;
  else next.pools[i % Math.max(1, next.pools.length)].members[0].weight = 1 + i;
  return next;
}

function sizeOf(dir) {
  return fs.readdirSync(dir).filter((f) => f.startsWith(STORE_FILE)).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
}

const ms = (t0) => `${(performance.now() - t0).toFixed(0)} ms`;
const mb = (b) => `${(b / 1024 / 1024).toFixed(1)} MB`;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'waymark-revisions-'));
try {
  let d = config();
  const json = JSON.stringify(d).length;
  console.log(`configuration: ${RECORDS.toLocaleString()} records, ${NAMES.toLocaleString()} names and pools; ${mb(json)} of JSON`);
  let store = openStore(dir);
  const meta = (i) => ({ at: Date.now(), author: 'bench', source: 'api', comment: `change ${i}`, hash: `h${i}`, file: null });
  const audit = (i) => ({ at: Date.now(), actor: 'bench', origin: 'bench', action: 'bench', target: `change/${i}`, before: null });
  let t0 = performance.now();
  store.addRevision({ ...meta(0), config: d }, audit(0));
  console.log(`first revision committed: ${ms(t0)}`);
  let changeMs = 0;
  for (let i = 1; i <= CHANGES; i++) {
    d = change(d, i);
    t0 = performance.now();
    store.addRevision({ ...meta(i), config: d }, audit(i));
    changeMs += performance.now() - t0;
  }
  store.close();
  console.log(`${CHANGES} small changes committed: ${(changeMs / Math.max(1, CHANGES)).toFixed(0)} ms each on average`);
  console.log(`store after ${CHANGES + 1} revisions: ${mb(sizeOf(dir))} on disk`);

  store = openStore(dir);
  const cur = store.currentRevision();
  t0 = performance.now();
  const whole = store.revision(cur.id);
  const readMs = ms(t0);
  if (JSON.stringify(whole.config) !== JSON.stringify(d)) throw new Error('the current revision does not read back as committed');
  console.log(`current revision read back whole (and equal): ${readMs}`);
  const revisions = new Revisions(store, {}, dir);
  t0 = performance.now();
  const text = revisions.diff(cur.id - 1, cur.id);
  console.log(`diff of the last two revisions: ${ms(t0)}, ${text === null ? 0 : text.split('\n').length} lines`);
  store.close();
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
