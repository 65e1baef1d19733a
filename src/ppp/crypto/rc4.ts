/**
 * RC4 (ARCFOUR), the stream cipher of MPPE (RFC 3078). Node 20's OpenSSL 3 keeps RC4 in the
 * legacy provider, so branchlink carries this small implementation instead of a global flag.
 *
 * It is the MPPE hot path: the state lives in one preallocated Uint8Array and `process`
 * writes into a caller-provided buffer, so encrypting a packet allocates nothing.
 */
/** 0, 1, ..., 255: copied into the state at each key schedule. */
const IDENTITY = Uint8Array.from({ length: 256 }, (_, i) => i);

export class Rc4 {
  private readonly s = new Uint8Array(256);
  private i = 0;
  private j = 0;

  constructor(key?: Uint8Array) {
    if (key !== undefined) this.setKey(key);
  }

  /**
   * Key-scheduling algorithm. `length` lets a caller key with a prefix of a larger buffer
   * (MPPE keys are 8 or 16 bytes taken from a 20-byte SHA-1 digest) without a subarray.
   */
  setKey(key: Uint8Array, length: number = key.length): void {
    if (length < 1 || length > 256 || length > key.length) {
      throw new RangeError(`RC4 key length must be 1..256 bytes, got ${length}`);
    }
    const s = this.s;
    s.set(IDENTITY);
    let j = 0;
    if ((length & (length - 1)) === 0) {
      // Power-of-two key lengths (MPPE's 8 and 16 bytes) index with a mask, not a modulo:
      // stateless MPPE runs this schedule twice per packet.
      const mask = length - 1;
      for (let k = 0; k < 256; k++) {
        const t = s[k]!;
        j = (j + t + key[k & mask]!) & 255;
        s[k] = s[j]!;
        s[j] = t;
      }
    } else {
      for (let k = 0; k < 256; k++) {
        const t = s[k]!;
        j = (j + t + key[k % length]!) & 255;
        s[k] = s[j]!;
        s[j] = t;
      }
    }
    this.i = 0;
    this.j = 0;
  }

  /**
   * XORs `length` bytes of keystream onto `input[inputOffset..]` and writes the result to
   * `output[outputOffset..]`. Input and output may be the same buffer at the same offset
   * (in place). Encryption and decryption are the same operation.
   */
  process(
    input: Uint8Array,
    output: Uint8Array,
    inputOffset = 0,
    outputOffset = 0,
    length: number = input.length - inputOffset,
  ): void {
    if (
      length < 0 ||
      inputOffset < 0 ||
      outputOffset < 0 ||
      inputOffset + length > input.length ||
      outputOffset + length > output.length
    ) {
      throw new RangeError('RC4 process range outside the buffers');
    }
    const s = this.s;
    let i = this.i;
    let j = this.j;
    for (let k = 0; k < length; k++) {
      i = (i + 1) & 255;
      const a = s[i]!;
      j = (j + a) & 255;
      const b = s[j]!;
      s[i] = b;
      s[j] = a;
      output[outputOffset + k] = input[inputOffset + k]! ^ s[(a + b) & 255]!;
    }
    this.i = i;
    this.j = j;
  }

  /** Convenience for tests and key derivation: returns a new buffer. */
  encrypt(data: Uint8Array): Buffer {
    const out = Buffer.allocUnsafe(data.length);
    this.process(data, out, 0, 0, data.length);
    return out;
  }
}
