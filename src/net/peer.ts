// The sender of a query, as the transport learned it: either the text Node reports (dgram rinfo, TCP remoteAddress)
// or address words the batched UDP transport read straight from the socket address.
// Owns: converting lazily between the two, so that the query path parses text only when a policy or RRL needs the
// words, and formats words only when a log line needs the text. One instance per Responder, reused per query.
import { parseAddress } from './address.js';
import { formatAddress } from './prefix.js';

export class PeerAddress {
  /** 4 or 6 once known; 0 while text is unparsed or when it was not an address. */
  family: 0 | 4 | 6 = 0;
  /** Big-endian 32-bit words (IPv4 in words[0]); valid when `family` is not 0 after `words()`. */
  readonly w = new Uint32Array(4);
  private text: string | null = '';
  private parsed = true;

  /** The transport knows the text form (Node's dgram/net report it). */
  setText(text: string): void {
    this.text = text;
    this.parsed = false;
  }

  /** The transport wrote `w` itself and sets the family; the text is made only if someone asks for it. */
  setWords(family: 0 | 4 | 6): void {
    this.family = family;
    this.text = null;
    this.parsed = true;
  }

  /** Family after parsing the text if needed (0: no usable address). `w` holds the words. */
  resolve(): 0 | 4 | 6 {
    if (!this.parsed) {
      this.parsed = true;
      this.family = this.text === null || this.text === '' ? 0 : parseAddress(this.text, this.w);
    }
    return this.family;
  }

  toString(): string {
    if (this.text === null) this.text = this.family === 0 ? '' : formatAddress(this.family, this.w);
    return this.text;
  }
}
