import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { Authenticator, AuthRequest } from '../../../src/ppp/auth/authenticator.js';
import { chapMd5Response } from '../../../src/ppp/auth/chap-md5.js';
import { hashNtPasswordHash, ntPasswordHash } from '../../../src/ppp/auth/mschap-crypto.js';
import { decodeMschapFailure } from '../../../src/ppp/auth/mschap-message.js';
import {
  mschapV1PeerResponse,
  mschapV2PeerResponse,
  verifyMschapLocally,
} from '../../../src/ppp/auth/mschap-verify.js';
import { RadiusAuthenticator } from '../../../src/secrets/radius/authenticator.js';
import { RadiusClient } from '../../../src/secrets/radius/client.js';
import {
  Attr,
  addressAttribute,
  Code,
  checkMessageAuthenticator,
  decodeVendorSpecific,
  encryptMsChapMppeKeys,
  encryptSaltedKey,
  findAttribute,
  integerAttribute,
  MsAttr,
  microsoftAttribute,
  type RadiusAttribute,
  readAddress,
  readInteger,
  textAttribute,
  unhidePassword,
  VENDOR_MICROSOFT,
  vendorAttributes,
} from '../../../src/secrets/radius/packet.js';
import { FakeRadiusServer, type FakeRequest } from './helpers/fake-server.js';

const SECRET = Buffer.from('auth-unit-secret');
const servers: FakeRadiusServer[] = [];
const clients: RadiusClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) await s.close();
});

async function setup(
  handler: (req: FakeRequest, s: FakeRadiusServer) => Buffer | undefined,
  options: Partial<ConstructorParameters<typeof RadiusAuthenticator>[0]> = {},
) {
  const server = await FakeRadiusServer.start(SECRET, handler);
  servers.push(server);
  const client = new RadiusClient({
    servers: [{ host: '127.0.0.1', port: server.port, secret: SECRET }],
    timeoutMs: 200,
    retries: 0,
    deadTimeMs: 60_000,
  });
  clients.push(client);
  const auth = new RadiusAuthenticator({
    client,
    nasIdentifier: 'branch1',
    nasIpAddress: '192.0.2.1',
    ...options,
  });
  return { server, auth, client };
}

const ms = (type: number, value: Buffer): RadiusAttribute => {
  const a = microsoftAttribute(type, value);
  if (!a.ok) throw new Error(a.error.reason);
  return a.value;
};

function msValue(req: FakeRequest, type: number): Buffer | undefined {
  return vendorAttributes(req.packet, VENDOR_MICROSOFT).attributes.find((a) => a.type === type)
    ?.value;
}

const base = { ourName: 'branch1', source: '198.51.100.7' } as const;
const pap = (name: string, password: string, source: string = base.source): AuthRequest => ({
  ...base,
  source,
  method: 'pap',
  peerName: name,
  password: Buffer.from(password),
});

describe('RadiusAuthenticator requests', () => {
  it('sends a PAP Access-Request with the NAS attributes and a hidden password', async () => {
    let seen: FakeRequest | undefined;
    const { auth } = await setup((req, s) => {
      seen = req;
      return s.reply(req, Code.AccessAccept);
    });
    const d = await auth.authenticate(pap('alice', 'a long password over sixteen bytes'));
    expect(d.ok).toBe(true);
    const p = seen!.packet;
    expect(checkMessageAuthenticator(seen!.raw, SECRET)).toEqual({ ok: true, value: 'valid' });
    expect(findAttribute(p, Attr.UserName)?.toString()).toBe('alice');
    const pw = unhidePassword(findAttribute(p, Attr.UserPassword)!, SECRET, p.authenticator);
    expect(pw.ok && pw.value.toString()).toBe('a long password over sixteen bytes');
    expect(findAttribute(p, Attr.NasIdentifier)?.toString()).toBe('branch1');
    expect(readAddress(findAttribute(p, Attr.NasIpAddress)!)).toBe('192.0.2.1');
    expect(readInteger(findAttribute(p, Attr.NasPortType)!)).toBe(5);
    expect(readInteger(findAttribute(p, Attr.ServiceType)!)).toBe(2);
    expect(readInteger(findAttribute(p, Attr.FramedProtocol)!)).toBe(1);
    expect(findAttribute(p, Attr.CallingStationId)?.toString()).toBe('198.51.100.7');
  });

  it('says NAS-Port-Type Async for a peer on a serial line', async () => {
    let portType: number | undefined;
    const { auth } = await setup((req, s) => {
      portType = readInteger(findAttribute(req.packet, Attr.NasPortType)!);
      return s.reply(req, Code.AccessAccept);
    });
    await auth.authenticate(pap('alice', 'pw', '/dev/ttyUSB0'));
    expect(portType).toBe(0);
  });

  it('sends CHAP-Password as the CHAP Identifier and response, and CHAP-Challenge', async () => {
    const challenge = randomBytes(16);
    const response = chapMd5Response(0x42, 'pw', challenge);
    const { auth } = await setup((req, s) => {
      const chap = findAttribute(req.packet, Attr.ChapPassword)!;
      const ch = findAttribute(req.packet, Attr.ChapChallenge)!;
      const good = chap[0] === 0x42 && chapMd5Response(chap[0]!, 'pw', ch).equals(chap.subarray(1));
      return s.reply(req, good ? Code.AccessAccept : Code.AccessReject);
    });
    const d = await auth.authenticate({
      ...base,
      method: 'chap-md5',
      peerName: 'alice',
      identifier: 0x42,
      challenge,
      response,
    });
    expect(d).toMatchObject({ ok: true, message: 'Access granted' });
  });

  it('lays out MS-CHAP2-Response as RFC 2548 §2.3.2 and uses the keys as the NAS sees them', async () => {
    const password = 'ms pass';
    const challenge = randomBytes(16);
    const peer = mschapV2PeerResponse({
      credentials: { name: 'DOMAIN\\alice', password },
      authenticatorChallenge: challenge,
    });
    if (!peer.ok) throw new Error('peer');
    const request: AuthRequest = {
      ...base,
      method: 'mschap-v2',
      peerName: 'DOMAIN\\alice',
      identifier: 0x17,
      challenge,
      response: peer.value.value,
    };
    const sendKey = Buffer.alloc(16, 0x5e);
    const recvKey = Buffer.alloc(16, 0x7c);
    const { auth } = await setup((req, s) => {
      const resp = msValue(req, MsAttr.Chap2Response)!;
      expect(resp.length).toBe(50);
      expect(resp[0]).toBe(0x17);
      // Rebuild the CHAP Value (Peer-Challenge, Reserved, NT-Response, Flags) and verify it.
      const value = Buffer.concat([resp.subarray(2, 50), resp.subarray(1, 2)]);
      const local = verifyMschapLocally(
        {
          ...request,
          challenge: msValue(req, MsAttr.ChapChallenge)!,
          response: value,
        },
        { password },
      );
      if (!local.ok) return s.reply(req, Code.AccessReject);
      const ra = req.packet.authenticator;
      const send = encryptSaltedKey(sendKey, SECRET, ra, Buffer.from([0x80, 0x01]));
      const recv = encryptSaltedKey(recvKey, SECRET, ra, Buffer.from([0x80, 0x02]));
      if (!send.ok || !recv.ok) throw new Error('keys');
      const success = Buffer.concat([
        Buffer.from([0x17]),
        Buffer.from(local.message!.slice(0, 42)),
      ]);
      return s.reply(req, Code.AccessAccept, [
        ms(MsAttr.Chap2Success, success),
        ms(MsAttr.MppeRecvKey, recv.value),
        ms(MsAttr.MppeSendKey, send.value),
        integerAttribute(Attr.AcctInterimInterval, 600),
      ]);
    });
    const d = await auth.authenticate(request);
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    expect(d.message).toMatch(/^S=[0-9A-F]{40}$/);
    expect(d.mppeKeys?.send.equals(sendKey)).toBe(true);
    expect(d.mppeKeys?.recv.equals(recvKey)).toBe(true);
    expect(d.accounting.interimInterval).toBe(600);
  });

  it('lays out MS-CHAP-Response as RFC 2548 §2.3.1 and derives v1 keys from MS-CHAP-MPPE-Keys', async () => {
    const password = 'v1 pass';
    const challenge = randomBytes(8);
    const peer = mschapV1PeerResponse({ credentials: { name: 'alice', password }, challenge });
    if (!peer.ok) throw new Error('peer');
    const { auth } = await setup((req, s) => {
      const resp = msValue(req, MsAttr.ChapResponse)!;
      expect(resp.length).toBe(50);
      expect(resp[1]).toBe(1); // Flags: use the NT response
      const value = Buffer.concat([resp.subarray(2, 50), resp.subarray(1, 2)]);
      expect(value.equals(peer.value.value)).toBe(true);
      const phh = hashNtPasswordHash(ntPasswordHash(password));
      const keys = encryptMsChapMppeKeys(Buffer.alloc(8), phh, SECRET, req.packet.authenticator);
      return s.reply(req, Code.AccessAccept, [ms(MsAttr.ChapMppeKeys, keys)]);
    });
    const d = await auth.authenticate({
      ...base,
      method: 'mschap',
      peerName: 'alice',
      identifier: 3,
      challenge,
      response: peer.value.value,
    });
    expect(d.ok && d.mppeKeys?.send.equals(peer.value.mppeKeys.send)).toBe(true);
  });
});

describe('RadiusAuthenticator decisions', () => {
  it('honours Framed-IP-Address, Session-Timeout, Idle-Timeout, Framed-MTU and Class', async () => {
    const { auth } = await setup((req, s) =>
      s.reply(req, Code.AccessAccept, [
        addressAttribute(Attr.FramedIpAddress, '10.9.0.5'),
        integerAttribute(Attr.SessionTimeout, 7200),
        integerAttribute(Attr.IdleTimeout, 300),
        integerAttribute(Attr.FramedMtu, 1400),
        { type: Attr.Class, value: Buffer.from('c1') },
        { type: Attr.Class, value: Buffer.from('c2') },
        textAttribute(Attr.ReplyMessage, 'hello'),
      ]),
    );
    const d = await auth.authenticate(pap('alice', 'pw'));
    expect(d).toMatchObject({
      ok: true,
      message: 'hello',
      remoteAddress: '10.9.0.5',
      sessionTimeout: 7200,
      idleTimeout: 300,
      mtu: 1400,
      accounting: { authentic: 'radius' },
    });
    expect(d.ok && d.accounting.class.map(String)).toEqual(['c1', 'c2']);
  });

  it('leaves the address to the pool for 255.255.255.254 and ignores a Framed-MTU below 64', async () => {
    const { auth } = await setup((req, s) =>
      s.reply(req, Code.AccessAccept, [
        addressAttribute(Attr.FramedIpAddress, '255.255.255.254'),
        integerAttribute(Attr.FramedMtu, 20),
        integerAttribute(Attr.SessionTimeout, 0),
      ]),
    );
    const d = await auth.authenticate(pap('alice', 'pw'));
    expect(d.ok).toBe(true);
    expect(d.ok && [d.remoteAddress, d.mtu, d.sessionTimeout]).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('treats an Access-Challenge as a failure (PPP cannot relay a prompt)', async () => {
    const { auth } = await setup((req, s) => s.reply(req, Code.AccessChallenge));
    const d = await auth.authenticate(pap('alice', 'pw'));
    expect(d).toMatchObject({ ok: false, message: 'Login incorrect' });
    expect(!d.ok && d.reason).toContain('Access-Challenge');
  });

  it('fails an MS-CHAPv2 Accept without MS-CHAP2-Success (the peer could not verify us)', async () => {
    const { auth } = await setup((req, s) => s.reply(req, Code.AccessAccept));
    const challenge = randomBytes(16);
    const peer = mschapV2PeerResponse({
      credentials: { name: 'alice', password: 'x' },
      authenticatorChallenge: challenge,
    });
    if (!peer.ok) throw new Error('peer');
    const d = await auth.authenticate({
      ...base,
      method: 'mschap-v2',
      peerName: 'alice',
      identifier: 1,
      challenge,
      response: peer.value.value,
    });
    expect(d.ok).toBe(false);
    if (d.ok) return;
    expect(decodeMschapFailure(Buffer.from(d.message!))).toMatchObject({
      ok: true,
      value: { error: 691, retry: false, version: 3 },
    });
  });

  it("passes the server's MS-CHAP-Error on with R=0", async () => {
    const serverChallenge = Buffer.alloc(16, 0xcd);
    const { auth } = await setup((req, s) =>
      s.reply(req, Code.AccessReject, [
        ms(
          MsAttr.ChapError,
          Buffer.from(`\x01E=648 R=1 C=${serverChallenge.toString('hex')} V=3 M=expired`),
        ),
      ]),
    );
    const challenge = randomBytes(16);
    const peer = mschapV2PeerResponse({
      credentials: { name: 'alice', password: 'x' },
      authenticatorChallenge: challenge,
    });
    if (!peer.ok) throw new Error('peer');
    const d = await auth.authenticate({
      ...base,
      method: 'mschap-v2',
      peerName: 'alice',
      identifier: 1,
      challenge,
      response: peer.value.value,
    });
    expect(d.ok).toBe(false);
    if (d.ok) return;
    const f = decodeMschapFailure(Buffer.from(d.message!));
    expect(f.ok && f.value).toEqual({
      error: 648,
      retry: false,
      challenge: serverChallenge,
      version: 3,
      message: 'expired',
    });
  });

  it('refuses a peer name RADIUS cannot carry without asking the server', async () => {
    const { auth, server } = await setup((req, s) => s.reply(req, Code.AccessAccept));
    const d = await auth.authenticate(pap('x'.repeat(254), 'pw'));
    expect(d.ok).toBe(false);
    expect(server.received.length).toBe(0);
  });

  it('uses the fallback only when no server answers', async () => {
    const calls: string[] = [];
    const fallback: Authenticator = {
      authenticate: async (r) => {
        calls.push(r.peerName);
        return { ok: true, message: 'local ok' };
      },
    };
    const { auth, server } = await setup((req, s) => s.reply(req, Code.AccessReject), {
      fallback,
    });
    expect((await auth.authenticate(pap('alice', 'pw'))).ok).toBe(false);
    expect(calls).toEqual([]);
    server.handler = () => undefined;
    const d = await auth.authenticate(pap('bob', 'pw'));
    expect(d).toMatchObject({ ok: true, message: 'local ok', accounting: { authentic: 'local' } });
    expect(calls).toEqual(['bob']);
  });

  it('never puts the password or the secret into a reason or log line (fast-check)', async () => {
    const lines: string[] = [];
    const logger = {
      debug: (m: string) => lines.push(m),
      info: (m: string) => lines.push(m),
      warn: (m: string) => lines.push(m),
    };
    const { auth } = await setup((req, s) => s.reply(req, Code.AccessReject), { logger });
    await fc.assert(
      fc.asyncProperty(
        fc.string({ minLength: 6, maxLength: 40 }).filter((p) => !'alice'.includes(p)),
        async (password) => {
          const d = await auth.authenticate(pap('alice', password));
          expect(d.ok).toBe(false);
          if (d.ok) return;
          expect(d.reason).not.toContain(password);
          expect(d.reason).not.toContain(SECRET.toString());
        },
      ),
      { numRuns: 30 },
    );
    for (const l of lines) expect(l).not.toContain(SECRET.toString());
  });

  it('sends the Vendor-Specific attributes FreeRADIUS expects (vendor 311)', async () => {
    let vsas: number[] = [];
    const { auth } = await setup((req, s) => {
      vsas = req.packet.attributes
        .filter((a) => a.type === Attr.VendorSpecific)
        .map((a) => {
          const v = decodeVendorSpecific(a.value);
          return v.ok ? v.value.vendorId : -1;
        });
      return s.reply(req, Code.AccessReject);
    });
    const challenge = randomBytes(16);
    const peer = mschapV2PeerResponse({
      credentials: { name: 'alice', password: 'x' },
      authenticatorChallenge: challenge,
    });
    if (!peer.ok) throw new Error('peer');
    await auth.authenticate({
      ...base,
      method: 'mschap-v2',
      peerName: 'alice',
      identifier: 1,
      challenge,
      response: peer.value.value,
    });
    expect(vsas).toEqual([311, 311]);
  });
});
