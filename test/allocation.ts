// Test helper: does a hot loop allocate? Owns the one way tests measure it (V8's new-space usage around a run).
import assert from 'node:assert/strict';
import v8 from 'node:v8';

const newSpace = (): number => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!.space_used_size;

/**
 * Asserts that `run(n)` allocates (next to) nothing. A loop that allocates even 8 bytes per call grows new space by
 * megabytes or forces a scavenge (usage drops) on every attempt. A loop that allocates nothing can still see a
 * scavenge started by something else in the process (the test runner's own timers), so up to three attempts are
 * made and one clean attempt is enough. Returns how many calls were made in all.
 */
export function assertAllocatesNothing(run: (n: number) => void, n: number, warmup = 300_000): number {
  run(warmup); // let V8 optimise first
  let calls = warmup;
  const seen: string[] = [];
  for (let attempt = 0; attempt < 3; attempt++) {
    const before = newSpace();
    run(n);
    calls += n;
    const after = newSpace();
    if (after >= before && after - before < 256 * 1024) return calls;
    seen.push(`${before} → ${after}`);
  }
  assert.fail(`new space grew or was scavenged on every attempt: ${seen.join(', ')}`);
}
