/**
 * Streaming reassembly of PPTP control messages from TCP chunks, in the style of ws'
 * Receiver: explicit states, a list of buffered chunks, never a throw.
 *
 * TCP splits and joins messages anyhow; the reader frames them by their Length field and
 * checks the Magic Cookie as soon as it has arrived. A Length outside 12..220 or a wrong
 * cookie means the stream has lost sync (RFC 2637 §2: the cookie exists so that a receiver
 * can check it is in sync): the reader turns `failed` and reports a typed error, and the
 * caller closes that connection with the logged reason (pptpd does the same). Memory is
 * bounded: complete messages leave at once, so at most one partial message
 * (< MAX_CONTROL_MESSAGE_LENGTH octets) stays buffered between chunks.
 */
import type { DecodeError } from '../ppp/result.js';
import { CONTROL_HEADER_LENGTH, MAX_CONTROL_MESSAGE_LENGTH, PPTP_MAGIC_COOKIE } from './control.js';

export type ControlReaderState =
  /** Waiting for the first 8 octets: Length, PPTP Message Type, Magic Cookie. */
  | 'header'
  /** Header checked, waiting for the rest of `expected` octets. */
  | 'body'
  /** Lost sync; every further push reports the same error. */
  | 'failed';

export interface ControlReadResult {
  /** Whole messages in arrival order, each its own copy (Length octets). */
  readonly frames: Buffer[];
  /** Set once the stream is unusable: close the connection with this reason. */
  readonly error: DecodeError | undefined;
}

/** Length (2), PPTP Message Type (2), Magic Cookie (4). */
const PREFIX = 8;

export class ControlReader {
  private chunks: Buffer[] = [];
  private bufferedBytes = 0;
  private stateValue: ControlReaderState = 'header';
  private expected = 0;
  private failure: DecodeError | undefined;
  /** Octets accepted so far, for counters. */
  octets = 0;
  /** Messages framed so far. */
  messages = 0;

  get state(): ControlReaderState {
    return this.stateValue;
  }

  /** Octets held back waiting for the rest of a message (always < 220). */
  get buffered(): number {
    return this.bufferedBytes;
  }

  push(chunk: Buffer): ControlReadResult {
    if (this.stateValue === 'failed') return { frames: [], error: this.failure };
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.bufferedBytes += chunk.length;
      this.octets += chunk.length;
    }
    const frames: Buffer[] = [];
    for (;;) {
      if (this.stateValue === 'header') {
        // RFC 2637 §2: check the Length as soon as its 2 octets are here, the cookie at 8.
        if (this.bufferedBytes >= 2) {
          const length = this.peekUInt16(0);
          if (length < CONTROL_HEADER_LENGTH || length > MAX_CONTROL_MESSAGE_LENGTH) {
            return this.fail(frames, {
              kind: 'bad-length',
              reason: `control message Length ${length} is outside ${CONTROL_HEADER_LENGTH}..${MAX_CONTROL_MESSAGE_LENGTH}`,
            });
          }
        }
        if (this.bufferedBytes < PREFIX) break;
        const cookie = this.peekUInt32(4);
        if (cookie !== PPTP_MAGIC_COOKIE) {
          return this.fail(frames, {
            kind: 'bad-cookie',
            reason: `Magic Cookie 0x${cookie.toString(16)} is not 0x1a2b3c4d: control stream out of sync`,
          });
        }
        this.expected = this.peekUInt16(0);
        this.stateValue = 'body';
      }
      // state 'body'
      if (this.bufferedBytes < this.expected) break;
      frames.push(this.consume(this.expected));
      this.messages++;
      this.stateValue = 'header';
    }
    // The leftover (< 220 octets) may be a view into a large chunk: copy it so that the
    // caller's chunk is not pinned in memory while we wait for the rest.
    if (this.chunks.length > 0) this.chunks = [Buffer.concat(this.chunks, this.bufferedBytes)];
    return { frames, error: undefined };
  }

  private fail(frames: Buffer[], error: DecodeError): ControlReadResult {
    this.stateValue = 'failed';
    this.failure = error;
    this.chunks = [];
    this.bufferedBytes = 0;
    // Messages framed before the bad one are still good: hand them over with the error.
    return { frames, error };
  }

  private peekByte(index: number): number {
    for (const c of this.chunks) {
      if (index < c.length) return c[index]!;
      index -= c.length;
    }
    return 0; // unreachable: callers check bufferedBytes first
  }

  private peekUInt16(offset: number): number {
    return (this.peekByte(offset) << 8) | this.peekByte(offset + 1);
  }

  private peekUInt32(offset: number): number {
    return (
      ((this.peekByte(offset) << 24) |
        (this.peekByte(offset + 1) << 16) |
        (this.peekByte(offset + 2) << 8) |
        this.peekByte(offset + 3)) >>>
      0
    );
  }

  /** Takes `n` octets off the front as a new Buffer (never a view of a caller's chunk). */
  private consume(n: number): Buffer {
    this.bufferedBytes -= n;
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const head = this.chunks[0]!;
      const take = Math.min(head.length, n - filled);
      head.copy(out, filled, 0, take);
      filled += take;
      if (take === head.length) this.chunks.shift();
      else this.chunks[0] = head.subarray(take);
    }
    return out;
  }
}
