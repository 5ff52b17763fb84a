/**
 * MD5 (RFC 1321) of a short message in the caller's buffer, reduced to what the ledger's content
 * fingerprint keeps: the digest's first 8 bytes, a signed big-endian 64-bit integer (what
 * finops_event_fingerprint() computes in SQL). Node's crypto.hash costs ~1 µs a call for a
 * 50-byte message, most of it crossing into C++ and allocating the digest; the storage consumer
 * hashes one such message per event, so it computes the same digest here, without allocating.
 */

const K = Int32Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) | 0);
const SHIFT = Uint8Array.from([7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21]);
const words = new Int32Array(16);
const int64 = Buffer.alloc(8);

/** Bytes the padding writes after the message: 0x80, zeros to a 56-byte boundary, the 8-byte length. */
export const MD5_PADDING_ROOM = 72;

function bswap(x: number): number {
  return ((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24);
}

/** The fingerprint of md5(bytes[0, length)) in decimal; see md5Prefix. */
export function md5Int64Text(bytes: Uint8Array, length: number): string {
  md5Prefix(bytes, length, int64, 0);
  return int64.readBigInt64BE(0).toString();
}

/**
 * Writes the first 8 bytes of md5(bytes[0, length)) to `out` at `at`. Writes the MD5 padding into
 * `bytes` after the message, so `bytes` must hold `length + MD5_PADDING_ROOM` bytes.
 */
export function md5Prefix(bytes: Uint8Array, length: number, out: Buffer, at: number): void {
  let end = length + 1;
  bytes[length] = 0x80;
  while (end % 64 !== 56) bytes[end++] = 0;
  const bits = length * 8;
  const bitsLow = bits >>> 0;
  const bitsHigh = Math.floor(bits / 2 ** 32);
  bytes[end] = bitsLow & 0xff;
  bytes[end + 1] = (bitsLow >>> 8) & 0xff;
  bytes[end + 2] = (bitsLow >>> 16) & 0xff;
  bytes[end + 3] = bitsLow >>> 24;
  bytes[end + 4] = bitsHigh & 0xff;
  bytes[end + 5] = (bitsHigh >>> 8) & 0xff;
  bytes[end + 6] = (bitsHigh >>> 16) & 0xff;
  bytes[end + 7] = bitsHigh >>> 24;
  end += 8;

  let a0 = 0x67452301;
  let b0 = 0xefcdab89 | 0;
  let c0 = 0x98badcfe | 0;
  let d0 = 0x10325476;
  for (let block = 0; block < end; block += 64) {
    for (let j = 0; j < 16; j++) {
      const o = block + 4 * j;
      words[j] = bytes[o] | (bytes[o + 1] << 8) | (bytes[o + 2] << 16) | (bytes[o + 3] << 24);
    }
    let a = a0;
    let b = b0;
    let c = c0;
    let d = d0;
    for (let i = 0; i < 64; i++) {
      let f: number;
      let g: number;
      if (i < 16) {
        f = (b & c) | (~b & d);
        g = i;
      } else if (i < 32) {
        f = (d & b) | (~d & c);
        g = (5 * i + 1) & 15;
      } else if (i < 48) {
        f = b ^ c ^ d;
        g = (3 * i + 5) & 15;
      } else {
        f = c ^ (b | ~d);
        g = (7 * i) & 15;
      }
      f = (f + a + K[i] + words[g]) | 0;
      a = d;
      d = c;
      c = b;
      const s = SHIFT[((i >>> 4) << 2) | (i & 3)];
      b = (b + ((f << s) | (f >>> (32 - s)))) | 0;
    }
    a0 = (a0 + a) | 0;
    b0 = (b0 + b) | 0;
    c0 = (c0 + c) | 0;
    d0 = (d0 + d) | 0;
  }
  // The digest is a0, b0, c0, d0 little-endian; its first 8 bytes read big-endian are bswap(a0), bswap(b0).
  out.writeInt32BE(bswap(a0), at);
  out.writeInt32BE(bswap(b0), at + 4);
}
