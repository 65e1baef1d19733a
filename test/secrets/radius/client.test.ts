import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { ok } from '../../../src/ppp/result.js';
import { type BuildContext, RadiusClient } from '../../../src/secrets/radius/client.js';
import {
  Attr,
  Code,
  encodeAccessRequest,
  encodeAccountingRequest,
  integerAttribute,
  responseAuthenticator,
  textAttribute,
} from '../../../src/secrets/radius/packet.js';
import { deadPort, FakeRadiusServer, type FakeRequest } from './helpers/fake-server.js';

const SECRET = Buffer.from('unit-test-secret');

const servers: FakeRadiusServer[] = [];
const clients: RadiusClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) await s.close();
});

/** A fake server that answers nothing until a test sets its handler. */
async function server(): Promise<FakeRadiusServer> {
  const s = await FakeRadiusServer.start(SECRET, () => undefined);
  servers.push(s);
  return s;
}

function client(
  ports: number[],
  options: Partial<ConstructorParameters<typeof RadiusClient>[0]> = {},
): RadiusClient {
  const c = new RadiusClient({
    servers: ports.map((port) => ({ host: '127.0.0.1', port, secret: SECRET })),
    timeoutMs: 150,
    retries: 0,
    deadTimeMs: 60_000,
    ...options,
  });
  clients.push(c);
  return c;
}

function accessRequest(name = 'alice') {
  return ({ secret, identifier }: BuildContext) => {
    const authenticator = randomBytes(16);
    const b = encodeAccessRequest({
      identifier,
      authenticator,
      attributes: [textAttribute(Attr.UserName, name)],
      userPassword: Buffer.from('pw'),
      secret,
    });
    return b.ok ? ok({ bytes: b.value, authenticator }) : b;
  };
}

describe('RadiusClient', () => {
  it('resolves with a verified Access-Accept', async () => {
    const s = await server();
    s.handler = (req) =>
      s.reply(req, Code.AccessAccept, [integerAttribute(Attr.SessionTimeout, 9)]);
    const c = client([s.port]);
    const r = await c.request(Code.AccessRequest, accessRequest());
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.packet.code).toBe(Code.AccessAccept);
    expect(r.value.serverLabel).toBe(`127.0.0.1:${s.port}`);
    expect(c.stats.replies).toBe(1);
  });

  it('drops a reply with a wrong Response Authenticator and waits for a good one', async () => {
    const s = await server();
    s.handler = (req) => {
      const good = s.reply(req, Code.AccessAccept);
      const bad = Buffer.from(good);
      bad[5]! ^= 0xff;
      // The forgery arrives first; only the genuine reply may complete the request.
      return [bad, good];
    };
    const c = client([s.port]);
    const r = await c.request(Code.AccessRequest, accessRequest());
    expect(r.ok).toBe(true);
    expect(c.stats.droppedBadAuthenticator).toBe(1);
  });

  it('never resolves a request with a reply signed with another secret', async () => {
    const s = await server();
    s.handler = (req) =>
      s.reply(req, Code.AccessAccept, [], { secret: Buffer.from('wrong-secret') });
    const c = client([s.port], { retries: 1 });
    const r = await c.request(Code.AccessRequest, accessRequest());
    expect(r).toMatchObject({ ok: false, error: { kind: 'timeout', unreachable: true } });
    expect(c.stats.droppedBadAuthenticator).toBe(2);
    expect(c.stats.replies).toBe(0);
  });

  it('drops any number of replies with random authenticators (fast-check)', async () => {
    const s = await server();
    const c = client([s.port], { timeoutMs: 1000 });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ minLength: 16, maxLength: 16 }), { minLength: 1, maxLength: 5 }),
        fc.boolean(),
        async (forgedAuthenticators, rejectFirst) => {
          const before = c.stats.droppedBadAuthenticator + c.stats.droppedBadMessageAuthenticator;
          s.handler = (req) => {
            const good = s.reply(req, Code.AccessAccept);
            const forged = forgedAuthenticators
              .filter((a) => !Buffer.from(a).equals(good.subarray(4, 20)))
              .map((a) => {
                // A Reject with a guessed authenticator must not decide the request.
                const f = s.reply(req, rejectFirst ? Code.AccessReject : Code.AccessAccept);
                f.set(a, 4);
                return f;
              });
            return [...forged, good];
          };
          const r = await c.request(Code.AccessRequest, accessRequest());
          expect(r.ok && r.value.packet.code).toBe(Code.AccessAccept);
          const dropped =
            c.stats.droppedBadAuthenticator + c.stats.droppedBadMessageAuthenticator - before;
          expect(dropped).toBe(forgedAuthenticators.length);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('drops an Access-Accept without Message-Authenticator unless told otherwise', async () => {
    const s = await server();
    s.handler = (req) => s.reply(req, Code.AccessAccept, [], { messageAuthenticator: false });
    const strictClient = client([s.port]);
    const r = await strictClient.request(Code.AccessRequest, accessRequest());
    expect(r.ok).toBe(false);
    expect(strictClient.stats.droppedMissingMessageAuthenticator).toBe(1);
    const lax = client([s.port], { requireMessageAuthenticator: false });
    expect((await lax.request(Code.AccessRequest, accessRequest())).ok).toBe(true);
  });

  it('drops a bad Message-Authenticator even when the Response Authenticator is right', async () => {
    const s = await server();
    s.handler = (req) => {
      // Sign the Message-Authenticator with another secret, then fix the authenticator.
      const other = s.reply(req, Code.AccessAccept, [], { secret: Buffer.from('other') });
      responseAuthenticator(other, req.packet.authenticator, SECRET).copy(other, 4);
      return other;
    };
    const c = client([s.port]);
    expect((await c.request(Code.AccessRequest, accessRequest())).ok).toBe(false);
    expect(c.stats.droppedBadMessageAuthenticator).toBe(1);
  });

  it('drops a correctly signed reply that comes from another address or port', async () => {
    const s = await server();
    const impostor = await server();
    s.handler = (req) => {
      // Someone who knows the secret answers from another port, before the real server.
      impostor.sendTo(s.reply(req, Code.AccessReject), req.from.port, req.from.address);
      return undefined;
    };
    const c = client([s.port]);
    const r = await c.request(Code.AccessRequest, accessRequest());
    expect(r.ok).toBe(false);
    expect(c.stats.droppedUnknownSource).toBe(1);
  });

  it('drops an Accounting-Response sent to an Access-Request', async () => {
    const s = await server();
    s.handler = (req) => s.reply(req, Code.AccountingResponse);
    const c = client([s.port]);
    expect((await c.request(Code.AccessRequest, accessRequest())).ok).toBe(false);
    expect(c.stats.droppedUnexpectedCode).toBe(1);
  });

  it('retransmits the same packet to the same server before failing over', async () => {
    const s = await server();
    let n = 0;
    s.handler = (req) => (++n === 3 ? s.reply(req, Code.AccessAccept) : undefined);
    const c = client([s.port], { retries: 2, timeoutMs: 80 });
    const r = await c.request(Code.AccessRequest, accessRequest());
    expect(r.ok).toBe(true);
    expect(s.received.length).toBe(3);
    // RFC 2865 §2.4: a retransmission keeps the Identifier and the Request Authenticator.
    expect(s.received[1]!.raw.equals(s.received[0]!.raw)).toBe(true);
    expect(s.received[2]!.raw.equals(s.received[0]!.raw)).toBe(true);
    expect(c.stats.timeouts).toBe(2);
  });

  it('fails over to the second server and skips the dead first one for deadTime', async () => {
    let now = 1_000_000;
    const silent = await server();
    const second = await server();
    second.handler = (req) => second.reply(req, Code.AccessAccept);
    const c = client([silent.port, second.port], {
      retries: 1,
      deadTimeMs: 60_000,
      now: () => now,
    });
    const first = await c.request(Code.AccessRequest, accessRequest());
    expect(first.ok && first.value.serverLabel).toBe(`127.0.0.1:${second.port}`);
    expect(silent.received.length).toBe(2);
    expect(c.serverStates().map((s) => s.dead)).toEqual([true, false]);

    const again = await c.request(Code.AccessRequest, accessRequest());
    expect(again.ok).toBe(true);
    expect(silent.received.length).toBe(2);

    now += 60_001;
    silent.handler = (req) => silent.reply(req, Code.AccessReject);
    const revived = await c.request(Code.AccessRequest, accessRequest());
    expect(revived.ok && revived.value.packet.code).toBe(Code.AccessReject);
    expect(c.serverStates().map((s) => s.dead)).toEqual([false, false]);
  });

  it('reports every server dead at once, as unreachable, without sending', async () => {
    const port = await deadPort();
    const c = client([port], { deadTimeMs: 60_000 });
    const first = await c.request(Code.AccessRequest, accessRequest());
    expect(first).toMatchObject({ ok: false, error: { kind: 'timeout', unreachable: true } });
    const started = Date.now();
    const second = await c.request(Code.AccessRequest, accessRequest());
    expect(second).toMatchObject({ ok: false, error: { kind: 'all-dead', unreachable: true } });
    expect(Date.now() - started).toBeLessThan(100);
  });

  it('keeps 256 requests in flight on one socket with distinct Identifiers, then is busy', async () => {
    const s = await server();
    const held: FakeRequest[] = [];
    s.handler = (req) => {
      held.push(req);
      return undefined;
    };
    const c = client([s.port], { maxSockets: 1, timeoutMs: 2_000 });
    const pending = Array.from({ length: 256 }, () =>
      c.request(Code.AccessRequest, accessRequest()),
    );
    await expect.poll(() => held.length, { timeout: 2_000 }).toBe(256);
    const busy = await c.request(Code.AccessRequest, accessRequest());
    expect(busy).toMatchObject({ ok: false, error: { kind: 'busy', unreachable: false } });
    expect(new Set(held.map((r) => r.packet.identifier)).size).toBe(256);
    for (const req of held) s.sendTo(s.reply(req, Code.AccessAccept), req.from.port);
    const results = await Promise.all(pending);
    expect(results.every((r) => r.ok)).toBe(true);
  });

  it('opens another socket when the first has 256 requests in flight', async () => {
    const s = await server();
    s.handler = (req) => s.reply(req, Code.AccessAccept);
    // Retries cover datagrams a full loopback receive buffer may drop in this burst.
    const c = client([s.port], { maxSockets: 2, timeoutMs: 500, retries: 4 });
    const results = await Promise.all(
      Array.from({ length: 300 }, () => c.request(Code.AccessRequest, accessRequest())),
    );
    expect(results.filter((r) => !r.ok)).toEqual([]);
    expect(new Set(s.received.map((r) => r.from.port)).size).toBe(2);
  });

  it('sends Accounting-Requests and accepts the Accounting-Response', async () => {
    const s = await server();
    s.handler = (req) => s.reply(req, Code.AccountingResponse, [], { messageAuthenticator: false });
    const c = client([s.port]);
    const r = await c.request(Code.AccountingRequest, ({ secret, identifier }) => {
      const b = encodeAccountingRequest({
        identifier,
        attributes: [integerAttribute(Attr.AcctStatusType, 1)],
        secret,
      });
      return b.ok ? ok({ bytes: b.value, authenticator: b.value.subarray(4, 20) }) : b;
    });
    expect(r.ok).toBe(true);
  });

  it('ends requests in flight with "closed" when closed', async () => {
    const s = await server();
    const c = client([s.port], { timeoutMs: 5_000 });
    const p = c.request(Code.AccessRequest, accessRequest());
    await expect.poll(() => s.received.length).toBe(1);
    c.close();
    expect(await p).toMatchObject({ ok: false, error: { kind: 'closed' } });
  });
});
