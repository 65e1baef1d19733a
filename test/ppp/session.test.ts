import { describe, expect, it } from 'vitest';
import { verifyPapOrMd5 } from '../../src/ppp/auth/verify.js';
import type { AuthMethod } from '../../src/ppp/events.js';
import { PppSession, type SessionConfig } from '../../src/ppp/session.js';
import { BackToBack, type SyncAuthenticator } from './back-to-back.js';

const secrets = new Map([
  ['alice', 'wonderland'],
  ['branch', 'hq-secret'],
]);

const store: SyncAuthenticator = (request) => {
  const password = secrets.get(request.peerName);
  if (password === undefined) return { ok: false, reason: `no secret for ${request.peerName}` };
  return verifyPapOrMd5(request, { password });
};

function server(overrides: Partial<SessionConfig> = {}): PppSession {
  return new PppSession({
    ourName: 'hq',
    authRequired: ['chap-md5'],
    authAllowed: [],
    ipcp: { localAddress: '10.0.0.1', remoteAddress: '10.0.0.2', dns: ['10.0.0.53'] },
    ...overrides,
  });
}

function client(overrides: Partial<SessionConfig> = {}): PppSession {
  return new PppSession({
    ourName: 'alice-router',
    credentials: { name: 'alice', password: 'wonderland' },
    authRequired: [],
    authAllowed: ['chap-md5'],
    ipcp: { requestDns: true },
    ...overrides,
  });
}

describe('two sessions back to back', () => {
  it('reach Network without authentication and agree on addresses', () => {
    const pair = new BackToBack(server({ authRequired: [] }), client());
    pair.start();
    expect(
      pair.runUntil(() => pair.bothIn('network') && !!pair.a.addresses && !!pair.b.addresses),
    ).toBe(true);
    expect(pair.a.addresses).toEqual({ local: '10.0.0.1', remote: '10.0.0.2' });
    expect(pair.b.addresses).toEqual({ local: '10.0.0.2', remote: '10.0.0.1' });
    expect(pair.eventsOf('b', 'ip-up')[0]?.dns).toEqual(['10.0.0.53']);
    expect(pair.phases('a')).toEqual(['establish', 'network']);
  });

  const methods: AuthMethod[] = ['pap', 'chap-md5'];
  for (const method of methods) {
    it(`authenticates the client with ${method} and passes IP both ways`, () => {
      const pair = new BackToBack(
        server({ authRequired: [method] }),
        client({ authAllowed: [method] }),
        { authA: store },
      );
      pair.start();
      expect(pair.runUntil(() => !!pair.a.addresses && !!pair.b.addresses)).toBe(true);
      expect(pair.phases('a')).toEqual(['establish', 'authenticate', 'network']);
      expect(pair.eventsOf('a', 'auth-success')).toEqual([
        { type: 'auth-success', role: 'authenticator', method, peerName: 'alice' },
      ]);
      expect(pair.eventsOf('b', 'auth-success')[0]).toMatchObject({ role: 'peer', method });
      expect(pair.authRequests.a).toHaveLength(1);
      const packet = Buffer.from(
        '4500001c00000000400100000a0000020a000001080000000000000000',
        'hex',
      );
      expect(pair.sendIp('b', packet)).toBe(true);
      expect(pair.sendIp('a', packet)).toBe(true);
      pair.runFor(100);
      expect(pair.received.a).toEqual([packet]);
      expect(pair.received.b).toEqual([packet]);
    });
  }

  for (const method of methods) {
    it(`authenticates the server to the client with ${method} (the other direction)`, () => {
      const a = server({
        authRequired: [],
        authAllowed: [method],
        credentials: { name: 'branch', password: 'hq-secret' },
      });
      const b = client({ authRequired: [method], authAllowed: [] });
      const pair = new BackToBack(a, b, { authB: store });
      pair.start();
      expect(pair.runUntil(() => !!pair.a.addresses && !!pair.b.addresses)).toBe(true);
      expect(pair.eventsOf('b', 'auth-success')).toEqual([
        { type: 'auth-success', role: 'authenticator', method, peerName: 'branch' },
      ]);
      expect(pair.eventsOf('a', 'auth-success')[0]).toMatchObject({ role: 'peer', method });
    });

    it(`authenticates both ways at once with ${method}`, () => {
      const a = server({
        authRequired: [method],
        authAllowed: [method],
        credentials: { name: 'branch', password: 'hq-secret' },
      });
      const b = client({ authRequired: [method], authAllowed: [method] });
      const pair = new BackToBack(a, b, { authA: store, authB: store });
      pair.start();
      expect(pair.runUntil(() => !!pair.a.addresses && !!pair.b.addresses)).toBe(true);
      for (const side of ['a', 'b'] as const) {
        expect(
          pair
            .eventsOf(side, 'auth-success')
            .map((e) => `${e.role}:${e.method}`)
            .sort(),
        ).toEqual([`authenticator:${method}`, `peer:${method}`]);
      }
    });
  }

  it('authenticates in both directions at once', () => {
    const a = server({
      credentials: { name: 'branch', password: 'hq-secret' },
      authAllowed: ['chap-md5'],
    });
    const b = client({ authRequired: ['chap-md5'], ourName: 'alice-router' });
    const pair = new BackToBack(a, b, { authA: store, authB: store });
    pair.start();
    expect(pair.runUntil(() => !!pair.a.addresses && !!pair.b.addresses)).toBe(true);
    expect(
      pair
        .eventsOf('a', 'auth-success')
        .map((e) => e.role)
        .sort(),
    ).toEqual(['authenticator', 'peer']);
    expect(
      pair
        .eventsOf('b', 'auth-success')
        .map((e) => e.role)
        .sort(),
    ).toEqual(['authenticator', 'peer']);
  });

  it('fails cleanly on both sides with a wrong secret', () => {
    const pair = new BackToBack(
      server(),
      client({ credentials: { name: 'alice', password: 'wrong' } }),
      {
        authA: store,
      },
    );
    pair.start();
    expect(pair.runUntil(() => pair.bothIn('dead'))).toBe(true);
    const failure = pair.eventsOf('a', 'auth-failure')[0];
    expect(failure).toMatchObject({ role: 'authenticator', method: 'chap-md5', peerName: 'alice' });
    expect(failure?.reason).toContain('wrong CHAP-MD5 response');
    expect(pair.eventsOf('b', 'auth-failure')[0]).toMatchObject({
      role: 'peer',
      method: 'chap-md5',
    });
    expect(pair.eventsOf('a', 'terminated')[0]?.reason).toMatch(
      /authentication of the peer failed/,
    );
    expect(pair.eventsOf('b', 'terminated')[0]?.reason).toMatch(
      /did not accept our authentication|Terminate-Request/,
    );
    expect(pair.eventsOf('a', 'ip-up')).toHaveLength(0);
  });

  it('refuses a peer that will not authenticate', () => {
    const pair = new BackToBack(server(), client({ authAllowed: [] }), { authA: store });
    pair.start();
    expect(pair.runUntil(() => pair.bothIn('dead'))).toBe(true);
    expect(pair.eventsOf('a', 'terminated')[0]?.reason).toMatch(/peer refused to authenticate/);
  });

  for (const seed of [1, 2, 3, 4, 5]) {
    it(`converges with 10% loss, duplication and reordering (seed ${seed})`, () => {
      const pair = new BackToBack(server(), client(), {
        authA: store,
        seed,
        faults: { loss: 0.1, duplicate: 0.1, reorder: 0.1 },
      });
      pair.start();
      expect(pair.runUntil(() => !!pair.a.addresses && !!pair.b.addresses, 300_000)).toBe(true);
      expect(pair.a.addresses).toEqual({ local: '10.0.0.1', remote: '10.0.0.2' });
    });
  }

  it('ends in Dead after Max-Configure when the peer is silent', () => {
    const pair = new BackToBack(server({ fsm: { maxConfigure: 4, restartMs: 1000 } }), client());
    pair.alive.b = false;
    pair.start();
    expect(pair.runUntil(() => pair.a.phase === 'dead' && pair.now > 0)).toBe(true);
    expect(pair.now).toBe(4000);
    expect(pair.a.lcp.counters.configureRequestsSent).toBe(4);
    expect(pair.eventsOf('a', 'terminated')[0]?.reason).toMatch(
      /no agreement after 4 Configure-Requests/,
    );
  });

  it('takes the link down when keepalive echoes go unanswered', () => {
    const pair = new BackToBack(
      server({ authRequired: [], lcp: { echoIntervalMs: 10_000, echoFailure: 3 } }),
      client(),
    );
    pair.start();
    expect(pair.runUntil(() => pair.bothIn('network'))).toBe(true);
    pair.runFor(60_000);
    expect(pair.a.phase).toBe('network');
    pair.alive.b = false;
    expect(pair.runUntil(() => pair.a.phase === 'dead', 120_000)).toBe(true);
    expect(pair.eventsOf('a', 'keepalive-lost')).toEqual([{ type: 'keepalive-lost', missed: 3 }]);
    expect(pair.eventsOf('a', 'terminated')[0]?.reason).toMatch(/no reply to 3 LCP echo-requests/);
  });
});
