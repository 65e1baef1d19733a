/**
 * MD4 (RFC 1320), needed only for the NT password hash of MS-CHAP (RFC 2759 §8.3).
 * Node 20's OpenSSL 3 refuses md4 without the legacy provider, and the inputs here are a
 * few hundred bytes once per authentication, so a plain, readable implementation suffices.
 */

// RFC 1320 §3.4: the round functions.
const F = (x: number, y: number, z: number): number => (x & y) | (~x & z);
const G = (x: number, y: number, z: number): number => (x & y) | (x & z) | (y & z);
const H = (x: number, y: number, z: number): number => x ^ y ^ z;
const rotl = (x: number, n: number): number => (x << n) | (x >>> (32 - n));

/** Returns the 16-byte MD4 digest of `data`. */
export function md4(data: Uint8Array): Buffer {
  // RFC 1320 §3.1-3.2: pad with 0x80 and zeros to 56 mod 64, then the bit length (LE 64-bit).
  const blocks = Math.ceil((data.length + 9) / 64);
  const msg = Buffer.alloc(blocks * 64);
  msg.set(data, 0);
  msg[data.length] = 0x80;
  const bits = data.length * 8;
  msg.writeUInt32LE(bits >>> 0, msg.length - 8);
  msg.writeUInt32LE(Math.floor(bits / 0x100000000), msg.length - 4);

  // RFC 1320 §3.3: initial buffer.
  let a = 0x67452301;
  let b = 0xefcdab89 | 0;
  let c = 0x98badcfe | 0;
  let d = 0x10325476;
  const x = new Int32Array(16);

  for (let off = 0; off < msg.length; off += 64) {
    for (let i = 0; i < 16; i++) x[i] = msg.readInt32LE(off + 4 * i);
    const aa = a;
    const bb = b;
    const cc = c;
    const dd = d;

    // Round 1: [abcd k s] a = (a + F(b,c,d) + X[k]) <<< s
    const r1 = (p: number, q: number, r: number, s: number, k: number, sh: number): number =>
      rotl((p + F(q, r, s) + x[k]!) | 0, sh);
    for (let i = 0; i < 16; i += 4) {
      a = r1(a, b, c, d, i, 3);
      d = r1(d, a, b, c, i + 1, 7);
      c = r1(c, d, a, b, i + 2, 11);
      b = r1(b, c, d, a, i + 3, 19);
    }

    // Round 2: a = (a + G(b,c,d) + X[k] + 5A827999) <<< s, k = 0,4,8,12 / 1,5,9,13 / ...
    const r2 = (p: number, q: number, r: number, s: number, k: number, sh: number): number =>
      rotl((p + G(q, r, s) + x[k]! + 0x5a827999) | 0, sh);
    for (let i = 0; i < 4; i++) {
      a = r2(a, b, c, d, i, 3);
      d = r2(d, a, b, c, i + 4, 5);
      c = r2(c, d, a, b, i + 8, 9);
      b = r2(b, c, d, a, i + 12, 13);
    }

    // Round 3: a = (a + H(b,c,d) + X[k] + 6ED9EBA1) <<< s, k in bit-reversed order 0,2,1,3.
    const r3 = (p: number, q: number, r: number, s: number, k: number, sh: number): number =>
      rotl((p + H(q, r, s) + x[k]! + 0x6ed9eba1) | 0, sh);
    for (const i of [0, 2, 1, 3]) {
      a = r3(a, b, c, d, i, 3);
      d = r3(d, a, b, c, i + 8, 9);
      c = r3(c, d, a, b, i + 4, 11);
      b = r3(b, c, d, a, i + 12, 15);
    }

    a = (a + aa) | 0;
    b = (b + bb) | 0;
    c = (c + cc) | 0;
    d = (d + dd) | 0;
  }

  const out = Buffer.alloc(16);
  out.writeInt32LE(a, 0);
  out.writeInt32LE(b, 4);
  out.writeInt32LE(c, 8);
  out.writeInt32LE(d, 12);
  return out;
}
