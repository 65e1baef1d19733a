import { describe, expect, it } from 'vitest';
import type { AuthRequest } from '../../src/ppp/auth/authenticator.js';
import { verifyMschapLocally } from '../../src/ppp/auth/mschap-verify.js';
import type { AuthMethod } from '../../src/ppp/events.js';
import { decodeFrame, encodeFrame, UNCOMPRESSED } from '../../src/ppp/frame.js';
import { MPPE_POLICY_DEFAULT, type MppePolicy } from '../../src/ppp/mppe-option.js';
import { Code, encodeControlPacket } from '../../src/ppp/packet.js';
import { Protocol } from '../../src/ppp/protocol.js';
import { PppSession, type SessionConfig } from '../../src/ppp/session.js';
import { BackToBack, seeded } from './back-to-back.js';

const PASSWORDS: Record<string, string> = { alice: 'clientPass', hq: 'serverPass' };
const store = (r: AuthRequest) => verifyMschapLocally(r, { password: PASSWORDS[r.peerName] ?? '' });

function sessions(
  method: AuthMethod,
  direction: 'server-checks' | 'client-checks' | 'both',
  mppe: MppePolicy = MPPE_POLICY_DEFAULT,
  clientPassword = 'clientPass',
) {
  const random = seeded(7);
  const rnd = (n: number) =>
    Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)));
  const server: SessionConfig = {
    ourName: 'hq',
    credentials: { name: 'hq', password: 'serverPass' },
    authRequired: direction === 'client-checks' ? [] : [method],
    authAllowed: direction === 'server-checks' ? [] : [method],
    ipcp: { localAddress: '10.0.0.1', remoteAddress: '10.0.0.2' },
    mppe,
    random: rnd,
  };
  const client: SessionConfig = {
    ourName: 'branch',
    credentials: { name: 'alice', password: clientPassword },
    authRequired: direction === 'server-checks' ? [] : [method],
    authAllowed: direction === 'client-checks' ? [] : [method],
    mppe,
    random: rnd,
  };
  return [new PppSession(server), new PppSession(client)] as const;
}

function ipPacket(i: number, size = 100): Buffer {
  const p = Buffer.alloc(size, i & 0xff);
  p[0] = 0x45;
  p.writeUInt16BE(size, 2);
  p.writeUInt32BE(i, 4);
  return p;
}

describe('MS-CHAP and MPPE between two cores', () => {
  for (const method of ['mschap', 'mschap-v2'] as const) {
    for (const direction of ['server-checks', 'client-checks', 'both'] as const) {
      it(`${method}, ${direction}: reaches Network and carries encrypted IP with MPPE-128`, () => {
        const [a, b] = sessions(method, direction);
        const pair = new BackToBack(a, b, { authA: store, authB: store });
        pair.start();
        expect(pair.runUntil(() => !!a.addresses && !!b.addresses)).toBe(true);
        const stateless = {
          type: 'mppe-up',
          bits: 128,
          stateful: false,
          recv: { bits: 128, stateful: false },
        };
        expect(pair.eventsOf('a', 'mppe-up')).toEqual([stateless]);
        expect(pair.eventsOf('b', 'mppe-up')).toEqual([stateless]);
        const frame = a.encapsulateIp(ipPacket(1));
        const decoded = frame ? decodeFrame(frame) : undefined;
        expect(decoded?.ok && decoded.value.protocol).toBe(Protocol.COMPRESSED);
        expect(frame?.includes(ipPacket(1))).toBe(false);
        for (let i = 0; i < 20; i++) {
          pair.sendIp('a', ipPacket(i));
          pair.sendIp('b', ipPacket(1000 + i));
        }
        pair.runFor(100);
        expect(pair.received.b).toEqual(Array.from({ length: 20 }, (_, i) => ipPacket(i)));
        expect(pair.received.a).toEqual(Array.from({ length: 20 }, (_, i) => ipPacket(1000 + i)));
      });
    }
  }

  it('fails a wrong MS-CHAPv2 password with E=691 on both sides', () => {
    const [a, b] = sessions('mschap-v2', 'server-checks', MPPE_POLICY_DEFAULT, 'wrong');
    const pair = new BackToBack(a, b, { authA: store });
    pair.start();
    expect(pair.runUntil(() => pair.bothIn('dead'))).toBe(true);
    expect(pair.eventsOf('a', 'auth-failure')[0]?.reason).toMatch(/does not match/);
    expect(pair.eventsOf('b', 'auth-failure')[0]?.reason).toMatch(/E=691 R=0 C=[0-9A-F]{32} V=3/);
    expect(pair.eventsOf('a', 'ip-up')).toHaveLength(0);
  });

  it('ends the link when the authenticator response S= is wrong', () => {
    const [a, b] = sessions('mschap-v2', 'server-checks');
    const lying = (r: AuthRequest) => {
      const d = store(r);
      return d.ok ? { ...d, message: `S=${'0'.repeat(40)} M=Access granted` } : d;
    };
    const pair = new BackToBack(a, b, { authA: lying });
    pair.start();
    expect(pair.runUntil(() => pair.bothIn('dead'))).toBe(true);
    expect(pair.eventsOf('b', 'auth-failure')[0]?.reason).toMatch(
      /authenticator response \(S=\) is wrong/,
    );
  });

  it('terminates when MPPE is required and authentication gave no keys', () => {
    const a = new PppSession({
      ourName: 'hq',
      authRequired: [],
      authAllowed: [],
      mppe: MPPE_POLICY_DEFAULT,
      ipcp: { localAddress: '10.0.0.1', remoteAddress: '10.0.0.2' },
    });
    const b = new PppSession({ ourName: 'br', authRequired: [], authAllowed: [] });
    const pair = new BackToBack(a, b);
    pair.start();
    expect(pair.runUntil(() => pair.bothIn('dead'))).toBe(true);
    expect(pair.eventsOf('a', 'terminated')[0]?.reason).toBe(
      'MPPE is required but no MS-CHAP authentication gave keys for it',
    );
  });

  it('terminates when the peer refuses MPPE that we require', () => {
    const [a] = sessions('mschap-v2', 'server-checks');
    const b = new PppSession({
      ourName: 'br',
      credentials: { name: 'alice', password: 'clientPass' },
      authRequired: [],
      authAllowed: ['mschap-v2'],
    });
    const pair = new BackToBack(a, b, { authA: store });
    pair.start();
    expect(pair.runUntil(() => pair.bothIn('dead'))).toBe(true);
    expect(pair.eventsOf('a', 'terminated')[0]?.reason).toMatch(
      /^MPPE is required but could not be negotiated/,
    );
    expect(pair.eventsOf('a', 'ip-up')).toHaveLength(0);
  });

  it('keeps stateless MPPE going through 10% loss', () => {
    const [a, b] = sessions('mschap-v2', 'server-checks');
    const pair = new BackToBack(a, b, { authA: store, seed: 3 });
    pair.start();
    expect(pair.runUntil(() => !!a.addresses && !!b.addresses)).toBe(true);
    (pair as unknown as { options: { faults: unknown } }).options.faults = { loss: 0.1 };
    for (let i = 0; i < 500; i++) pair.sendIp('a', ipPacket(i));
    pair.runFor(1000);
    const got = pair.received.b;
    expect(got.length).toBeGreaterThan(400);
    expect(got.length).toBeLessThan(500);
    // Every packet that arrived decrypted to exactly what was sent.
    for (const p of got) expect(p).toEqual(ipPacket(p.readUInt32BE(4)));
    expect(b.counters.mppeDropped).toBe(0);
  });

  it('negotiates stateful MPPE-128 when both prefer it, and resynchronises through Reset-Request after loss', () => {
    const stateful: MppePolicy = {
      required: true,
      bits: [128],
      statefulAllowed: true,
      preferStateful: true,
    };
    const [a, b] = sessions('mschap-v2', 'server-checks', stateful);
    const pair = new BackToBack(a, b, { authA: store, seed: 11 });
    pair.start();
    expect(pair.runUntil(() => !!a.addresses && !!b.addresses)).toBe(true);
    expect(pair.eventsOf('a', 'mppe-up')[0]).toEqual({
      type: 'mppe-up',
      bits: 128,
      stateful: true,
      recv: { bits: 128, stateful: true },
    });
    for (let i = 0; i < 50; i++) pair.sendIp('a', ipPacket(i));
    pair.runFor(100);
    expect(pair.received.b).toEqual(Array.from({ length: 50 }, (_, i) => ipPacket(i)));
    (pair as unknown as { options: { faults: unknown } }).options.faults = { loss: 0.1 };
    for (let round = 0; round < 40; round++) {
      for (let i = 0; i < 10; i++) pair.sendIp('a', ipPacket(1000 + round * 10 + i));
      pair.runFor(200);
    }
    (pair as unknown as { options: { faults: unknown } }).options.faults = {};
    // The receiver learns it is out of step only from traffic: a few packets trigger
    // the Reset-Request (repeated once per restart period if it was lost).
    for (let i = 0; i < 5; i++) {
      pair.sendIp('a', ipPacket(4000 + i));
      pair.runFor(1000);
    }
    const before = pair.received.b.length;
    for (let i = 0; i < 20; i++) pair.sendIp('a', ipPacket(5000 + i));
    pair.runFor(500);
    // After the lossy stretch, the stream is in sync again: the last 20 all arrive.
    expect(pair.received.b.slice(before)).toEqual(
      Array.from({ length: 20 }, (_, i) => ipPacket(5000 + i)),
    );
    expect(b.counters.ccpResetsSent).toBeGreaterThan(0);
    for (const p of pair.received.b) expect(p).toEqual(ipPacket(p.readUInt32BE(4)));
  });

  it('uses stateful for one direction only when only that side asks for it', () => {
    const prefer: MppePolicy = {
      required: true,
      bits: [128],
      statefulAllowed: true,
      preferStateful: true,
    };
    const allow: MppePolicy = { required: true, bits: [128], statefulAllowed: true };
    const [a] = sessions('mschap-v2', 'server-checks', prefer);
    const [, b] = sessions('mschap-v2', 'server-checks', allow);
    const pair = new BackToBack(a, b, { authA: store });
    pair.start();
    expect(pair.runUntil(() => !!a.addresses && !!b.addresses)).toBe(true);
    expect(pair.eventsOf('a', 'mppe-up')[0]).toMatchObject({
      stateful: false,
      recv: { stateful: true },
    });
    expect(pair.eventsOf('b', 'mppe-up')[0]).toMatchObject({
      stateful: true,
      recv: { stateful: false },
    });
    for (let i = 0; i < 300; i++) {
      pair.sendIp('a', ipPacket(i));
      pair.sendIp('b', ipPacket(i));
    }
    pair.runFor(500);
    expect(pair.received.a).toHaveLength(300);
    expect(pair.received.b).toHaveLength(300);
  });

  it('brings IP up at once against pppd, whose IPCP waits for CCP when MPPE is required', () => {
    // pppd with require-mppe-128 opens IPCP only once CCP is up (auth.c start_networks):
    // before that it answers an IPCP Configure-Request with a Terminate-Ack (RFC 1661 §4.1,
    // RCR in Closed) and sends none itself. Side b plays by those rules here.
    const [a, b] = sessions('mschap-v2', 'server-checks');
    let termAcksToA = 0;
    const ipcpConfReqId = (frame: Buffer): number | undefined => {
      const d = decodeFrame(frame);
      if (!d.ok || d.value.protocol !== Protocol.IPCP) return undefined;
      return d.value.information[0] === Code.CONFIGURE_REQUEST
        ? (d.value.information[1] ?? 0)
        : undefined;
    };
    const pair = new BackToBack(a, b, {
      authA: store,
      tamper: (stage, from, frame) => {
        const id = ipcpConfReqId(frame);
        if (id === undefined || b.mppe !== undefined) return undefined;
        // b sends no IPCP before its CCP is up...
        if (stage === 'send' && from === 'b') return { drop: true };
        // ...and Terminate-Acks one that arrives before.
        if (stage === 'deliver' && from === 'a') {
          termAcksToA++;
          const termAck = encodeControlPacket(Code.TERMINATE_ACK, id, Buffer.alloc(0));
          return { drop: true, reply: encodeFrame(Protocol.IPCP, termAck, UNCOMPRESSED) };
        }
        return undefined;
      },
    });
    pair.start();
    expect(pair.runUntil(() => a.phase === 'network' && b.phase === 'network')).toBe(true);
    const networkAt = pair.now;
    expect(pair.runUntil(() => !!a.addresses && !!b.addresses)).toBe(true);
    // a's first Configure-Request met pppd's closed IPCP...
    expect(termAcksToA).toBeGreaterThan(0);
    // ...and IP still came up well within one restart time (3 s) of Network.
    expect(pair.now - networkAt).toBeLessThan(1000);
  });
});
