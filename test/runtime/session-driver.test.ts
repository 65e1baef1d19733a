import { describe, expect, it } from 'vitest';
import type { Authenticator } from '../../src/ppp/auth/authenticator.js';
import { verifyPapOrMd5 } from '../../src/ppp/auth/verify.js';
import type { SessionEvent } from '../../src/ppp/events.js';
import { PppSession } from '../../src/ppp/session.js';
import { type IpUp, SessionDriver } from '../../src/runtime/session-driver.js';
import { memoryLinkPair } from './memory-link.js';

const slowStore: Authenticator = {
  authenticate: (request) =>
    new Promise((resolve) =>
      setTimeout(() => resolve(verifyPapOrMd5(request, { password: 'pw' })), 5),
    ),
};

function until(pred: () => boolean, ms = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const end = Date.now() + ms;
    const tick = (): void => {
      if (pred()) resolve();
      else if (Date.now() > end) reject(new Error('condition not met in time'));
      else setTimeout(tick, 2);
    };
    tick();
  });
}

function setup() {
  const [la, lb] = memoryLinkPair();
  const events: { a: SessionEvent[]; b: SessionEvent[] } = { a: [], b: [] };
  const delivered: { a: Buffer[]; b: Buffer[] } = { a: [], b: [] };
  const ups: { a?: IpUp; b?: IpUp } = {};
  const closedIp: string[] = [];
  const finished: string[] = [];
  const mk = (side: 'a' | 'b', session: PppSession, link: typeof la) =>
    new SessionDriver({
      session,
      link,
      authenticator: slowStore,
      onEvent: (e) => events[side].push(e),
      onFinished: (r) => finished.push(`${side}: ${r}`),
      openIp: async (up) => {
        ups[side] = up;
        return {
          write: (p) => delivered[side].push(p),
          close: async () => {
            closedIp.push(side);
          },
        };
      },
    });
  const a = mk(
    'a',
    new PppSession({
      ourName: 'hq',
      authRequired: ['chap-md5'],
      authAllowed: [],
      ipcp: { localAddress: '10.1.0.1', remoteAddress: '10.1.0.2' },
    }),
    la,
  );
  const b = mk(
    'b',
    new PppSession({
      ourName: 'br',
      credentials: { name: 'u', password: 'pw' },
      authRequired: [],
      authAllowed: ['chap-md5'],
    }),
    lb,
  );
  return { a, b, la, lb, events, delivered, ups, closedIp, finished };
}

describe('session driver', () => {
  it('runs two sessions to Network over a link with an asynchronous authenticator, and carries IP', async () => {
    const t = setup();
    t.a.start();
    t.b.start();
    await until(() => t.ups.a !== undefined && t.ups.b !== undefined);
    expect(t.ups.a).toMatchObject({
      localAddress: '10.1.0.1',
      remoteAddress: '10.1.0.2',
      mtu: 1500,
    });
    expect(t.la.params).toEqual({ sendAccm: 0xffffffff, recvAccm: 0xffffffff, mru: 1500 });
    const packet = Buffer.from('450000140000000040000000aaaaaaaabbbbbbbb', 'hex');
    t.ups.b!.send(packet);
    await until(() => t.delivered.a.length === 1);
    expect(t.delivered.a[0]).toEqual(packet);
    await t.a.stop('User request');
    await until(() => t.finished.length === 2);
    expect(t.finished).toContain('a: User request');
    expect(t.closedIp.sort()).toEqual(['a', 'b']);
    expect(t.la.closed).toBe('User request');
  });

  it('drops IP before framing it when the link refuses admission (congested medium)', async () => {
    const t = setup();
    t.a.start();
    t.b.start();
    await until(() => t.ups.a !== undefined && t.ups.b !== undefined);
    const packet = Buffer.from('450000140000000040000000aaaaaaaabbbbbbbb', 'hex');
    let admit = false;
    t.lb.admitIp = () => admit;
    const sentBefore = t.lb.sent;
    const framedBefore = t.b.session.counters.ipPacketsOut;
    t.ups.b!.send(packet);
    expect(t.lb.sent).toBe(sentBefore);
    expect(t.b.session.counters.ipPacketsOut).toBe(framedBefore);
    admit = true;
    t.ups.b!.send(packet);
    await until(() => t.delivered.a.length === 1);
    expect(t.b.session.counters.ipPacketsOut).toBe(framedBefore + 1);
    await t.a.stop('User request');
  });

  it('takes the session to Dead when the medium goes down', async () => {
    const t = setup();
    t.a.start();
    t.b.start();
    await until(() => t.b.phase === 'network');
    await t.la.close('carrier lost');
    await until(() => t.b.isFinished);
    expect(t.finished.some((f) => f.startsWith('b: link down: peer hung up'))).toBe(true);
    expect(t.events.b.some((e) => e.type === 'phase' && e.phase === 'dead')).toBe(true);
  });
});
