/**
 * SHA-1 (FIPS 180-4) for the MPPE rekey, which runs once per packet in stateless mode
 * (RFC 3078 §7.1). Node's crypto has SHA-1, but every `createHash`/`crypto.hash` call
 * allocates a hash object and a digest Buffer and crosses into C++; this streaming
 * implementation reuses one object and writes the digest into a caller's buffer, so the
 * per-packet path allocates nothing. Key derivation outside the hot path uses Node's SHA-1.
 */
export class Sha1 {
  private readonly h = new Int32Array(5);
  private readonly w = new Int32Array(80);
  private readonly block = new Uint8Array(64);
  private blockLength = 0;
  /** Total bytes hashed so far (fits a double exactly far beyond any PPP use). */
  private total = 0;

  constructor() {
    this.reset();
  }

  reset(): this {
    const h = this.h;
    h[0] = 0x67452301;
    h[1] = 0xefcdab89 | 0;
    h[2] = 0x98badcfe | 0;
    h[3] = 0x10325476;
    h[4] = 0xc3d2e1f0 | 0;
    this.blockLength = 0;
    this.total = 0;
    return this;
  }

  update(data: Uint8Array, offset = 0, length: number = data.length - offset): this {
    if (offset < 0 || length < 0 || offset + length > data.length) {
      throw new RangeError('SHA-1 update range outside the buffer');
    }
    const block = this.block;
    this.total += length;
    let p = offset;
    const end = offset + length;
    while (p < end) {
      // A byte loop, not block.set(data.subarray(...)): subarray would allocate a view.
      const take = Math.min(64 - this.blockLength, end - p);
      for (let k = 0; k < take; k++) block[this.blockLength + k] = data[p + k]!;
      this.blockLength += take;
      p += take;
      if (this.blockLength === 64) {
        this.compress();
        this.blockLength = 0;
      }
    }
    return this;
  }

  /** Writes the 20-byte digest to `out[offset..]` and resets the state for reuse. */
  digestInto(out: Uint8Array, offset = 0): void {
    if (offset < 0 || offset + 20 > out.length) throw new RangeError('SHA-1 digest needs 20 bytes');
    const block = this.block;
    const bits = this.total * 8;
    block[this.blockLength++] = 0x80;
    if (this.blockLength > 56) {
      block.fill(0, this.blockLength, 64);
      this.compress();
      this.blockLength = 0;
    }
    block.fill(0, this.blockLength, 56);
    // Message length in bits, big-endian 64-bit.
    const hi = Math.floor(bits / 0x100000000);
    const lo = bits >>> 0;
    block[56] = hi >>> 24;
    block[57] = hi >>> 16;
    block[58] = hi >>> 8;
    block[59] = hi;
    block[60] = lo >>> 24;
    block[61] = lo >>> 16;
    block[62] = lo >>> 8;
    block[63] = lo;
    this.compress();
    const h = this.h;
    for (let k = 0; k < 5; k++) {
      const v = h[k]!;
      out[offset + 4 * k] = v >>> 24;
      out[offset + 4 * k + 1] = v >>> 16;
      out[offset + 4 * k + 2] = v >>> 8;
      out[offset + 4 * k + 3] = v;
    }
    this.reset();
  }

  digest(): Buffer {
    const out = Buffer.allocUnsafe(20);
    this.digestInto(out);
    return out;
  }

  private compress(): void {
    const w = this.w;
    const b = this.block;
    for (let t = 0; t < 16; t++) {
      w[t] = (b[4 * t]! << 24) | (b[4 * t + 1]! << 16) | (b[4 * t + 2]! << 8) | b[4 * t + 3]!;
    }
    for (let t = 16; t < 80; t++) {
      const x = w[t - 3]! ^ w[t - 8]! ^ w[t - 14]! ^ w[t - 16]!;
      w[t] = (x << 1) | (x >>> 31);
    }
    const h = this.h;
    let a = h[0]!;
    let bb = h[1]!;
    let c = h[2]!;
    let d = h[3]!;
    let e = h[4]!;
    // Four rounds of 20 steps, one loop each, so no step branches on its round.
    for (let t = 0; t < 20; t++) {
      const temp = (((a << 5) | (a >>> 27)) + ((bb & c) | (~bb & d)) + e + 0x5a827999 + w[t]!) | 0;
      e = d;
      d = c;
      c = (bb << 30) | (bb >>> 2);
      bb = a;
      a = temp;
    }
    for (let t = 20; t < 40; t++) {
      const temp = (((a << 5) | (a >>> 27)) + (bb ^ c ^ d) + e + 0x6ed9eba1 + w[t]!) | 0;
      e = d;
      d = c;
      c = (bb << 30) | (bb >>> 2);
      bb = a;
      a = temp;
    }
    for (let t = 40; t < 60; t++) {
      const f = (bb & c) | (bb & d) | (c & d);
      const temp = (((a << 5) | (a >>> 27)) + f + e + 0x8f1bbcdc + w[t]!) | 0;
      e = d;
      d = c;
      c = (bb << 30) | (bb >>> 2);
      bb = a;
      a = temp;
    }
    for (let t = 60; t < 80; t++) {
      const temp = (((a << 5) | (a >>> 27)) + (bb ^ c ^ d) + e + 0xca62c1d6 + w[t]!) | 0;
      e = d;
      d = c;
      c = (bb << 30) | (bb >>> 2);
      bb = a;
      a = temp;
    }
    h[0] = (h[0]! + a) | 0;
    h[1] = (h[1]! + bb) | 0;
    h[2] = (h[2]! + c) | 0;
    h[3] = (h[3]! + d) | 0;
    h[4] = (h[4]! + e) | 0;
  }
}
