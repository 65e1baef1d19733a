import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  RadiusAccounting,
  TERMINATE_CAUSES,
  terminateCauseFromReason,
} from '../../../src/secrets/radius/accounting.js';
import { RadiusClient } from '../../../src/secrets/radius/client.js';
import {
  ACCT_TERMINATE_CAUSES,
  Attr,
  Code,
  findAttribute,
  findAttributes,
  readInteger,
  verifyAccountingRequest,
} from '../../../src/secrets/radius/packet.js';
import { FakeRadiusServer, type FakeRequest } from './helpers/fake-server.js';

const SECRET = Buffer.from('acct-unit-secret');
const servers: FakeRadiusServer[] = [];
const clients: RadiusClient[] = [];

afterEach(async () => {
  vi.useRealTimers();
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) await s.close();
});

async function setup(interimInterval = 300, now?: () => number) {
  const server = await FakeRadiusServer.start(SECRET, (req, s) =>
    s.reply(req, Code.AccountingResponse, [], { messageAuthenticator: false }),
  );
  servers.push(server);
  const client = new RadiusClient({
    servers: [{ host: '127.0.0.1', port: server.port, secret: SECRET }],
    timeoutMs: 300,
    retries: 0,
    deadTimeMs: 1000,
  });
  clients.push(client);
  const accounting = new RadiusAccounting({
    client,
    nasIdentifier: 'branch1',
    interimInterval,
    ...(now ? { now } : {}),
  });
  return { server, accounting };
}

const int = (req: FakeRequest, type: number): number | undefined => {
  const v = findAttribute(req.packet, type);
  return v === undefined ? undefined : readInteger(v);
};

describe('RadiusAccounting', () => {
  it('sends Start, Interim-Update and Stop with session time, counters and cause', async () => {
    let now = 1_700_000_000_000;
    const { server, accounting } = await setup(300, () => now);
    const session = accounting.start({
      userName: 'alice',
      framedIpAddress: '10.9.0.9',
      callingStationId: '198.51.100.7',
      hints: { authentic: 'radius', class: [Buffer.from('k1')] },
    });
    expect((await session.started).ok).toBe(true);
    now += 65_000;
    expect(
      (
        await session.update({
          inputOctets: 100,
          outputOctets: 200,
          inputPackets: 3,
          outputPackets: 4,
        })
      ).ok,
    ).toBe(true);
    now += 60_000;
    const stop = await session.stop(
      { inputOctets: 2 ** 32 + 7, outputOctets: 3 * 2 ** 32, inputPackets: 9, outputPackets: 8 },
      'idle-timeout',
    );
    expect(stop.ok).toBe(true);

    const [start, interim, end] = server.received as [FakeRequest, FakeRequest, FakeRequest];
    for (const r of server.received) {
      expect(r.packet.code).toBe(Code.AccountingRequest);
      expect(verifyAccountingRequest(r.raw, SECRET)).toBe(true);
      expect(findAttribute(r.packet, Attr.AcctSessionId)?.toString()).toBe(session.sessionId);
      expect(findAttributes(r.packet, Attr.Class).map(String)).toEqual(['k1']);
      expect(int(r, Attr.AcctDelayTime)).toBe(0);
      expect(int(r, Attr.AcctAuthentic)).toBe(1);
    }
    expect(int(start, Attr.AcctStatusType)).toBe(1);
    expect(int(start, Attr.AcctSessionTime)).toBeUndefined();
    expect(int(start, Attr.EventTimestamp)).toBe(1_700_000_000);
    expect(int(interim, Attr.AcctStatusType)).toBe(3);
    expect(int(interim, Attr.AcctSessionTime)).toBe(65);
    expect(int(interim, Attr.AcctInputOctets)).toBe(100);
    expect(int(interim, Attr.AcctOutputOctets)).toBe(200);
    expect(int(end, Attr.AcctStatusType)).toBe(2);
    expect(int(end, Attr.AcctSessionTime)).toBe(125);
    // RFC 2869 §5.1/§5.2: octets above 2^32 go into Gigawords.
    expect(int(end, Attr.AcctInputOctets)).toBe(7);
    expect(int(end, Attr.AcctInputGigawords)).toBe(1);
    expect(int(end, Attr.AcctOutputOctets)).toBe(0);
    expect(int(end, Attr.AcctOutputGigawords)).toBe(3);
    expect(int(end, Attr.AcctInputPackets)).toBe(9);
    expect(int(end, Attr.AcctTerminateCause)).toBe(4);
  });

  it('says Acct-Authentic Local for a session the fallback authenticated', async () => {
    const { server, accounting } = await setup();
    const s = accounting.start({ userName: 'bob', hints: { authentic: 'local', class: [] } });
    await s.started;
    expect(int(server.received[0]!, Attr.AcctAuthentic)).toBe(2);
  });

  it('stops once: a second stop and a later update send nothing', async () => {
    const { server, accounting } = await setup();
    const s = accounting.start({ userName: 'alice' });
    await s.started;
    const c = { inputOctets: 1, outputOctets: 1, inputPackets: 1, outputPackets: 1 };
    expect((await s.stop(c, 'user-request')).ok).toBe(true);
    expect((await s.stop(c, 'user-request')).ok).toBe(false);
    expect((await s.update(c)).ok).toBe(false);
    expect(server.received.length).toBe(2);
  });

  it("raises a server's Acct-Interim-Interval below 60 s to 60 s (RFC 2869 §5.16)", async () => {
    const { accounting } = await setup(0);
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    let calls = 0;
    const counters = () => {
      calls++;
      return { inputOctets: 0, outputOctets: 0, inputPackets: 0, outputPackets: 0 };
    };
    const s = accounting.start(
      { userName: 'alice', hints: { authentic: 'radius', class: [], interimInterval: 10 } },
      { counters },
    );
    await s.started;
    vi.advanceTimersByTime(59_000);
    expect(calls).toBe(0);
    vi.advanceTimersByTime(1_000);
    expect(calls).toBe(1);
    await s.stop(counters(), 'user-request');
    vi.advanceTimersByTime(120_000);
    expect(calls).toBe(2);
  });

  it('sends no Interim-Update when the interval is 0', async () => {
    const { accounting } = await setup(0);
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    let calls = 0;
    const s = accounting.start(
      { userName: 'alice' },
      {
        counters: () => {
          calls++;
          return { inputOctets: 0, outputOctets: 0, inputPackets: 0, outputPackets: 0 };
        },
      },
    );
    await s.started;
    vi.advanceTimersByTime(3_600_000);
    expect(calls).toBe(0);
  });

  it('reports a Stop nobody acknowledged without throwing', async () => {
    const { server, accounting } = await setup();
    const s = accounting.start({ userName: 'alice' });
    await s.started;
    server.handler = () => undefined;
    const r = await s.stop(
      { inputOctets: 0, outputOctets: 0, inputPackets: 0, outputPackets: 0 },
      'nas-request',
    );
    expect(r).toMatchObject({ ok: false, error: { kind: 'timeout', unreachable: true } });
  });
});

describe('terminate causes (RFC 2866 §5.10)', () => {
  it('match the RFC numbers', () => {
    for (const [name, n] of Object.entries(TERMINATE_CAUSES)) {
      expect(ACCT_TERMINATE_CAUSES[n].toLowerCase()).toBe(name);
    }
  });

  it.each([
    ['LCP: peer sent Terminate-Request "bye"', 'user-request'],
    ['link down: carrier lost', 'lost-carrier'],
    ['peer not responding: no reply to 4 LCP echo-requests', 'lost-carrier'],
    ['session time limit reached', 'session-timeout'],
    ['idle for 600 s', 'idle-timeout'],
    ['authentication of the peer failed: wrong password', 'service-unavailable'],
    ['MPPE is required but could not be negotiated: x', 'service-unavailable'],
    ['the line is looped back (our own Magic-Number came back)', 'port-error'],
    ['something else', 'nas-error'],
  ])('maps %j to %s', (reason, cause) => {
    expect(terminateCauseFromReason(reason)).toBe(cause);
  });
});
