// WorkerGenerations: a change's reply waits for every serving worker to report the generation that carries it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkerGenerations } from '../../src/supervisor/acks.js';

test('C2: a wait ends when every worker reports the generation or a later one, not before', async () => {
  const g = new WorkerGenerations();
  g.loaded(1, 4);
  let done = false;
  const wait = g.reached(5, [1, 2], 5000).then((r) => { done = true; return r; });
  g.loaded(1, 5);
  await new Promise((r) => setImmediate(r));
  assert.equal(done, false, 'worker 2 has not reported 5 yet');
  g.loaded(2, 7);
  assert.deepEqual(await wait, { ok: true, behind: [], failed: [] });
  assert.deepEqual(await g.reached(5, [1, 2], 5000), { ok: true, behind: [], failed: [] }, 'both there already: at once');
});

test('C2: a worker that leaves is not waited for; one that fails ends the wait as failed; a slow one times out', async () => {
  const g = new WorkerGenerations();
  const leaving = g.reached(2, [1, 2], 5000);
  g.loaded(1, 2);
  g.left(2);
  assert.deepEqual(await leaving, { ok: true, behind: [], failed: [] });
  const failing = g.reached(3, [1], 5000);
  g.failedAt(1, 3, 'bad image');
  assert.deepEqual(await failing, { ok: false, behind: [], failed: [{ worker: 1, errors: 'bad image' }] });
  const alive = setTimeout(() => {}, 1000); // the wait's own timer does not hold the process open
  assert.deepEqual(await g.reached(4, [1], 30), { ok: false, behind: [1], failed: [] });
  clearTimeout(alive);
});
