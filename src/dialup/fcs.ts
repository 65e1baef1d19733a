/**
 * RFC 1662 frame check sequences, table-driven (RFC 1662 Appendix C.2 and C.3).
 *
 * Both are the bit-reversed CRCs that async HDLC sends least significant octet first:
 * FCS-16 is CRC-16/X.25 (polynomial 0x8408 reflected), FCS-32 is CRC-32 (0xEDB88320).
 * The running value starts at the INIT constant; the sender transmits its ones'
 * complement; a receiver that runs the FCS over the frame *including* the received
 * FCS octets ends on the GOOD residue.
 */

/** RFC 1662 §C.2: initial FCS-16 value. */
export const FCS16_INIT = 0xffff;
/** RFC 1662 §C.2: FCS-16 residue over a frame with a correct FCS. */
export const FCS16_GOOD = 0xf0b8;
/** RFC 1662 §C.3: initial FCS-32 value. */
export const FCS32_INIT = 0xffffffff;
/** RFC 1662 §C.3: FCS-32 residue over a frame with a correct FCS. */
export const FCS32_GOOD = 0xdebb20e3;

/** The byte-at-a-time table of RFC 1662 §C.2 / §C.3 for a reflected polynomial. */
function baseTable(poly: number): Uint32Array {
  const table = new Uint32Array(256);
  for (let b = 0; b < 256; b++) {
    let v = b;
    for (let i = 0; i < 8; i++) v = v & 1 ? (v >>> 1) ^ poly : v >>> 1;
    table[b] = v >>> 0;
  }
  return table;
}

/**
 * Slicing-by-8 tables: T[k][b] is the CRC of byte b followed by k zero bytes, so eight
 * input bytes fold into the running value with eight independent lookups (the RFC's
 * table is T[0]). About 3-4x the byte-at-a-time speed in V8.
 */
function slicingTables16(): Uint16Array[] {
  const t0 = Uint16Array.from(baseTable(0x8408));
  const tables = [t0];
  for (let k = 1; k < 8; k++) {
    const prev = tables[k - 1] as Uint16Array;
    const t = new Uint16Array(256);
    for (let b = 0; b < 256; b++) {
      const p = prev[b] as number;
      t[b] = (p >>> 8) ^ (t0[p & 0xff] as number);
    }
    tables.push(t);
  }
  return tables;
}

function slicingTables32(): Int32Array[] {
  // Int32Array keeps every value a small integer for V8 (no heap numbers in the loop).
  const t0 = Int32Array.from(baseTable(0xedb88320), (v) => v | 0);
  const tables = [t0];
  for (let k = 1; k < 8; k++) {
    const prev = tables[k - 1] as Int32Array;
    const t = new Int32Array(256);
    for (let b = 0; b < 256; b++) {
      const p = prev[b] as number;
      t[b] = (p >>> 8) ^ (t0[p & 0xff] as number);
    }
    tables.push(t);
  }
  return tables;
}

const [A0, A1, A2, A3, A4, A5, A6, A7] = slicingTables16() as [
  Uint16Array,
  Uint16Array,
  Uint16Array,
  Uint16Array,
  Uint16Array,
  Uint16Array,
  Uint16Array,
  Uint16Array,
];
const [B0, B1, B2, B3, B4, B5, B6, B7] = slicingTables32() as [
  Int32Array,
  Int32Array,
  Int32Array,
  Int32Array,
  Int32Array,
  Int32Array,
  Int32Array,
  Int32Array,
];

/**
 * Runs FCS-16 over `data[start, end)` starting from `fcs` and returns the new running
 * value (not complemented).
 */
export function fcs16(
  data: Uint8Array,
  fcs: number = FCS16_INIT,
  start = 0,
  end: number = data.length,
): number {
  let v = fcs & 0xffff;
  let i = start;
  const end8 = end - ((end - start) & 7);
  for (; i < end8; i += 8) {
    v =
      (A7[((data[i] as number) ^ v) & 0xff] as number) ^
      (A6[((data[i + 1] as number) ^ (v >>> 8)) & 0xff] as number) ^
      (A5[data[i + 2] as number] as number) ^
      (A4[data[i + 3] as number] as number) ^
      (A3[data[i + 4] as number] as number) ^
      (A2[data[i + 5] as number] as number) ^
      (A1[data[i + 6] as number] as number) ^
      (A0[data[i + 7] as number] as number);
  }
  for (; i < end; i++) v = (v >>> 8) ^ (A0[(v ^ (data[i] as number)) & 0xff] as number);
  return v;
}

/**
 * Runs FCS-32 over `data[start, end)` starting from `fcs` and returns the new running
 * value (not complemented), as an unsigned 32-bit number.
 */
export function fcs32(
  data: Uint8Array,
  fcs: number = FCS32_INIT,
  start = 0,
  end: number = data.length,
): number {
  let v = fcs | 0;
  let i = start;
  const end8 = end - ((end - start) & 7);
  for (; i < end8; i += 8) {
    v ^=
      (data[i] as number) |
      ((data[i + 1] as number) << 8) |
      ((data[i + 2] as number) << 16) |
      ((data[i + 3] as number) << 24);
    v =
      (B7[v & 0xff] as number) ^
      (B6[(v >>> 8) & 0xff] as number) ^
      (B5[(v >>> 16) & 0xff] as number) ^
      (B4[v >>> 24] as number) ^
      (B3[data[i + 4] as number] as number) ^
      (B2[data[i + 5] as number] as number) ^
      (B1[data[i + 6] as number] as number) ^
      (B0[data[i + 7] as number] as number);
  }
  for (; i < end; i++) v = (v >>> 8) ^ (B0[(v ^ (data[i] as number)) & 0xff] as number);
  return v >>> 0;
}

/** The FCS-16 a sender appends for `data`: the complemented running value. */
export function fcs16Value(data: Uint8Array, start = 0, end: number = data.length): number {
  return ~fcs16(data, FCS16_INIT, start, end) & 0xffff;
}

/** The FCS-32 a sender appends for `data`: the complemented running value. */
export function fcs32Value(data: Uint8Array, start = 0, end: number = data.length): number {
  return ~fcs32(data, FCS32_INIT, start, end) >>> 0;
}
