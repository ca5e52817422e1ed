// Immutable files shared by the processes of one node (a compiled snapshot read by every worker): loader for the
// read-only mapping addon (native/map_file.c, built by `npm ci` with node-gyp), a private-copy fallback when it is
// missing, and the one way such a file is written (whole, to a new inode, then renamed into place).
// Owns: mapping or reading a file, and replacing one. Never writes into a mapped file or through a mapping.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { loadAddon } from '../net/addon.js';

/**
 * A file's bytes. READ ONLY: when `shared`, they are the kernel's page cache mapped PROT_READ, and one store through
 * any view over them (Uint8Array, Int32Array, DataView) is a SIGSEGV that kills the process, not an exception.
 * Callers wrap `bytes` in views and only read. The pages stay valid for as long as `bytes` is reachable, even after
 * the file is replaced or removed; they are unmapped when the ArrayBuffer is collected.
 */
export interface MappedFile {
  bytes: ArrayBuffer;
  /**
   * True when the bytes come from the mapping, so every process mapping the same file shares one copy in memory
   * (an empty file maps nothing, and no process holds a copy of it either); false for a private copy on this
   * process's heap (addon unavailable: `mapUnavailable` says why).
   */
  shared: boolean;
}

interface Addon {
  map(path: string): ArrayBuffer;
}

const loaded = loadAddon<Addon>('waymark_map', 'the mapping addon is built on Linux only');
/** The addon, or null; `mapUnavailable` then says why, and `mapFile` reads private copies. */
export const mapAddon: Addon | null = loaded.addon;
export const mapUnavailable: string = loaded.reason;

/**
 * The file at `file`, mapped read-only when the addon is loaded, else read into this process's heap. Errors (no such
 * file, no permission, a directory) are thrown naming the path, with `code` set to the errno name (ENOENT...) on
 * either path.
 */
export function mapFile(file: string): MappedFile {
  if (mapAddon !== null) return { bytes: mapAddon.map(file), shared: true };
  return { bytes: readFileCopy(file), shared: false };
}

/**
 * The fallback: the whole file in an ArrayBuffer of this process's own. Writable, but callers treat it as they
 * would a mapping. Exported so tests can check both paths give the same bytes and errors.
 */
export function readFileCopy(file: string): ArrayBuffer {
  const b = readNamingPath(file);
  // A large read owns its whole ArrayBuffer: hand it over rather than hold the file twice. A small one may be a
  // slice of Node's shared buffer pool, whose other bytes are not ours to expose: copy those out.
  if (b.buffer instanceof ArrayBuffer && b.byteOffset === 0 && b.byteLength === b.buffer.byteLength) return b.buffer;
  const copy = new ArrayBuffer(b.byteLength);
  new Uint8Array(copy).set(b);
  return copy;
}

/** fs.readFileSync, whose errors all name the file (a directory's EISDIR comes from read(), which names none). */
function readNamingPath(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.path === undefined) {
      err.path = file;
      err.message = `${err.message} '${file}'`;
    }
    throw err;
  }
}

/**
 * Writes `chunks` as the new content of `file`, all or nothing: into a new file in the same directory (a rename
 * across file systems would not be atomic), flushed to disk, then renamed over `file`. Processes that mapped the old
 * file keep reading the old inode's pages unchanged; only a new `mapFile` sees the new bytes. Writing in place would
 * change pages under their readers, and truncating would make their reads a SIGBUS.
 * Synchronous: meant for the supervisor's compile step, not for a process answering queries. `durable: false`
 * skips the fsyncs, for files that are a cache of something else (compiled snapshots are rebuilt from the store).
 */
export function writeFileAtomic(file: string, chunks: readonly Uint8Array[], opts: { durable?: boolean } = {}): void {
  const durable = opts.durable ?? true;
  const dir = path.dirname(file);
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    writeDurably(temp, chunks, durable);
    fs.renameSync(temp, file);
  } catch (e) {
    fs.rmSync(temp, { force: true });
    throw e;
  }
  if (durable) syncDirectory(dir);
}

/**
 * A new file (`wx`: never one that exists) holding `chunks`, fsync'd before it is closed. Owner-only: the workers
 * that read it run as the supervisor's user.
 */
function writeDurably(file: string, chunks: readonly Uint8Array[], durable: boolean): void {
  const fd = fs.openSync(file, 'wx', 0o600);
  try {
    for (const chunk of chunks) writeAll(fd, chunk);
    if (durable) fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** writeSync may write less than asked (a signal, a full disk reported late): loop until the chunk is out. */
function writeAll(fd: number, chunk: Uint8Array): void {
  for (let done = 0; done < chunk.byteLength; ) done += fs.writeSync(fd, chunk, done, chunk.byteLength - done);
}

/**
 * The rename itself reaches the disk only with the directory's entry: without this a crash could bring the old
 * file back (still whole: never a half-written one).
 */
function syncDirectory(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
