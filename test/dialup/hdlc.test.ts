import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fcs16Value } from '../../src/dialup/fcs.js';
import {
  DEFAULT_ACCM,
  encodeHdlcFrame,
  type FcsBits,
  HdlcDecoder,
  HdlcEncoder,
  maxEncodedLength,
} from '../../src/dialup/hdlc.js';
import type { Result } from '../../src/ppp/result.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/**
 * Published wire forms of LCP Configure-Requests sent with the default ACCM
 * (0xFFFFFFFF), flag to flag:
 * - CAPTURE_SNIFFER: a pppd session captured on a real serial line (2019-03-21) and
 *   printed in the header comment of qianfan Zhao's ppp_sniffer (main.c, GPLv3):
 *   ConfReq id=1 <asyncmap 0x0> <magic 0x0e791a59> <pcomp> <accomp>.
 * - CAPTURE_JORNADA: the "real LCP Configure-Request captured from the Jornada 680e"
 *   used as a fixture by a public Jornada PPP-record parser:
 *   ConfReq id=1 <asyncmap 0x0> <pcomp> <accomp>.
 */
const CAPTURE_SNIFFER = {
  frame: hex('ff 03 c0 21 01 01 00 14 02 06 00 00 00 00 05 06 0e 79 1a 59 07 02 08 02'),
  wire: hex(`7E FF 7D 23 C0 21 7D 21 7D 21 7D 20 7D 34 7D 22 7D 26 7D 20 7D 20 7D 20
             7D 20 7D 25 7D 26 7D 2E 79 7D 3A 59 7D 27 7D 22 7D 28 7D 22 EF 3E 7E`),
};
const CAPTURE_JORNADA = {
  frame: hex('ff 03 c0 21 01 01 00 0e 02 06 00 00 00 00 07 02 08 02'),
  wire: hex(`7e ff 7d 23 c0 21 7d 21 7d 21 7d 20 7d 2e 7d 22 7d 26 7d 20 7d 20 7d 20
             7d 20 7d 27 7d 22 7d 28 7d 22 70 34 7e`),
};

function okFrames(results: Result<Buffer>[]): Buffer[] {
  const out: Buffer[] = [];
  for (const r of results) if (r.ok) out.push(r.value);
  return out;
}

function errorKinds(results: Result<Buffer>[]): string[] {
  const out: string[] = [];
  for (const r of results) if (!r.ok) out.push(r.error.kind);
  return out;
}

/** Splits `data` at the given cut points (any order, any values). */
function chunked(data: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(data.subarray(prev, p));
    prev = p;
  }
  out.push(data.subarray(prev));
  return out;
}

function decodeChunks(decoder: HdlcDecoder, chunks: Buffer[]): Result<Buffer>[] {
  const out: Result<Buffer>[] = [];
  for (const c of chunks) decoder.push(c, (r) => out.push(r));
  return out;
}

/** A frame with its FCS but without flags or escaping, for building odd wire forms. */
function withFcs16(frame: Buffer): Buffer {
  const v = fcs16Value(frame);
  return Buffer.concat([frame, Buffer.from([v & 0xff, v >>> 8])]);
}

describe('HDLC encoder', () => {
  it('escapes an LCP Configure-Request with the default ACCM exactly as a captured pppd frame', () => {
    expect(encodeHdlcFrame(CAPTURE_SNIFFER.frame).equals(CAPTURE_SNIFFER.wire)).toBe(true);
  });

  it('escapes an LCP Configure-Request with the default ACCM exactly as the Jornada capture', () => {
    expect(encodeHdlcFrame(CAPTURE_JORNADA.frame).equals(CAPTURE_JORNADA.wire)).toBe(true);
  });

  it('leaves control characters unescaped under ACCM 0 but always escapes 0x7D and 0x7E', () => {
    const wire = encodeHdlcFrame(Buffer.from([0x00, 0x11, 0x7d, 0x7e, 0x20]), { accm: 0 });
    // 7e | 00 11 7d5d 7d5e 20 | fcs | 7e
    expect(wire.subarray(0, 8)).toEqual(hex('7e 00 11 7d 5d 7d 5e 20'));
    expect(wire.at(-1)).toBe(0x7e);
  });

  it('escapes only the control characters whose ACCM bit is set (XON/XOFF map 0x000A0000)', () => {
    const wire = encodeHdlcFrame(Buffer.from([0x11, 0x12, 0x13, 0x01]), { accm: 0x000a0000 });
    expect(wire.subarray(0, 7)).toEqual(hex('7e 7d 31 12 7d 33 01'));
  });

  it('sends an opening flag only when the line has been idle (pppd flag_time)', () => {
    const enc = new HdlcEncoder({ flagIdleMs: 1000 });
    const f = Buffer.from('ff03c021', 'hex');
    expect(enc.encode(f, 0)[0]).toBe(0x7e);
    expect(enc.encode(f, 10)[0]).toBe(0xff);
    expect(enc.encode(f, 500)[0]).toBe(0xff);
    expect(enc.encode(f, 1600)[0]).toBe(0x7e);
    enc.markIdle();
    expect(enc.encode(f, 1601)[0]).toBe(0x7e);
  });

  it('never writes beyond maxEncodedLength even when every octet needs escaping', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.constantFrom<FcsBits>(16, 32), (d, fcs) => {
        const allSpecial = Buffer.from(d.map((b) => (b & 1 ? 0x7e : 0x7d)));
        const enc = new HdlcEncoder({ fcs });
        expect(enc.encode(allSpecial).length).toBeLessThanOrEqual(
          maxEncodedLength(allSpecial.length, fcs),
        );
      }),
    );
  });

  it('counts frames and octets sent', () => {
    const enc = new HdlcEncoder();
    const a = enc.encode(CAPTURE_JORNADA.frame);
    enc.encode(CAPTURE_JORNADA.frame);
    expect(enc.counters.frames).toBe(2);
    expect(enc.counters.octets).toBe(2 * a.length);
  });
});

describe('HDLC decoder', () => {
  it('decodes the captured pppd Configure-Request to the frame without FCS', () => {
    const d = new HdlcDecoder();
    expect(okFrames(d.decode(CAPTURE_SNIFFER.wire))).toEqual([CAPTURE_SNIFFER.frame]);
    expect(d.counters.frames).toBe(1);
  });

  it('skips the modem CONNECT text before the first flag and counts it as hunted', () => {
    const d = new HdlcDecoder();
    const text = Buffer.from('\r\nCONNECT 115200/ARQ/V42\r\n');
    const res = d.decode(Buffer.concat([text, CAPTURE_JORNADA.wire]));
    expect(okFrames(res)).toEqual([CAPTURE_JORNADA.frame]);
    expect(errorKinds(res)).toEqual([]);
    expect(d.counters.huntDiscarded).toBe(text.length);
  });

  it('decodes back-to-back frames that share one flag', () => {
    const enc = new HdlcEncoder();
    const a = Buffer.from('c02109010004', 'hex');
    const b = Buffer.from('002145000014', 'hex');
    const wire = Buffer.concat([enc.encode(a, 0), enc.encode(b, 1)]);
    expect(wire.filter((x) => x === 0x7e).length).toBe(3);
    expect(okFrames(new HdlcDecoder().decode(wire))).toEqual([a, b]);
  });

  it('ignores runs of flags between frames (inter-frame fill)', () => {
    const d = new HdlcDecoder();
    const wire = Buffer.concat([hex('7e7e7e7e'), CAPTURE_JORNADA.wire, hex('7e7e')]);
    const res = d.decode(wire);
    expect(okFrames(res)).toEqual([CAPTURE_JORNADA.frame]);
    expect(errorKinds(res)).toEqual([]);
  });

  it('aborts a frame on Control Escape followed by Flag and decodes the next one', () => {
    const d = new HdlcDecoder();
    const wire = Buffer.concat([hex('7e ff 7d 23 c0 21 7d 7e'), CAPTURE_JORNADA.wire.subarray(1)]);
    const res = d.decode(wire);
    expect(errorKinds(res)).toEqual(['abort']);
    expect(okFrames(res)).toEqual([CAPTURE_JORNADA.frame]);
    expect(d.counters.aborts).toBe(1);
  });

  it('drops and counts a frame with a bad FCS', () => {
    const d = new HdlcDecoder();
    const bad = Buffer.from(CAPTURE_JORNADA.wire);
    bad[3] = 0xc1; // protocol C021 -> C121, FCS no longer matches
    const res = d.decode(Buffer.concat([bad, CAPTURE_JORNADA.wire]));
    expect(errorKinds(res)).toEqual(['bad-fcs']);
    expect(okFrames(res)).toEqual([CAPTURE_JORNADA.frame]);
    expect(d.counters.badFcs).toBe(1);
  });

  it('drops and counts frames shorter than 4 octets with FCS-16 (RFC 1662 §3.3)', () => {
    const d = new HdlcDecoder();
    const res = d.decode(hex('7e 41 7e 41 42 43 7e'));
    expect(errorKinds(res)).toEqual(['too-short', 'too-short']);
    expect(d.counters.tooShort).toBe(2);
  });

  it('accepts a frame of exactly MRU + header + FCS and drops one octet more as oversize', () => {
    const mru = 100;
    const d = new HdlcDecoder({ mru, accm: 0 });
    const fits = Buffer.alloc(mru + 4, 0x41);
    const over = Buffer.alloc(mru + 5, 0x41);
    const res = d.decode(
      Buffer.concat([
        encodeHdlcFrame(fits, { accm: 0 }),
        encodeHdlcFrame(over, { accm: 0 }),
        CAPTURE_JORNADA.wire,
      ]),
    );
    expect(okFrames(res)).toEqual([fits, CAPTURE_JORNADA.frame]);
    expect(errorKinds(res)).toEqual(['oversize']);
    expect(d.counters.oversize).toBe(1);
  });

  it('detects oversize on an escaped octet too', () => {
    const d = new HdlcDecoder({ mru: 10 });
    const res = d.decode(encodeHdlcFrame(Buffer.alloc(40, 0x7e)));
    expect(errorKinds(res)).toEqual(['oversize']);
  });

  it('removes unescaped control characters flagged in the receive ACCM (RFC 1662 §4.2)', () => {
    // An XON/XOFF pair inserted by a modem in the middle of the captured frame.
    const noisy = Buffer.concat([
      CAPTURE_JORNADA.wire.subarray(0, 5),
      hex('11 13'),
      CAPTURE_JORNADA.wire.subarray(5, 7),
      hex('11'), // between an escape and the octet it escapes
      CAPTURE_JORNADA.wire.subarray(7),
    ]);
    const d = new HdlcDecoder();
    expect(okFrames(d.decode(noisy))).toEqual([CAPTURE_JORNADA.frame]);
    expect(d.counters.accmDiscarded).toBe(3);
  });

  it('keeps unescaped control characters that the receive ACCM does not flag', () => {
    const frame = Buffer.from([0xff, 0x03, 0x00, 0x21, 0x11, 0x13]);
    const wire = encodeHdlcFrame(frame, { accm: 0 });
    expect(okFrames(new HdlcDecoder({ accm: 0 }).decode(wire))).toEqual([frame]);
    // The same wire under the default receive ACCM loses 0x11/0x13 and fails its FCS.
    expect(errorKinds(new HdlcDecoder().decode(wire))).toEqual(['bad-fcs']);
  });

  it('round-trips FCS-32 frames and rejects them under FCS-16', () => {
    const frame = Buffer.from('ff03002145000054', 'hex');
    const wire = encodeHdlcFrame(frame, { fcs: 32 });
    expect(okFrames(new HdlcDecoder({ fcs: 32 }).decode(wire))).toEqual([frame]);
    expect(errorKinds(new HdlcDecoder({ fcs: 16 }).decode(wire))).toEqual(['bad-fcs']);
  });

  it('applies a new ACCM and MRU between frames', () => {
    const d = new HdlcDecoder();
    const frame = Buffer.alloc(1400, 0x11);
    expect(okFrames(d.decode(encodeHdlcFrame(frame)))).toEqual([frame]);
    d.accm = 0;
    d.mru = 2000;
    expect(d.accm).toBe(0);
    expect(d.mru).toBe(2000);
    const big = Buffer.alloc(1900, 0x11);
    expect(okFrames(d.decode(encodeHdlcFrame(big, { accm: 0 })))).toEqual([big]);
  });
});

describe('HDLC properties', () => {
  const frameArb = fc.uint8Array({ minLength: 2, maxLength: 300 }).map((a) => Buffer.from(a));
  const accmArb = fc.oneof(
    fc.constant(DEFAULT_ACCM),
    fc.constant(0),
    fc.integer({ min: 0, max: 0xffffffff }),
  );
  const fcsArb = fc.constantFrom<FcsBits>(16, 32);

  it('round-trips any frames under any shared ACCM, FCS size and chunking', () => {
    fc.assert(
      fc.property(
        fc.array(frameArb, { minLength: 1, maxLength: 8 }),
        accmArb,
        fcsArb,
        fc.array(fc.nat(5000), { maxLength: 20 }),
        fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 8, maxLength: 8 }),
        (frames, accm, fcs, cuts, gaps) => {
          const enc = new HdlcEncoder({ accm, fcs, flagIdleMs: 1000 });
          // Random gaps decide whether a frame gets its own opening flag or shares one.
          let t = 0;
          const wire = Buffer.concat(
            frames.map((f, i) => {
              t += gaps[i] ?? 0;
              return enc.encode(f, t);
            }),
          );
          const d = new HdlcDecoder({ accm, fcs, mru: 300 });
          const res = decodeChunks(d, chunked(wire, cuts));
          expect(errorKinds(res)).toEqual([]);
          expect(okFrames(res)).toEqual(frames);
        },
      ),
    );
  });

  it('decodes identically whatever the chunking, on arbitrary bytes', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2000 }),
        fc.array(fc.nat(2000), { maxLength: 30 }),
        accmArb,
        fcsArb,
        (bytes, cuts, accm, fcs) => {
          const data = Buffer.from(bytes);
          const whole = new HdlcDecoder({ accm, fcs, mru: 64 }).decode(data);
          const d = new HdlcDecoder({ accm, fcs, mru: 64 });
          expect(decodeChunks(d, chunked(data, cuts))).toEqual(whole);
        },
      ),
    );
  });

  it('never throws on random bytes and accounts for every frame boundary in its counters', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 4000 }),
        fc.constantFrom(0x7e, 0x7d, 0x00, 0x41),
        fc.nat(40),
        (bytes, bias, mru) => {
          // Bias the input towards flags and escapes so the edge paths are exercised.
          const data = Buffer.from(bytes.map((b, i) => (i % 7 === 0 ? bias : b)));
          const d = new HdlcDecoder({ mru });
          let n = 0;
          d.push(data, () => n++);
          const c = d.counters;
          expect(c.octets).toBe(data.length);
          expect(c.frames + c.badFcs + c.tooShort + c.oversize + c.aborts).toBe(n);
        },
      ),
    );
  });

  it('recovers every real frame when line noise without flags sits between frames', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            frameArb,
            fc.uint8Array({ maxLength: 40 }).map((g) => g.filter((b) => b !== 0x7e)),
          ),
          { minLength: 1, maxLength: 6 },
        ),
        (items) => {
          const parts: Buffer[] = [];
          for (const [frame, noise] of items) {
            parts.push(Buffer.from(noise), encodeHdlcFrame(frame));
          }
          const got = okFrames(new HdlcDecoder({ mru: 300 }).decode(Buffer.concat(parts)));
          // Noise can only add frames (a 1-in-65536 chance of a valid FCS), never lose one.
          let j = 0;
          for (const g of got) if (j < items.length && g.equals(items[j]![0])) j++;
          expect(j).toBe(items.length);
        },
      ),
    );
  });

  it('a single-octet error anywhere in a frame is never delivered as a good frame', () => {
    fc.assert(
      fc.property(frameArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (frame, at, flip) => {
        const wire = encodeHdlcFrame(frame, { accm: 0 });
        const pos = 1 + (at % (wire.length - 2));
        const bad = Buffer.from(wire);
        bad[pos] = (bad[pos] as number) ^ flip;
        const got = okFrames(new HdlcDecoder({ accm: 0, mru: 300 }).decode(bad));
        for (const g of got) expect(g.equals(frame)).toBe(false);
      }),
    );
  });

  it('matches a frame hand-built with an appended FCS', () => {
    fc.assert(
      fc.property(frameArb, (frame) => {
        const raw = withFcs16(frame);
        const escaped: number[] = [0x7e];
        for (const b of raw) {
          if (b < 0x20 || b === 0x7d || b === 0x7e) escaped.push(0x7d, b ^ 0x20);
          else escaped.push(b);
        }
        escaped.push(0x7e);
        expect(encodeHdlcFrame(frame)).toEqual(Buffer.from(escaped));
      }),
    );
  });
});
