import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Rc4 } from '../../src/ppp/crypto/rc4.js';
import {
  MPPE_BIT_COMPRESSED,
  MppeDecrypter,
  type MppeDecryptResult,
  MppeEncrypter,
  mppeEncryptsProtocol,
} from '../../src/ppp/mppe.js';
import { type MppeKeyBits, MppeSessionKey } from '../../src/ppp/mppe-keys.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const START = hex('8B7CDC149B993A1BA118CB153F56DCCB');
const IPV4 = 0x0021;

function pair(bits: MppeKeyBits, stateful: boolean, startKey: Buffer = START) {
  return {
    tx: new MppeEncrypter({ startKey, bits, stateful }),
    rx: new MppeDecrypter({ startKey, bits, stateful }),
  };
}

function expectOk(r: MppeDecryptResult, protocol: number, info: Uint8Array): void {
  expect(r.kind).toBe('ok');
  if (r.kind !== 'ok') return;
  expect(r.protocol).toBe(protocol);
  expect(r.information).toEqual(Buffer.from(info));
}

/** The session key after `n` RFC 3078 §7.3 changes from the initial one. */
function keyAfter(n: number, bits: MppeKeyBits = 128): Buffer {
  const k = new MppeSessionKey(START, bits);
  for (let i = 0; i < n; i++) k.change();
  return Buffer.from(k.sessionKey);
}

describe('MppeEncrypter wire format', () => {
  it('sends the first stateless packet with A|D and count 0, under the key after one change', () => {
    const { tx } = pair(128, false);
    const info = Buffer.from('hello');
    const out = tx.encrypt(IPV4, info);
    expect(out.subarray(0, 2).toString('hex')).toBe('9000');
    const expected = new Rc4(keyAfter(1)).encrypt(Buffer.concat([hex('0021'), info]));
    expect(out.subarray(2)).toEqual(expected);
  });

  it('changes key for every stateless packet and counts 0, 1, 2, ...', () => {
    const { tx } = pair(128, false);
    for (let n = 0; n < 5; n++) {
      const out = tx.encrypt(IPV4, Buffer.from([n]));
      expect(out.readUInt16BE(0)).toBe(0x9000 | n);
      expect(out.subarray(2)).toEqual(new Rc4(keyAfter(n + 1)).encrypt(hex(`0021${'0' + n}`)));
    }
    expect(tx.counters).toMatchObject({ packets: 5, keyChanges: 5 });
  });

  it('keeps one RC4 stream in stateful mode until the flag packet 0xFF, which changes key', () => {
    const { tx } = pair(128, true);
    const stream = new Rc4(keyAfter(0));
    for (let n = 0; n < 255; n++) {
      const out = tx.encrypt(IPV4, Buffer.from([n & 0xff]));
      expect(out.readUInt16BE(0)).toBe(0x1000 | n); // D only: no key change, not flushed
      expect(out.subarray(2)).toEqual(stream.encrypt(Buffer.from([0x00, 0x21, n & 0xff])));
    }
    const flag = tx.encrypt(IPV4, Buffer.from([0xee]));
    expect(flag.readUInt16BE(0)).toBe(0x9000 | 0xff);
    expect(flag.subarray(2)).toEqual(new Rc4(keyAfter(1)).encrypt(hex('0021ee')));
  });

  it('sends the packet after a CCP Reset-Request flushed under a new key, once', () => {
    const { tx } = pair(128, true);
    tx.encrypt(IPV4, Buffer.from([1]));
    tx.resetRequested();
    tx.resetRequested(); // a retransmitted Reset-Request before we sent: still one change
    const flushed = tx.encrypt(IPV4, Buffer.from([2]));
    expect(flushed.readUInt16BE(0)).toBe(0x9001);
    expect(flushed.subarray(2)).toEqual(new Rc4(keyAfter(1)).encrypt(hex('002102')));
    const next = tx.encrypt(IPV4, Buffer.from([3]));
    expect(next.readUInt16BE(0)).toBe(0x1002);
    expect(tx.counters).toMatchObject({ resets: 1, keyChanges: 1 });
  });

  it('wraps the coherency count from 4095 to 0', () => {
    const { tx } = pair(40, false);
    let last = 0;
    for (let n = 0; n < 4098; n++) last = tx.encrypt(IPV4, Buffer.alloc(0)).readUInt16BE(0) & 0xfff;
    expect(last).toBe(1);
    expect(tx.coherencyCount).toBe(1);
  });

  it('writes into a caller buffer at an offset', () => {
    const { tx } = pair(128, false);
    const buf = Buffer.alloc(20, 0xff);
    const n = tx.encryptInto(IPV4, Buffer.from('abc'), buf, 4);
    expect(n).toBe(7);
    expect(buf.subarray(0, 4)).toEqual(Buffer.alloc(4, 0xff));
    expect(buf.subarray(11)).toEqual(Buffer.alloc(9, 0xff));
    expect(() => tx.encryptInto(IPV4, Buffer.alloc(20), buf, 0)).toThrow(RangeError);
  });

  it('encrypts network-layer protocols only', () => {
    expect(mppeEncryptsProtocol(0x0021)).toBe(true);
    expect(mppeEncryptsProtocol(0x0057)).toBe(true);
    expect(mppeEncryptsProtocol(0xc021)).toBe(false);
    expect(mppeEncryptsProtocol(0x80fd)).toBe(false);
    expect(mppeEncryptsProtocol(0x00fd)).toBe(false);
  });
});

describe('MppeDecrypter', () => {
  const payload = fc.uint8Array({ maxLength: 1500 });
  const bitsArb = fc.constantFrom<MppeKeyBits>(40, 56, 128);

  it('round-trips random payloads in both modes and all key lengths, across the 4096 wrap', () => {
    fc.assert(
      fc.property(
        bitsArb,
        fc.boolean(),
        fc.array(payload, { minLength: 1, maxLength: 20 }),
        fc.integer({ min: 0, max: 4200 }),
        (bits, stateful, payloads, warmup) => {
          const { tx, rx } = pair(bits, stateful);
          // Walk both ends to a random coherency count with small packets first.
          for (let i = 0; i < warmup; i++) rx.decrypt(tx.encrypt(IPV4, Buffer.alloc(0)));
          for (const p of payloads) expectOk(rx.decrypt(tx.encrypt(IPV4, p)), IPV4, p);
          expect(rx.counters.dropped).toBe(0);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('stateless: survives random loss, changing key once per missed packet', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 300 }), payload), {
          minLength: 1,
          maxLength: 30,
        }),
        (steps) => {
          const { tx, rx } = pair(128, false);
          let lost = 0;
          for (const [loss, p] of steps) {
            for (let i = 0; i < loss; i++) tx.encrypt(IPV4, Buffer.from([1, 2, 3]));
            lost += loss;
            expectOk(rx.decrypt(tx.encrypt(0x0057, p)), 0x0057, p);
          }
          expect(rx.counters.lost).toBe(lost);
          expect(rx.counters.dropped).toBe(0);
        },
      ),
      { numRuns: 30 },
    );
  });

  it('stateless: drops late and replayed packets without losing sync', () => {
    const { tx, rx } = pair(128, false);
    const a = tx.encrypt(IPV4, Buffer.from('a'));
    const b = tx.encrypt(IPV4, Buffer.from('b'));
    expectOk(rx.decrypt(b), IPV4, Buffer.from('b'));
    expect(rx.decrypt(a)).toEqual({ kind: 'dropped', reason: 'late' });
    expect(rx.decrypt(b)).toEqual({ kind: 'dropped', reason: 'late' });
    expectOk(rx.decrypt(tx.encrypt(IPV4, Buffer.from('c'))), IPV4, Buffer.from('c'));
  });

  it('stateful: reports needs-reset on a gap, drops until a flushed packet, then recovers', () => {
    const { tx, rx } = pair(128, true);
    expectOk(rx.decrypt(tx.encrypt(IPV4, Buffer.from('1'))), IPV4, Buffer.from('1'));
    tx.encrypt(IPV4, Buffer.from('lost'));
    expect(rx.decrypt(tx.encrypt(IPV4, Buffer.from('3')))).toEqual({
      kind: 'needs-reset',
      coherencyCount: 2,
    });
    expect(rx.awaitingFlush).toBe(true);
    expect(rx.decrypt(tx.encrypt(IPV4, Buffer.from('4')))).toEqual({
      kind: 'dropped',
      reason: 'awaiting-flush',
    });
    tx.resetRequested(); // the session got our CCP Reset-Request across
    const r = rx.decrypt(tx.encrypt(IPV4, Buffer.from('5')));
    expectOk(r, IPV4, Buffer.from('5'));
    expect(r.kind === 'ok' && r.flushed).toBe(true);
    expect(rx.awaitingFlush).toBe(false);
    for (let i = 0; i < 600; i++) {
      const p = Buffer.from(`after ${i}`);
      expectOk(rx.decrypt(tx.encrypt(IPV4, p)), IPV4, p);
    }
    expect(rx.counters.resetsRequested).toBe(1);
  });

  it('stateful: catches up when the flushed answer to a Reset-Request is itself lost', () => {
    const { tx, rx } = pair(128, true);
    expectOk(rx.decrypt(tx.encrypt(IPV4, Buffer.from('1'))), IPV4, Buffer.from('1'));
    tx.encrypt(IPV4, Buffer.from('lost'));
    expect(rx.decrypt(tx.encrypt(IPV4, Buffer.from('3'))).kind).toBe('needs-reset');
    // First Reset-Request: the sender rekeys for a flushed packet that never arrives.
    tx.resetRequested();
    tx.encrypt(IPV4, Buffer.from('flushed but lost'));
    expect(rx.decrypt(tx.encrypt(IPV4, Buffer.from('6')))).toEqual({
      kind: 'dropped',
      reason: 'awaiting-flush',
    });
    // Repeated Reset-Request: the sender is now two keys ahead of the receiver.
    tx.resetRequested();
    const r = rx.decrypt(tx.encrypt(IPV4, Buffer.from('7')));
    expectOk(r, IPV4, Buffer.from('7'));
    for (let i = 0; i < 300; i++) {
      const p = Buffer.from(`after ${i}`);
      expectOk(rx.decrypt(tx.encrypt(IPV4, p)), IPV4, p);
    }
  });

  it('stateful: a packet under the wrong key puts the receiver back to resynchronising', () => {
    const { tx, rx } = pair(128, true);
    const other = new MppeEncrypter({
      startKey: hex('00112233445566778899aabbccddeeff'),
      bits: 128,
      stateful: true,
    });
    expectOk(rx.decrypt(tx.encrypt(IPV4, Buffer.from('1'))), IPV4, Buffer.from('1'));
    other.encrypt(IPV4, Buffer.from('x'));
    let saw = false;
    for (let i = 0; i < 50 && !saw; i++)
      saw = rx.decrypt(other.encrypt(IPV4, Buffer.from('garbage'))).kind === 'needs-reset';
    expect(saw).toBe(true);
    expect(rx.awaitingFlush).toBe(true);
  });

  it('stateful: resynchronises on the next flag packet even without a reset', () => {
    const { tx, rx } = pair(128, true);
    for (let i = 0; i < 10; i++) rx.decrypt(tx.encrypt(IPV4, Buffer.from([i])));
    tx.encrypt(IPV4, Buffer.from('lost'));
    let needsReset = 0;
    let lastOk = -1;
    for (let i = 11; i < 300; i++) {
      const r = rx.decrypt(tx.encrypt(IPV4, Buffer.from([i & 0xff])));
      if (r.kind === 'needs-reset') needsReset++;
      if (r.kind === 'ok') {
        expect(r.information).toEqual(Buffer.from([i & 0xff]));
        if (lastOk < 0) expect(r.coherencyCount).toBe(0xff);
        lastOk = i;
      }
    }
    expect(needsReset).toBe(1);
    expect(lastOk).toBe(299);
  });

  it('stateful: recovers when losses span several flag packets (random loss, resets)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 700 }), payload, fc.boolean()), {
          minLength: 1,
          maxLength: 25,
        }),
        (steps) => {
          const { tx, rx } = pair(56, true);
          for (const [loss, p, resetArrives] of steps) {
            for (let i = 0; i < loss; i++) tx.encrypt(IPV4, Buffer.from([9]));
            let r = rx.decrypt(tx.encrypt(IPV4, p));
            if (r.kind === 'needs-reset') {
              if (resetArrives) tx.resetRequested();
              // Keep sending until the decrypter takes a flushed packet (reset or flag).
              while (r.kind !== 'ok') r = rx.decrypt(tx.encrypt(IPV4, p));
            }
            expectOk(r, IPV4, p);
          }
        },
      ),
      { numRuns: 30 },
    );
  });

  it('accepts a PFC-compressed 1-byte protocol field', () => {
    const key = new MppeSessionKey(START, 128);
    key.change();
    const body = new Rc4(key.sessionKey).encrypt(Buffer.from([0x21, 0x45, 0x00]));
    const r = pair(128, false).rx.decrypt(Buffer.concat([hex('9000'), body]));
    expectOk(r, 0x21, Buffer.from([0x45, 0x00]));
  });

  it('drops malformed headers with a reason and counts them', () => {
    const { tx, rx } = pair(128, false);
    const good = tx.encrypt(IPV4, Buffer.from('x'));
    expect(rx.decrypt(good.subarray(0, 2))).toEqual({ kind: 'dropped', reason: 'truncated' });
    const clear = Buffer.from(good);
    clear[0]! &= ~0x10;
    expect(rx.decrypt(clear)).toEqual({ kind: 'dropped', reason: 'not-encrypted' });
    const compressed = Buffer.from(good);
    compressed[0]! |= MPPE_BIT_COMPRESSED;
    expect(rx.decrypt(compressed)).toEqual({ kind: 'dropped', reason: 'compressed' });
    const unflushed = Buffer.from(good);
    unflushed[0]! &= ~0x80;
    expect(rx.decrypt(unflushed)).toEqual({ kind: 'dropped', reason: 'not-flushed' });
    expect(rx.counters.dropped).toBe(4);
    expectOk(rx.decrypt(good), IPV4, Buffer.from('x'));

    const s = pair(128, true);
    const flagWithoutA = Buffer.from([0x10, 0xff, 0, 0x21]);
    expect(s.rx.decrypt(flagWithoutA)).toEqual({ kind: 'dropped', reason: 'not-flushed' });
  });

  it('decrypts into a caller buffer', () => {
    const { tx, rx } = pair(128, false);
    const out = Buffer.alloc(64);
    const r = rx.decrypt(tx.encrypt(IPV4, Buffer.from('into')), out);
    expectOk(r, IPV4, Buffer.from('into'));
    expect(out.subarray(2, 6).toString()).toBe('into');
  });

  it('never throws on random bytes, in either mode', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 20 }),
        (stateful, packets) => {
          const { rx } = pair(128, stateful);
          for (const p of packets)
            expect(['ok', 'dropped', 'needs-reset']).toContain(rx.decrypt(p).kind);
        },
      ),
      { numRuns: 300 },
    );
  });
});
