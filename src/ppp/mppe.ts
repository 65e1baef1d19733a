/**
 * The MPPE data path (RFC 3078), sans-I/O: one encrypter per sending direction and one
 * decrypter per receiving direction, each built from that direction's start key.
 *
 * Wire format of a PPP packet with protocol 0x00FD (RFC 3078 §3):
 *
 *   +-------+-------+-------+-------+-----------------------------+
 *   |A|B|C|D| coherency count (12) | RC4( protocol ‖ information ) |
 *   +-------+-------+-------+-------+-----------------------------+
 *
 * A = 0x80 flushed (RC4 reinitialised), D = 0x10 encrypted; B and C belong to MPPC, which
 * this router never negotiates. The plaintext starts with the protocol field. The
 * encrypter always writes the uncompressed 2-byte protocol (as pppd/Linux do); the
 * decrypter accepts a 1-byte compressed protocol too (odd first byte, RFC 1661 §6.5), as
 * RFC 3078 §3 allows a sender that negotiated PFC to use one.
 *
 * Key changes and synchronisation follow RFC 3078 §7-8 as the Linux kernel's ppp_mppe
 * implements them (that is the MPPE pppd peers use, and it interoperates with Windows):
 * - stateless: the sender changes key before every packet and sets A on every packet; the
 *   receiver changes key once per coherency-count step, so lost packets cost nothing;
 * - stateful: the key changes before each "flag" packet (count low byte 0xFF) and before
 *   the first packet after a CCP Reset-Request; both carry A. A receiver that sees a gap
 *   reports `needs-reset` once, drops packets until one with A arrives, then changes key
 *   once per missed flag packet and once for the flushed packet itself.
 */
import { Rc4 } from './crypto/rc4.js';
import { type MppeKeyBits, MppeSessionKey } from './mppe-keys.js';
import { Protocol } from './protocol.js';

/** The PPP protocol number of an MPPE (CCP-compressed) packet (same as Protocol.COMPRESSED). */
export const PPP_PROTOCOL_COMPRESSED = Protocol.COMPRESSED;
/** MPPE header length; the encrypted payload grows by this (plus a PFC-less protocol). */
export const MPPE_HEADER_LENGTH = 2;

/** RFC 3078 §3 header bits, in the first header byte. */
export const MPPE_BIT_FLUSHED = 0x80;
export const MPPE_BIT_MPPC_RESET = 0x40;
export const MPPE_BIT_COMPRESSED = 0x20;
export const MPPE_BIT_ENCRYPTED = 0x10;

/** The coherency count is 12 bits and wraps at 4096. */
export const MPPE_CCOUNT_SPACE = 4096;
const CCOUNT_MASK = MPPE_CCOUNT_SPACE - 1;

/**
 * Which protocols travel inside MPPE: network-layer datagrams 0x0021-0x00FA (as Linux
 * ppp_mppe and pppd decide). LCP, NCPs, CCP and authentication stay in the clear.
 */
export function mppeEncryptsProtocol(protocol: number): boolean {
  return protocol >= 0x0021 && protocol <= 0x00fa;
}

export interface MppeConfig {
  /** This direction's start key (RFC 3079 MasterSendKey/MasterReceiveKey), >= 8 or 16 bytes. */
  readonly startKey: Uint8Array;
  readonly bits: MppeKeyBits;
  /** false = stateless (the H bit negotiated), true = stateful. */
  readonly stateful: boolean;
}

export interface MppeEncrypterCounters {
  packets: number;
  /** Plaintext bytes (protocol field + information). */
  bytes: number;
  keyChanges: number;
  /** Packets sent flushed because of a CCP Reset-Request. */
  resets: number;
}

export class MppeEncrypter {
  readonly bits: MppeKeyBits;
  readonly stateful: boolean;
  readonly counters: MppeEncrypterCounters = { packets: 0, bytes: 0, keyChanges: 0, resets: 0 };
  private readonly key: MppeSessionKey;
  private readonly rc4 = new Rc4();
  /** Coherency count of the last packet sent; starts one before 0 so the first packet is 0. */
  private ccount = CCOUNT_MASK;
  private resetPending = false;

  constructor(config: MppeConfig) {
    this.bits = config.bits;
    this.stateful = config.stateful;
    this.key = new MppeSessionKey(config.startKey, config.bits);
    this.rc4.setKey(this.key.sessionKey);
  }

  /** Coherency count of the last packet sent (4095 before the first). */
  get coherencyCount(): number {
    return this.ccount;
  }

  /**
   * A CCP Reset-Request arrived (the session answers it with Reset-Ack). The next packet is
   * sent flushed under a new key. Several requests before that packet mean one key change,
   * so both sides agree on how many changes happened (RFC 1962 §2.3 and Linux ppp_mppe).
   */
  resetRequested(): void {
    if (this.stateful) this.resetPending = true;
  }

  /** Bytes `encrypt`/`encryptInto` produce for an information field of `length` bytes. */
  static encryptedLength(informationLength: number): number {
    return MPPE_HEADER_LENGTH + 2 + informationLength;
  }

  /**
   * Encrypts `protocol` (written as 2 bytes) and `information` into `out[offset..]`; the
   * result is the Information field of a 0x00FD packet. Returns the bytes written.
   */
  encryptInto(protocol: number, information: Uint8Array, out: Uint8Array, offset = 0): number {
    const total = MppeEncrypter.encryptedLength(information.length);
    if (offset < 0 || offset + total > out.length) {
      throw new RangeError('MPPE output buffer too small');
    }
    this.ccount = (this.ccount + 1) & CCOUNT_MASK;
    let flags = MPPE_BIT_ENCRYPTED;
    // RFC 3078 §7.1 stateless: a new key for every packet. §7.2 stateful: a new key before
    // each flag packet (low byte 0xFF), and after a Reset-Request (§8.2, as Linux does).
    if (!this.stateful || (this.ccount & 0xff) === 0xff || this.resetPending) {
      this.changeKey();
      flags |= MPPE_BIT_FLUSHED;
    }
    out[offset] = flags | (this.ccount >> 8);
    out[offset + 1] = this.ccount & 0xff;
    out[offset + 2] = (protocol >> 8) & 0xff;
    out[offset + 3] = protocol & 0xff;
    // Copy the information behind the protocol field and encrypt both in place: one pass
    // of the RC4 loop per packet.
    out.set(information, offset + 4);
    this.rc4.process(out, out, offset + 2, offset + 2, 2 + information.length);
    this.counters.packets++;
    this.counters.bytes += 2 + information.length;
    return total;
  }

  private changeKey(): void {
    if (this.resetPending) this.counters.resets++;
    this.resetPending = false;
    this.key.change();
    this.rc4.setKey(this.key.sessionKey);
    this.counters.keyChanges++;
  }

  /** Encrypts into a new buffer (the only allocation per packet). */
  encrypt(protocol: number, information: Uint8Array): Buffer {
    const out = Buffer.allocUnsafe(MppeEncrypter.encryptedLength(information.length));
    this.encryptInto(protocol, information, out, 0);
    return out;
  }
}

/** Why the decrypter dropped a packet. */
export type MppeDropReason =
  /** Shorter than the header plus one byte. */
  | 'truncated'
  /** D bit clear: MPPE never sends clear data inside 0x00FD. */
  | 'not-encrypted'
  /** C bit set: MPPC compression, never negotiated here. */
  | 'compressed'
  /** Stateless packet without A, or stateful flag packet without A (RFC 3078 §3). */
  | 'not-flushed'
  /** Stateless: a count at or behind the last one (reordered or replayed). */
  | 'late'
  /** Stateful: waiting for a flushed packet after reporting `needs-reset`. */
  | 'awaiting-flush'
  /** The decrypted protocol field is not a valid PPP protocol (wrong key, or garbage). */
  | 'bad-protocol';

export type MppeDecryptResult =
  | {
      readonly kind: 'ok';
      readonly protocol: number;
      /** The decrypted information field (a view into the output buffer). */
      readonly information: Buffer;
      readonly coherencyCount: number;
      /** The A bit was set on this packet. */
      readonly flushed: boolean;
    }
  /**
   * Stateful mode saw a gap in the coherency count: send a CCP Reset-Request. Reported once
   * per gap; the packets that follow are dropped ('awaiting-flush') until a flushed one.
   */
  | { readonly kind: 'needs-reset'; readonly coherencyCount: number }
  | { readonly kind: 'dropped'; readonly reason: MppeDropReason };

export interface MppeDecrypterCounters {
  packets: number;
  /** Plaintext bytes delivered (protocol field + information). */
  bytes: number;
  keyChanges: number;
  /** Packets dropped, by any reason (needs-reset packets included). */
  dropped: number;
  /** Gaps reported as needs-reset (stateful). */
  resetsRequested: number;
  /** Packets assumed lost: coherency-count steps with no packet. */
  lost: number;
  /** Packets that decrypted to an invalid protocol field. */
  undecryptable: number;
}

export class MppeDecrypter {
  readonly bits: MppeKeyBits;
  readonly stateful: boolean;
  readonly counters: MppeDecrypterCounters = {
    packets: 0,
    bytes: 0,
    keyChanges: 0,
    dropped: 0,
    resetsRequested: 0,
    lost: 0,
    undecryptable: 0,
  };
  private readonly key: MppeSessionKey;
  private readonly rc4 = new Rc4();
  /** Stateless: count of the last packet accepted. Stateful: the last count expected. */
  private ccount = CCOUNT_MASK;
  private discarding = false;

  constructor(config: MppeConfig) {
    this.bits = config.bits;
    this.stateful = config.stateful;
    this.key = new MppeSessionKey(config.startKey, config.bits);
    this.rc4.setKey(this.key.sessionKey);
  }

  /** Stateful: true between a `needs-reset` and the next flushed packet. */
  get awaitingFlush(): boolean {
    return this.discarding;
  }

  /**
   * Decrypts the Information field of a 0x00FD packet. `out`, when given, receives the
   * plaintext (it needs `payload.length - 2` bytes); otherwise a buffer is allocated.
   */
  decrypt(payload: Uint8Array, out?: Uint8Array): MppeDecryptResult {
    if (payload.length < MPPE_HEADER_LENGTH + 1) return this.drop('truncated');
    const length = payload.length - MPPE_HEADER_LENGTH;
    // A caller's buffer that is too small is a programming error: refuse it before any key
    // change, so the state stays in step with the peer.
    if (out !== undefined && out.length < length)
      throw new RangeError('MPPE output buffer too small');
    const flagsByte = payload[0]!;
    const ccount = ((flagsByte & 0x0f) << 8) | payload[1]!;
    const flushed = (flagsByte & MPPE_BIT_FLUSHED) !== 0;
    if ((flagsByte & MPPE_BIT_ENCRYPTED) === 0) return this.drop('not-encrypted');
    if ((flagsByte & MPPE_BIT_COMPRESSED) !== 0) return this.drop('compressed');

    if (!this.stateful) {
      if (!flushed) return this.drop('not-flushed');
      // RFC 3078 §8.1: change key once per count step. A step of 0 (a replay) or of more
      // than half the count space is a late packet: drop it rather than rekey ~4095 times.
      const steps = (ccount - this.ccount) & CCOUNT_MASK;
      if (steps === 0 || steps > MPPE_CCOUNT_SPACE / 2) return this.drop('late');
      for (let i = 0; i < steps; i++) this.key.change();
      this.counters.keyChanges += steps;
      this.counters.lost += steps - 1;
      this.ccount = ccount;
      this.rc4.setKey(this.key.sessionKey);
    } else {
      if ((ccount & 0xff) === 0xff && !flushed) return this.drop('not-flushed');
      const resynchronised = this.discarding;
      if (!this.discarding) {
        const expected = (this.ccount + 1) & CCOUNT_MASK;
        this.ccount = expected;
        if (ccount !== expected) {
          // RFC 3078 §8.2: lost packet(s): resynchronise through CCP Reset-Request.
          this.discarding = true;
          this.counters.lost += (ccount - expected) & CCOUNT_MASK;
          this.counters.resetsRequested++;
          this.counters.dropped++;
          return { kind: 'needs-reset', coherencyCount: ccount };
        }
      } else {
        if (!flushed) return this.drop('awaiting-flush');
        // The sender changed key at every flag packet we missed: catch up one change per
        // 256-block boundary between the last expected count and this one.
        while ((ccount & ~0xff) !== (this.ccount & ~0xff)) {
          this.key.change();
          this.counters.keyChanges++;
          this.ccount = (this.ccount + 256) & CCOUNT_MASK;
        }
        this.discarding = false;
        this.ccount = ccount;
        this.key.change();
        this.counters.keyChanges++;
        this.rc4.setKey(this.key.sessionKey);
        // A sender rekeys on every flushed packet (Linux ppp_mppe). When one of those was
        // lost and we asked again, it is ahead of us by the flushed packets we never saw;
        // find it by trial, a few keys ahead, on the encrypted protocol field.
        if (!this.plausible(payload)) this.catchUp(payload);
      }
      if (flushed && !resynchronised) {
        this.key.change();
        this.counters.keyChanges++;
        this.rc4.setKey(this.key.sessionKey);
      }
    }

    const plain = out ?? Buffer.allocUnsafe(length);
    this.rc4.process(payload, plain, MPPE_HEADER_LENGTH, 0, length);

    // RFC 1661 §2: protocol numbers are odd in their low byte and even in the high byte.
    // An odd first byte is a PFC-compressed 1-byte protocol.
    const first = plain[0]!;
    let protocol: number;
    let infoStart: number;
    if ((first & 1) === 1) {
      protocol = first;
      infoStart = 1;
    } else if (length >= 2 && (plain[1]! & 1) === 1) {
      protocol = (first << 8) | plain[1]!;
      infoStart = 2;
    } else {
      this.counters.undecryptable++;
      if (this.stateful && !this.discarding) {
        // Out of step with the sender's keys: resynchronise as after a loss.
        this.discarding = true;
        this.counters.resetsRequested++;
        this.counters.dropped++;
        return { kind: 'needs-reset', coherencyCount: ccount };
      }
      return this.drop('bad-protocol');
    }
    this.counters.packets++;
    this.counters.bytes += length;
    return {
      kind: 'ok',
      protocol,
      information: Buffer.from(plain.buffer, plain.byteOffset + infoStart, length - infoStart),
      coherencyCount: ccount,
      flushed,
    };
  }

  private drop(reason: MppeDropReason): MppeDecryptResult {
    this.counters.dropped++;
    return { kind: 'dropped', reason };
  }

  /** Whether this packet's first two plaintext bytes are a network protocol MPPE carries. */
  private plausible(payload: Uint8Array): boolean {
    if (payload.length < MPPE_HEADER_LENGTH + 2) return true;
    const probe = new Rc4(this.key.sessionKey);
    const head = Buffer.alloc(2);
    probe.process(payload, head, MPPE_HEADER_LENGTH, 0, 2);
    const protocol = (head[0]! << 8) | head[1]!;
    return (head[1]! & 1) === 1 && mppeEncryptsProtocol(protocol);
  }

  /** Try up to MAX_CATCH_UP further keys; keep the first that decrypts to a plausible protocol. */
  private catchUp(payload: Uint8Array): void {
    const saved = Buffer.from(this.key.sessionKey);
    for (let i = 1; i <= MAX_CATCH_UP; i++) {
      this.key.change();
      if (this.plausible(payload)) {
        this.counters.keyChanges += i;
        this.rc4.setKey(this.key.sessionKey);
        return;
      }
    }
    this.key.sessionKey.set(saved);
    this.rc4.setKey(this.key.sessionKey);
  }
}

/** How many lost flushed packets a resynchronisation can make up for. */
const MAX_CATCH_UP = 8;
