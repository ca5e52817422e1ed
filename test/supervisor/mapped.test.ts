// D7 (bounded memory), issue 10 "one copy, not one per process": workers read a compiled snapshot through a read-only
// mapping (native/map_file.c) instead of each holding a copy. Proves: the bytes read are the file's, on the mapping
// and on the private-copy fallback alike; errors name the path; the addon is really loaded here (so CI does not test
// only the fallback); two processes mapping one 64 MB file hold it once (Pss ≈ Rss/2, from /proc); a write through
// a mapping kills the writer and leaves the file unchanged; a collected mapping is unmapped; a replacement by
// writeFileAtomic leaves existing mappings on the old bytes.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { mapFile, mapAddon, mapUnavailable, readFileCopy, writeFileAtomic } from '../../src/supervisor/mapped.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'waymark-mapped-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const MAPPED_JS = new URL('../../src/supervisor/mapped.js', import.meta.url).href;
const linux = process.platform === 'linux';
const MiB = 1024 * 1024;

/** Bytes that differ at every offset a page boundary could hide (a counter, not a repeated block). */
function pattern(length: number, seed: number): Uint8Array {
  const b = new Uint8Array(length);
  for (let i = 0; i < length; i++) b[i] = (i * 31 + seed + (i >>> 12)) & 0xff;
  return b;
}

/** Both ways of reading a file: through mapFile (the mapping here) and the fallback's private copy. */
const readers: Array<[string, (file: string) => ArrayBuffer]> = [
  ['mapFile', (f) => mapFile(f).bytes],
  ['readFileCopy', readFileCopy],
];

test('D7: a file written in chunks by writeFileAtomic reads back byte for byte, mapped and as a private copy', () => {
  const file = path.join(dir, 'bytes.snap');
  const whole = pattern(3 * 4096 + 123, 1); // not a whole number of pages: the tail page is partial
  writeFileAtomic(file, [whole.subarray(0, 5000), whole.subarray(5000, 5001), whole.subarray(5001)]);
  assert.equal(mapFile(file).shared, mapAddon !== null);
  for (const [name, read] of readers) {
    const bytes = read(file);
    assert.equal(bytes.byteLength, whole.byteLength, name);
    assert.deepEqual(new Uint8Array(bytes), whole, name);
    // Word views are how a snapshot is read: a mapping starts on a page, so Int32 views line up.
    assert.equal(new Int32Array(bytes, 0, 4)[1], new DataView(whole.buffer).getInt32(4, true), name);
  }
  assert.deepEqual(fs.readdirSync(dir).filter((n) => n.startsWith('.')), [], 'no temporary file is left behind');
});

test('D7: an empty file maps to an empty ArrayBuffer (mmap of length 0 is not attempted)', () => {
  const file = path.join(dir, 'empty.snap');
  writeFileAtomic(file, []);
  for (const [name, read] of readers) assert.equal(read(file).byteLength, 0, name);
});

test('D7: a missing file, or a directory, is an error naming the path and the errno, on both paths', () => {
  const missing = path.join(dir, 'no-such.snap');
  for (const [name, read] of readers) {
    assert.throws(() => read(missing), (e: NodeJS.ErrnoException) => e.code === 'ENOENT' && e.message.includes(missing), name);
    assert.throws(() => read(dir), (e: NodeJS.ErrnoException) => e.code === 'EISDIR' && e.message.includes(dir), name);
  }
  if (mapAddon !== null) {
    assert.throws(() => mapFile(missing), /map_file: cannot open '.*no-such\.snap': No such file or directory/);
    assert.throws(() => mapFile(`${missing}\0x`), /must not contain NUL/);
  }
});

test('D7: the mapping addon is built and loaded on Linux (CI must not test only the private-copy fallback)', { skip: linux ? false : 'Linux only' }, () => {
  assert.ok(mapAddon !== null, `build/Release/waymark_map.node not loaded: ${mapUnavailable}`);
  assert.equal(mapUnavailable, '');
});

/** A node process that maps `file`, reads every page through an Int32Array, reports, and holds on until stdin ends. */
function spawnReader(file: string): ChildProcess {
  const script = `
    import { mapFile } from ${JSON.stringify(MAPPED_JS)};
    const m = mapFile(process.argv[1]);
    globalThis.keep = m; // reachable until exit: a collected ArrayBuffer is unmapped
    const words = new Int32Array(m.bytes);
    let wrong = 0;
    for (let i = 0; i < words.length; i += 1024) if (words[i] !== i) wrong++; // one word per 4 KiB page
    process.stdout.write(JSON.stringify({ shared: m.shared, pages: words.length / 1024, wrong }) + '\\n');
    process.stdin.on('data', () => {});
    process.stdin.on('end', () => process.exit(0));`;
  return spawn(process.execPath, ['--input-type=module', '-e', script, file], { stdio: ['pipe', 'pipe', 'inherit'] });
}

async function firstLine(child: ChildProcess): Promise<string> {
  let out = '';
  for await (const chunk of child.stdout!) {
    out += String(chunk);
    if (out.includes('\n')) return out.slice(0, out.indexOf('\n'));
  }
  throw new Error(`reader ${child.pid} exited before reporting`);
}

/** Fields of /proc/<pid>/smaps_rollup, in kB. */
function smapsRollup(pid: number): Map<string, number> {
  const text = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  return new Map([...text.matchAll(/^(\w+):\s+(\d+) kB$/gm)].map((m) => [m[1]!, Number(m[2])]));
}

/** Rss and Pss (kB) of the mappings of `file` alone, from /proc/<pid>/smaps (the rest of the process excluded). */
function fileMapping(pid: number, file: string): { rss: number; pss: number } {
  const total = { rss: 0, pss: 0 };
  let inFile = false;
  for (const line of fs.readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (header !== null) inFile = header[1] === file;
    else if (inFile && line.startsWith('Rss:')) total.rss += Number(line.split(/\s+/)[1]);
    else if (inFile && line.startsWith('Pss:')) total.pss += Number(line.split(/\s+/)[1]);
  }
  return total;
}

const smapsOptions = { skip: linux ? false : '/proc smaps is Linux only', timeout: 60_000 };
test('D7: two processes mapping one 64 MB file hold it once: Pss of the file pages is half their Rss', smapsOptions, async (t) => {
  assert.ok(mapAddon !== null, `mapping addon not loaded: ${mapUnavailable}`);
  const file = path.join(fs.realpathSync(dir), 'shared-64m.snap'); // as /proc names it: no symlinks
  const words = new Int32Array((64 * MiB) / 4);
  for (let i = 0; i < words.length; i++) words[i] = i;
  writeFileAtomic(file, [new Uint8Array(words.buffer)]);
  const children = [spawnReader(file), spawnReader(file)];
  try {
    for (const child of children) {
      const report = JSON.parse(await firstLine(child)) as { shared: boolean; pages: number; wrong: number };
      assert.deepEqual(report, { shared: true, pages: (64 * MiB) / 4096, wrong: 0 }, `reader ${child.pid}`);
    }
    // Both readers have now touched every page, and both still hold their mappings.
    for (const child of children) {
      const pid = child.pid!;
      const rollup = smapsRollup(pid);
      const rss = rollup.get('Rss')!;
      const pss = rollup.get('Pss')!;
      const mapped = fileMapping(pid, file);
      t.diagnostic(`reader ${pid}: smaps_rollup Rss ${rss} kB, Pss ${pss} kB, Shared_Clean ${rollup.get('Shared_Clean')} kB, ` +
        `Private_Clean ${rollup.get('Private_Clean')} kB, Private_Dirty ${rollup.get('Private_Dirty')} kB; ` +
        `the file's mapping: Rss ${mapped.rss} kB, Pss ${mapped.pss} kB`);
      assert.ok(mapped.rss >= 0.95 * 64 * 1024, `every page of the file is resident in the reader (${mapped.rss} kB)`);
      const halfCharged = Math.abs(mapped.pss - mapped.rss / 2) <= 0.05 * mapped.rss;
      assert.ok(halfCharged, `file pages are charged half to each reader (Pss ${mapped.pss} kB of Rss ${mapped.rss} kB)`);
      // The whole process: at least the other reader's half of the file is not this process's to pay for.
      assert.ok(rss - pss >= 0.45 * 64 * 1024, `Pss ${pss} kB well below Rss ${rss} kB`);
    }
  } finally {
    for (const child of children) {
      child.stdin!.end();
      if (child.exitCode === null) await once(child, 'exit');
    }
    fs.rmSync(file, { force: true });
  }
});

test('D7: a store through a mapping kills the process with SIGSEGV and leaves the file unchanged: callers only read', { skip: linux ? false : 'Linux only' }, () => {
  assert.ok(mapAddon !== null, `mapping addon not loaded: ${mapUnavailable}`);
  const file = path.join(dir, 'readonly.snap');
  const content = pattern(8192, 7);
  writeFileAtomic(file, [content]);
  const script = `
    import { mapFile } from ${JSON.stringify(MAPPED_JS)};
    const bytes = new Uint8Array(mapFile(process.argv[1]).bytes);
    bytes[100] = bytes[100] ^ 0xff;
    console.log('the store went through');`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, file], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.signal, 'SIGSEGV', `stdout ${r.stdout} stderr ${r.stderr}`);
  assert.deepEqual(new Uint8Array(fs.readFileSync(file)), content);
});

test('D7: a mapping is unmapped once its ArrayBuffer is collected: snapshot after snapshot does not pile up mappings', { skip: linux ? false : 'Linux only' }, () => {
  assert.ok(mapAddon !== null, `mapping addon not loaded: ${mapUnavailable}`);
  const file = path.join(fs.realpathSync(dir), 'collected.snap');
  writeFileAtomic(file, [pattern(256 * 1024, 3)]);
  // Node runs the finalizers of collected external ArrayBuffers after the collection, a batch per turn of the loop.
  const script = `
    import fs from 'node:fs';
    import { mapFile } from ${JSON.stringify(MAPPED_JS)};
    const file = process.argv[1];
    const mappings = () => fs.readFileSync('/proc/self/maps', 'utf8').split('\\n').filter((l) => l.endsWith(' ' + file)).length;
    for (let i = 0; i < 100; i++) mapFile(file);
    const held = mappings();
    globalThis.gc();
    let left = mappings();
    for (let turn = 0; turn < 200 && left > 0; turn++) {
      await new Promise((r) => setTimeout(r, 10));
      left = mappings();
    }
    console.log(JSON.stringify({ held, left }));`;
  const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script, file], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { held: 100, left: 0 });
});

test('D7: writeFileAtomic replaces a mapped file without touching it: the existing mapping reads the old bytes, a new one the new', () => {
  const file = path.join(dir, 'replaced.snap');
  const before = pattern(2 * 4096, 11);
  const after = pattern(5 * 4096 + 9, 12);
  writeFileAtomic(file, [before]);
  const old = mapFile(file);
  const inodeBefore = fs.statSync(file).ino;
  writeFileAtomic(file, [after]);
  assert.notEqual(fs.statSync(file).ino, inodeBefore, 'the new content is a new file, renamed into place');
  assert.deepEqual(new Uint8Array(old.bytes), before, 'the existing mapping still reads the old snapshot');
  assert.deepEqual(new Uint8Array(mapFile(file).bytes), after, 'a new mapping reads the new one');
  assert.deepEqual(fs.readdirSync(dir).filter((n) => n.startsWith('.')), [], 'no temporary file is left behind');
});
