/**
 * Nothing a peer sends may crash a session: random frames, and well-formed control
 * packets with random contents, fed into sessions in every phase (property tests).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AuthRequest } from '../../src/ppp/auth/authenticator.js';
import { verifyMschapLocally } from '../../src/ppp/auth/mschap-verify.js';
import { encodeFrame, UNCOMPRESSED } from '../../src/ppp/frame.js';
import { MPPE_POLICY_DEFAULT } from '../../src/ppp/mppe-option.js';
import { encodeControlPacket } from '../../src/ppp/packet.js';
import { Protocol } from '../../src/ppp/protocol.js';
import { PppSession } from '../../src/ppp/session.js';
import { BackToBack } from './back-to-back.js';

const store = (r: AuthRequest) => verifyMschapLocally(r, { password: 'pw' });

function pair(): BackToBack {
  const a = new PppSession({
    ourName: 'hq',
    authRequired: ['mschap-v2'],
    authAllowed: [],
    mppe: MPPE_POLICY_DEFAULT,
    ipcp: { localAddress: '10.0.0.1', remoteAddress: '10.0.0.2' },
    trace: true,
  });
  const b = new PppSession({
    ourName: 'br',
    credentials: { name: 'u', password: 'pw' },
    authRequired: [],
    authAllowed: ['mschap-v2'],
    mppe: MPPE_POLICY_DEFAULT,
    trace: true,
  });
  return new BackToBack(a, b, { authA: store });
}

const PROTOCOLS = [
  Protocol.LCP,
  Protocol.PAP,
  Protocol.CHAP,
  Protocol.IPCP,
  Protocol.CCP,
  Protocol.IP,
  Protocol.COMPRESSED,
  0x8057,
  0x4021,
];

/** A frame as the wire could bring it: random bytes, or a valid header with random data. */
const frame = fc.oneof(
  fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
  fc
    .tuple(
      fc.constantFrom(...PROTOCOLS),
      fc.integer({ min: 0, max: 20 }),
      fc.integer({ min: 0, max: 255 }),
      fc.uint8Array({ maxLength: 120 }),
    )
    .map(([protocol, code, id, data]) =>
      encodeFrame(
        protocol,
        protocol === Protocol.IP || protocol === Protocol.COMPRESSED
          ? Buffer.from(data)
          : encodeControlPacket(code, id, Buffer.from(data)),
        UNCOMPRESSED,
      ),
    ),
);

/** How far the pair gets before the garbage starts: 0 = right after open. */
const stage = fc.constantFrom(0, 5, 12, 25, 60, 200);

describe('a session under garbage', () => {
  it('never throws, whatever arrives in whatever phase, and keeps its phase valid', () => {
    fc.assert(
      fc.property(stage, fc.array(frame, { minLength: 1, maxLength: 40 }), (ms, frames) => {
        const p = pair();
        p.start();
        p.runFor(ms);
        for (const f of frames) {
          p.a.handleFrame(f, p.now);
          p.b.handleFrame(f, p.now);
          p.pump();
        }
        p.runFor(30_000);
        for (const s of [p.a, p.b]) {
          expect(['dead', 'establish', 'authenticate', 'network', 'terminate']).toContain(s.phase);
          expect(s.counters.framesIn).toBeGreaterThanOrEqual(frames.length);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('a pair in Network still carries IP after a burst of garbage it can survive', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.uint8Array({ maxLength: 100 }).map((b) => Buffer.from(b)),
          { maxLength: 30 },
        ),
        (garbage) => {
          const p = pair();
          p.start();
          expect(p.runUntil(() => !!p.a.addresses && !!p.b.addresses)).toBe(true);
          // Random bytes that do not decode as a frame, or name no protocol we speak, are
          // dropped or Protocol-Rejected; they must not disturb the link.
          for (const g of garbage)
            p.b.handleFrame(Buffer.concat([Buffer.from([0xff, 0x03, 0x40, 0x21]), g]), p.now);
          p.pump();
          const packet = Buffer.alloc(60, 7);
          packet[0] = 0x45;
          expect(p.sendIp('a', packet)).toBe(true);
          p.runFor(100);
          expect(p.received.b.at(-1)).toEqual(packet);
        },
      ),
      { numRuns: 50 },
    );
  });
});
