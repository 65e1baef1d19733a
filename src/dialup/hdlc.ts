/**
 * RFC 1662 HDLC-like framing for asynchronous serial lines (octet-stuffed framing).
 *
 * Encoder: one call per frame, one pre-sized buffer, no per-byte allocation.
 * Decoder: a streaming parser with explicit states in the style of ws' Receiver: it is
 * fed chunks of any size, hunts for flags, and hands each frame boundary to a sink as a
 * Result: the frame (address/control/protocol/information as received, FCS checked and
 * removed) or a typed error that the caller counts. It never throws.
 */
import { err, ok, type Result } from '../ppp/result.js';
import { FCS16_GOOD, FCS16_INIT, FCS32_GOOD, FCS32_INIT, fcs16, fcs32 } from './fcs.js';

/** RFC 1662 §3.1: the Flag Sequence. */
export const HDLC_FLAG = 0x7e;
/** RFC 1662 §4.2: the Control Escape octet. */
export const HDLC_ESCAPE = 0x7d;
/** RFC 1662 §4.2: an escaped octet is sent exclusive-or'd with 0x20. */
export const HDLC_TRANS = 0x20;
/** RFC 1662 §7.1: until LCP agrees otherwise, every control character is escaped. */
export const DEFAULT_ACCM = 0xffffffff;
/** RFC 1661 §6.1: the default Maximum-Receive-Unit. */
export const DEFAULT_MRU = 1500;
/**
 * Linux ppp_async sends an opening flag only when the line has been idle this long
 * (its `flag_time`, one second): back-to-back frames share one flag.
 */
export const DEFAULT_FLAG_IDLE_MS = 1000;

export type FcsBits = 16 | 32;

/** Address, Control and a two-octet Protocol field: the most the header can take. */
const MAX_HEADER = 4;

/** Builds a 256-entry table: 1 where the octet must be sent escaped under `accm`. */
export function sendEscapeMap(accm: number): Uint8Array {
  const map = new Uint8Array(256);
  // RFC 1662 §7.1: bit n of the ACCM flags control character n (0x00-0x1F).
  for (let c = 0; c < 32; c++) if ((accm >>> c) & 1) map[c] = 1;
  // RFC 1662 §4.2: the flag and the escape themselves are always escaped.
  map[HDLC_FLAG] = 1;
  map[HDLC_ESCAPE] = 1;
  return map;
}

/** The worst-case encoded size of a frame: every octet escaped, both flags. */
export function maxEncodedLength(frameLength: number, fcs: FcsBits = 16): number {
  return 2 + 2 * (frameLength + (fcs === 32 ? 4 : 2));
}

export interface HdlcEncoderOptions {
  /** Send ACCM (the peer's async-map); default 0xFFFFFFFF. */
  readonly accm?: number;
  readonly fcs?: FcsBits;
  /** Idle time after which a frame starts with its own opening flag. */
  readonly flagIdleMs?: number;
}

export interface HdlcEncoderCounters {
  frames: number;
  /** Octets put on the wire, flags and escapes included. */
  octets: number;
}

export class HdlcEncoder {
  private map: Uint8Array;
  private accmValue: number;
  fcsBits: FcsBits;
  readonly flagIdleMs: number;
  /** When the last frame was encoded; undefined means the line is idle. */
  private lastEncodedAt: number | undefined;
  readonly counters: HdlcEncoderCounters = { frames: 0, octets: 0 };

  constructor(options: HdlcEncoderOptions = {}) {
    this.accmValue = (options.accm ?? DEFAULT_ACCM) >>> 0;
    this.map = sendEscapeMap(this.accmValue);
    this.fcsBits = options.fcs ?? 16;
    this.flagIdleMs = options.flagIdleMs ?? DEFAULT_FLAG_IDLE_MS;
  }

  get accm(): number {
    return this.accmValue;
  }

  set accm(value: number) {
    this.accmValue = value >>> 0;
    this.map = sendEscapeMap(this.accmValue);
  }

  /** Forget the last send time so the next frame opens with a flag (after a re-connect). */
  markIdle(): void {
    this.lastEncodedAt = undefined;
  }

  /**
   * Encodes one frame. `now` (ms, any monotonic clock) decides whether an opening flag
   * is needed; without it every frame gets one.
   */
  encode(frame: Uint8Array, now?: number): Buffer {
    const out = Buffer.allocUnsafe(maxEncodedLength(frame.length, this.fcsBits));
    const n = this.encodeInto(frame, out, 0, now);
    return out.subarray(0, n);
  }

  /**
   * Encodes one frame into `out` at `offset` and returns the octets written. `out` must
   * have room for maxEncodedLength(frame.length) octets from `offset`.
   */
  encodeInto(frame: Uint8Array, out: Uint8Array, offset: number, now?: number): number {
    const map = this.map;
    const n = frame.length;
    let o = offset;
    if (
      now === undefined ||
      this.lastEncodedAt === undefined ||
      now - this.lastEncodedAt >= this.flagIdleMs
    ) {
      out[o++] = HDLC_FLAG;
    }
    if (now !== undefined) this.lastEncodedAt = now;
    for (let i = 0; i < n; i++) {
      const b = frame[i] as number;
      if (map[b] === 1) {
        out[o++] = HDLC_ESCAPE;
        out[o++] = b ^ HDLC_TRANS;
      } else {
        out[o++] = b;
      }
    }
    // RFC 1662 §C.2/§C.3: the complemented FCS goes out least significant octet first.
    if (this.fcsBits === 32) {
      const fcs = ~fcs32(frame, FCS32_INIT, 0, n) >>> 0;
      o = putEscaped(out, o, fcs & 0xff, map);
      o = putEscaped(out, o, (fcs >>> 8) & 0xff, map);
      o = putEscaped(out, o, (fcs >>> 16) & 0xff, map);
      o = putEscaped(out, o, fcs >>> 24, map);
    } else {
      const fcs = ~fcs16(frame, FCS16_INIT, 0, n) & 0xffff;
      o = putEscaped(out, o, fcs & 0xff, map);
      o = putEscaped(out, o, fcs >>> 8, map);
    }
    out[o++] = HDLC_FLAG;
    this.counters.frames++;
    this.counters.octets += o - offset;
    return o - offset;
  }
}

function putEscaped(out: Uint8Array, o: number, b: number, map: Uint8Array): number {
  if (map[b] === 1) {
    out[o] = HDLC_ESCAPE;
    out[o + 1] = b ^ HDLC_TRANS;
    return o + 2;
  }
  out[o] = b;
  return o + 1;
}

/** Encodes one frame with an opening flag; for tests and one-off use. */
export function encodeHdlcFrame(frame: Uint8Array, options: HdlcEncoderOptions = {}): Buffer {
  return new HdlcEncoder(options).encode(frame);
}

// ---------------------------------------------------------------------------------------
// Decoder

export interface HdlcDecoderOptions {
  /** Receive ACCM (the async-map we asked the peer to use); default 0xFFFFFFFF. */
  readonly accm?: number;
  /** Our MRU: the largest information field accepted; default 1500. */
  readonly mru?: number;
  readonly fcs?: FcsBits;
}

export interface HdlcDecoderCounters {
  /** Good frames handed to the sink. */
  frames: number;
  /** Every octet pushed in. */
  octets: number;
  /** Frames whose FCS did not check. */
  badFcs: number;
  /** Frames shorter than the minimum (RFC 1662 §3.3), FCS included. */
  tooShort: number;
  /** Frames longer than MRU + header + FCS. */
  oversize: number;
  /** Frames aborted by Control Escape + Flag (RFC 1662 §4.2). */
  aborts: number;
  /** Unescaped control characters flagged in the receive ACCM, removed (RFC 1662 §4.2). */
  accmDiscarded: number;
  /** Octets thrown away while hunting for a flag (before the first, after an oversize). */
  huntDiscarded: number;
}

/** Kinds of DecodeError the decoder reports. */
export type HdlcErrorKind = 'bad-fcs' | 'too-short' | 'oversize' | 'abort';

/** Receives each frame boundary: a checked frame or a typed error. */
export type HdlcFrameSink = (result: Result<Buffer>) => void;

// Decoder states (explicit, as in ws' Receiver).
/** Waiting for a flag; everything else is discarded. */
const HUNT = 0;
/** Inside a frame (possibly empty, right after a flag). */
const DATA = 1;
/** Inside a frame, the previous octet was a Control Escape. */
const ESCAPE = 2;

export function newDecoderCounters(): HdlcDecoderCounters {
  return {
    frames: 0,
    octets: 0,
    badFcs: 0,
    tooShort: 0,
    oversize: 0,
    aborts: 0,
    accmDiscarded: 0,
    huntDiscarded: 0,
  };
}

export class HdlcDecoder {
  private state = HUNT;
  private buf: Buffer;
  private len = 0;
  /** Maximum unescaped frame length, FCS included. */
  private maxLen: number;
  /** 1 for octets that leave the fast path: flag, escape, ACCM-flagged controls. */
  private special: Uint8Array;
  private accmValue: number;
  private mruValue: number;
  private fcsValue: FcsBits;
  readonly counters: HdlcDecoderCounters = newDecoderCounters();

  constructor(options: HdlcDecoderOptions = {}) {
    this.accmValue = (options.accm ?? DEFAULT_ACCM) >>> 0;
    this.mruValue = clampMru(options.mru ?? DEFAULT_MRU);
    this.fcsValue = options.fcs ?? 16;
    this.special = receiveSpecialMap(this.accmValue);
    this.maxLen = this.mruValue + MAX_HEADER + (this.fcsValue === 32 ? 4 : 2);
    this.buf = Buffer.alloc(this.maxLen);
  }

  get accm(): number {
    return this.accmValue;
  }

  set accm(value: number) {
    this.accmValue = value >>> 0;
    this.special = receiveSpecialMap(this.accmValue);
  }

  get mru(): number {
    return this.mruValue;
  }

  set mru(value: number) {
    this.mruValue = clampMru(value);
    this.resize();
  }

  get fcs(): FcsBits {
    return this.fcsValue;
  }

  set fcs(value: FcsBits) {
    this.fcsValue = value;
    this.resize();
  }

  /** Drop any partial frame and hunt for the next flag (after a re-connect). */
  reset(): void {
    this.state = HUNT;
    this.len = 0;
  }

  /** True while a frame has started (a flag was seen) and octets are being gathered. */
  get inFrame(): boolean {
    return this.state !== HUNT && this.len > 0;
  }

  private resize(): void {
    const maxLen = this.mruValue + MAX_HEADER + (this.fcsValue === 32 ? 4 : 2);
    if (maxLen === this.maxLen) return;
    const buf = Buffer.alloc(maxLen);
    if (this.len > maxLen) {
      // A frame in progress is already longer than the new limit: let it be oversize.
      this.len = 0;
      this.state = HUNT;
    } else {
      this.buf.copy(buf, 0, 0, this.len);
    }
    this.buf = buf;
    this.maxLen = maxLen;
  }

  /** Decodes a chunk and returns the frame boundaries it completed. */
  decode(chunk: Uint8Array): Result<Buffer>[] {
    const out: Result<Buffer>[] = [];
    this.push(chunk, (r) => out.push(r));
    return out;
  }

  /** Feeds a chunk; the sink receives every completed frame or frame error, in order. */
  push(chunk: Uint8Array, sink: HdlcFrameSink): void {
    const n = chunk.length;
    this.counters.octets += n;
    const special = this.special;
    const buf = this.buf;
    const maxLen = this.maxLen;
    let state = this.state;
    let len = this.len;
    let i = 0;
    while (i < n) {
      if (state === HUNT) {
        // Flags are rare in garbage; indexOf runs natively.
        const f = indexOfFlag(chunk, i);
        if (f < 0) {
          this.counters.huntDiscarded += n - i;
          i = n;
          break;
        }
        this.counters.huntDiscarded += f - i;
        i = f + 1;
        state = DATA;
        len = 0;
        continue;
      }
      if (state === DATA) {
        // Fast path: copy plain octets until something special or the length limit.
        const room = maxLen - len;
        const stop = n - i < room ? n : i + room;
        while (i < stop) {
          const b = chunk[i] as number;
          if (special[b] === 1) break;
          buf[len++] = b;
          i++;
        }
        if (i === n) break;
        if (i === stop && special[chunk[i] as number] !== 1) {
          // One more plain octet would pass MRU + header + FCS.
          this.counters.oversize++;
          sink(
            err('oversize', `frame longer than ${maxLen} octets (MRU ${this.mruValue}) dropped`),
          );
          state = HUNT;
          len = 0;
          continue;
        }
      }
      const b = chunk[i++] as number;
      if (b === HDLC_FLAG) {
        if (state === ESCAPE) {
          // RFC 1662 §4.2: Control Escape followed by a Flag aborts the frame; the flag
          // also opens the next one.
          this.counters.aborts++;
          sink(err('abort', 'frame aborted by Control Escape, Flag'));
        } else if (len > 0) {
          this.finish(len, sink);
        }
        state = DATA;
        len = 0;
        continue;
      }
      if (b < 0x20 && special[b] === 1) {
        // RFC 1662 §4.2: a control character flagged in the receive ACCM is removed
        // before FCS computation (intervening equipment may have inserted it).
        this.counters.accmDiscarded++;
        continue;
      }
      let value = b;
      if (state === ESCAPE) {
        value = b ^ HDLC_TRANS;
        state = DATA;
      } else if (b === HDLC_ESCAPE) {
        state = ESCAPE;
        continue;
      }
      if (len >= maxLen) {
        this.counters.oversize++;
        sink(err('oversize', `frame longer than ${maxLen} octets (MRU ${this.mruValue}) dropped`));
        state = HUNT;
        len = 0;
        continue;
      }
      buf[len++] = value;
    }
    this.state = state;
    this.len = len;
  }

  private finish(len: number, sink: HdlcFrameSink): void {
    const buf = this.buf;
    const fcsLen = this.fcsValue === 32 ? 4 : 2;
    // RFC 1662 §3.3: frames too short (under 4 octets with the 16-bit FCS) are dropped.
    if (len < fcsLen + 2) {
      this.counters.tooShort++;
      sink(err('too-short', `frame of ${len} octets is shorter than ${fcsLen + 2}`));
      return;
    }
    const good =
      this.fcsValue === 32
        ? fcs32(buf, FCS32_INIT, 0, len) === FCS32_GOOD
        : fcs16(buf, FCS16_INIT, 0, len) === FCS16_GOOD;
    if (!good) {
      this.counters.badFcs++;
      sink(err('bad-fcs', `FCS-${this.fcsValue} check failed on a ${len}-octet frame`));
      return;
    }
    this.counters.frames++;
    const frame = Buffer.allocUnsafe(len - fcsLen);
    buf.copy(frame, 0, 0, len - fcsLen);
    sink(ok(frame));
  }
}

function indexOfFlag(chunk: Uint8Array, from: number): number {
  return chunk.indexOf(HDLC_FLAG, from);
}

function receiveSpecialMap(accm: number): Uint8Array {
  const map = new Uint8Array(256);
  for (let c = 0; c < 32; c++) if ((accm >>> c) & 1) map[c] = 1;
  map[HDLC_FLAG] = 1;
  map[HDLC_ESCAPE] = 1;
  return map;
}

function clampMru(mru: number): number {
  // An MRU outside 1..65535 cannot be negotiated (RFC 1661 §6.1 is 16 bits); clamp it
  // so a bad value never sizes a huge buffer.
  if (!Number.isFinite(mru) || mru < 1) return 1;
  return mru > 65535 ? 65535 : Math.floor(mru);
}
