// The PROXY protocol header (HAProxy's spec, versions 1 and 2) that tells a target who the real client is, since
// the connection it sees comes from the forwarder. Owns: encoding the header. Version 1 is text, TCP only; version 2
// is binary and also prefixes UDP datagrams (SOCK_DGRAM).
import net from 'node:net';
import { parseIPv4, parseIPv6 } from '../net/address.js';

/** The 12-byte signature that starts every version 2 header. */
export const PROXY_V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

export interface ProxyEndpoints {
  protocol: 'tcp' | 'udp';
  source: string;
  sourcePort: number;
  destination: string;
  destinationPort: number;
}

/** The header for connection `e` in `version`; v1 over UDP does not exist (config validation refuses it). */
export function proxyHeader(version: 1 | 2, e: ProxyEndpoints): Buffer {
  return version === 1 ? proxyV1(e) : proxyV2(e);
}

function proxyV1(e: ProxyEndpoints): Buffer {
  const family = net.isIPv6(e.source) ? 'TCP6' : 'TCP4';
  return Buffer.from(`PROXY ${family} ${e.source} ${e.destination} ${e.sourcePort} ${e.destinationPort}\r\n`, 'latin1');
}

function proxyV2(e: ProxyEndpoints): Buffer {
  const v6 = net.isIPv6(e.source);
  const addrLen = v6 ? 36 : 12;
  const b = Buffer.alloc(16 + addrLen);
  PROXY_V2_SIGNATURE.copy(b, 0);
  b[12] = 0x21; // version 2, command PROXY
  b[13] = (v6 ? 0x20 : 0x10) | (e.protocol === 'tcp' ? 0x01 : 0x02);
  b.writeUInt16BE(addrLen, 14);
  const n = v6 ? 16 : 4;
  writeAddress(b, 16, e.source, v6);
  writeAddress(b, 16 + n, e.destination, v6);
  b.writeUInt16BE(e.sourcePort, 16 + 2 * n);
  b.writeUInt16BE(e.destinationPort, 18 + 2 * n);
  return b;
}

function writeAddress(b: Buffer, at: number, address: string, v6: boolean): void {
  if (!v6) {
    b.writeUInt32BE(parseIPv4(address) >>> 0, at);
    return;
  }
  const words = new Uint32Array(4);
  parseIPv6(address, words);
  for (let i = 0; i < 4; i++) b.writeUInt32BE(words[i]!, at + 4 * i);
}
