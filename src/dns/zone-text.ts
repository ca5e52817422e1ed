// A master file's text as a window that slides over it: the file is read and decoded a chunk at a time, so a zone of
// millions of records never has to exist as one string. Owns: UTF-8 decoding across chunk boundaries, the leading
// byte-order mark, CRLF → LF, growing the window when one entry spans chunks, and copying strings out of the window
// so that what a record keeps does not pin the whole window in memory. Knows nothing of master-file syntax.
import { closeSync, openSync, readSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';

/** Successive pieces of decoded text; `next` returns undefined once there is no more. */
export interface TextPieces {
  next(): string | undefined;
  /** Releases what the pieces are read from (a file descriptor); safe to call more than once. */
  close(): void;
}

/** Reading the file failed; `cause` is the system error (see zonefile.ts readFailure for the words shown). */
export class ZoneReadError extends Error {
  constructor(override readonly cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

/** 1 MiB: large enough that per-chunk work is noise, small enough that a 125 MB file costs a few MB at a time. */
export const DEFAULT_CHUNK_BYTES = 1 << 20;

/** The whole text as one piece (parseZoneText, $INCLUDE through a caller's readInclude). */
export function stringPieces(text: string): TextPieces {
  let done = false;
  return {
    next: () => {
      if (done) return undefined;
      done = true;
      return text;
    },
    close: () => undefined,
  };
}

/**
 * A file read `chunkBytes` at a time and decoded as UTF-8 (a character split between chunks is completed by the
 * next one; invalid bytes become U+FFFD, as readFileSync(path, 'utf8') makes them). The first chunk is read here,
 * so a missing file, a directory or a permission problem throws (a ZoneReadError) now, before any of it is parsed.
 */
export function filePieces(path: string, chunkBytes = DEFAULT_CHUNK_BYTES): TextPieces {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new ZoneReadError(err);
  }
  let open = true;
  const close = (): void => {
    if (!open) return;
    open = false;
    closeSync(fd);
  };
  const buf = Buffer.allocUnsafe(Math.max(1, chunkBytes));
  const decoder = new StringDecoder('utf8');
  const read = (): string | undefined => {
    if (!open) return undefined;
    let n: number;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch (err) {
      close();
      throw new ZoneReadError(err);
    }
    if (n === 0) {
      close();
      return decoder.end();
    }
    return decoder.write(buf.subarray(0, n));
  };
  let first: string | undefined = read();
  return {
    next: () => {
      if (first !== undefined) {
        const piece = first;
        first = undefined;
        return piece;
      }
      return read();
    },
    close,
  };
}

/**
 * V8 makes a slice of 13 or more characters a view that keeps its whole parent alive (SlicedString::kMinLength),
 * and a concatenation of that length a pair of pointers (ConsString); shorter results are copied. A record's strings
 * live as long as the zone, so a long one cut from the window is rebuilt as a concatenation and then flattened.
 */
const V8_MIN_VIEW_LENGTH = 13;

/** Written by flat() so that the read flattening the string cannot be optimised away as unused. */
let lastFlattened = 0;

/**
 * `s` with its characters in one flat string of its own. Reading a character of a concatenation makes V8 copy both
 * halves into one new string (and the collector then drops the pair), so this costs one copy and keeps neither half.
 */
export function flat(s: string): string {
  if (s.length >= V8_MIN_VIEW_LENGTH) lastFlattened = s.charCodeAt(0);
  return s;
}

/** text[start, end) as a string that does not keep `text` alive. */
export function ownedSlice(text: string, start: number, end: number): string {
  if (end - start < V8_MIN_VIEW_LENGTH) return text.slice(start, end);
  return flat(text.slice(start, start + 1) + text.slice(start + 1, end));
}

/** `head` + `tail` as one flat string of its own (an owner label and the origin suffix). */
export function ownedConcat(head: string, tail: string): string {
  return flat(head + tail);
}

/** `s` (a token that may be a view of the window) as a string of its own. */
export function owned(s: string): string {
  return ownedSlice(s, 0, s.length);
}

/**
 * The window: `text` holds the unread part of the input from `pos` on, and `line` is the line number at `pos`.
 * Readers consume whole entries by moving `pos`; when an entry runs past the end of `text`, `more()` keeps the
 * unread part and appends at least as much again, so an entry of any length is rescanned only a few times.
 */
export class ZoneText {
  text = '';
  pos = 0;
  line = 1;
  /** No more input: an entry that reaches the end of `text` ends there. */
  eof = false;
  private started = false;
  /** A "\r" at the end of a piece whose "\n" may be the first character of the next. */
  private heldCR = false;

  constructor(private readonly pieces: TextPieces) {}

  /** Appends more input; false when there was none to add (`eof` is then set). */
  more(): boolean {
    if (this.eof) return false;
    const keep = this.text.length - this.pos;
    const parts: string[] = keep > 0 ? [this.text.slice(this.pos)] : [];
    let added = 0;
    // At least as much again as is kept: geometric growth, so a long entry is rescanned O(1) times per character.
    while (added === 0 || added < keep) {
      const piece = this.nextPiece();
      if (piece === undefined) {
        this.eof = true;
        break;
      }
      parts.push(piece);
      added += piece.length;
    }
    // One piece and nothing kept (parseZoneText's whole text, or a window that ended on an entry boundary) is used
    // as it is; otherwise one copy joins the kept tail to the new text.
    this.text = parts.length === 1 ? flat(parts[0]!) : flat(parts.join(''));
    this.pos = 0;
    return added > 0;
  }

  close(): void {
    this.pieces.close();
  }

  /** The next non-empty piece with the byte-order mark dropped and CRLF made LF; undefined at the end. */
  private nextPiece(): string | undefined {
    for (;;) {
      let piece = this.pieces.next();
      if (piece === undefined) {
        if (!this.heldCR) return undefined;
        this.heldCR = false;
        return '\r';
      }
      if (this.heldCR) {
        piece = `\r${piece}`;
        this.heldCR = false;
      }
      if (piece.length === 0) continue;
      if (!this.started) {
        this.started = true;
        if (piece.charCodeAt(0) === 0xfeff) piece = piece.slice(1);
      }
      if (piece.indexOf('\r') >= 0) {
        if (piece.charCodeAt(piece.length - 1) === 0x0d) {
          this.heldCR = true;
          piece = piece.slice(0, -1);
        }
        piece = piece.replace(/\r\n/g, '\n');
      }
      if (piece.length > 0) return piece;
    }
  }
}
