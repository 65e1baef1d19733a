import { describe, expect, it } from 'vitest';
import { ChapAuthenticator, decodeChap } from '../../../src/ppp/auth/chap.js';
import { decodePap, PapAuthenticatee } from '../../../src/ppp/auth/pap.js';
import { decodeControlPacket } from '../../../src/ppp/packet.js';

function recorder() {
  const sent: Buffer[] = [];
  let now = 0;
  let counter = 0;
  return {
    sent,
    setNow: (t: number) => {
      now = t;
    },
    ctx: {
      now: () => now,
      send: (_p: number, packet: Buffer) => sent.push(packet),
      random: (n: number) => Buffer.alloc(n, ++counter),
    },
  };
}

function challengeOf(packet: Buffer) {
  const c = decodeControlPacket(packet);
  const m = c.ok ? decodeChap(c.value) : undefined;
  if (!m?.ok || m.value.code !== 1) throw new Error('not a challenge');
  return m.value;
}

const timers = { restartMs: 3000, maxTransmits: 3, waitMs: 30_000 };

describe('CHAP authenticator', () => {
  it('uses a new Identifier and fresh random bytes for every Challenge, then gives up', () => {
    const r = recorder();
    const failures: string[] = [];
    const chap = new ChapAuthenticator(r.ctx, timers, 'chap-md5', 'hq', 0, () => {}, {
      succeeded: () => {},
      failed: (why) => failures.push(why),
    });
    chap.start();
    for (const t of [3000, 6000, 9000]) {
      r.setNow(t);
      chap.handleTimeout(t);
    }
    const challenges = r.sent.map(challengeOf);
    expect(challenges).toHaveLength(3);
    expect(new Set(challenges.map((c) => c.identifier)).size).toBe(3);
    expect(new Set(challenges.map((c) => c.value.toString('hex'))).size).toBe(3);
    expect(challenges.every((c) => c.value.length === 16 && c.name.toString() === 'hq')).toBe(true);
    expect(failures).toEqual(['CHAP: no response to 3 Challenges']);
  });

  it('re-challenges after chap-interval with a new challenge', () => {
    const r = recorder();
    const asked: number[] = [];
    const chap = new ChapAuthenticator(
      r.ctx,
      timers,
      'chap-md5',
      'hq',
      60_000,
      (v) => asked.push(v.identifier),
      {
        succeeded: () => {},
        failed: () => {},
      },
    );
    chap.start();
    const id = challengeOf(r.sent[0]!).identifier;
    chap.receive({
      code: 2,
      identifier: id,
      data: Buffer.concat([Buffer.from([16]), Buffer.alloc(16), Buffer.from('alice')]),
    });
    chap.decide(true, 'ok', '');
    expect(chap.timeout).toBe(60_000);
    r.setNow(60_000);
    chap.handleTimeout(60_000);
    expect(r.sent).toHaveLength(3); // challenge, success, re-challenge
    expect(asked).toEqual([id]);
  });
});

describe('PAP authenticatee', () => {
  it('changes the Identifier on each retransmission (RFC 1334 §2.2.1)', () => {
    const r = recorder();
    const pap = new PapAuthenticatee(r.ctx, timers, 'alice', 'pw', {
      succeeded: () => {},
      failed: () => {},
    });
    pap.start();
    r.setNow(3000);
    pap.handleTimeout(3000);
    const ids = r.sent.map((p) => {
      const c = decodeControlPacket(p);
      const m = c.ok ? decodePap(c.value) : undefined;
      return m?.ok ? m.value.identifier : -1;
    });
    expect(ids).toHaveLength(2);
    expect(ids[0]).not.toBe(ids[1]);
  });
});
