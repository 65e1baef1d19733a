/**
 * The RADIUS authenticator and accounting against a real FreeRADIUS 3.2 server, started by
 * this file on 127.0.0.1 (loopback only, no namespace) with a generated configuration that
 * requires Message-Authenticator from us and sends one back. The configuration goes through
 * the same path as the daemon's: the `radius` schema, a 0600 secret file, createRadius.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthRequest } from '../../../src/ppp/auth/authenticator.js';
import { chapMd5Response } from '../../../src/ppp/auth/chap-md5.js';
import { decodeMschapFailure } from '../../../src/ppp/auth/mschap-message.js';
import {
  checkMschapV2Success,
  mschapV1PeerResponse,
  mschapV2PeerResponse,
  verifyMschapLocally,
} from '../../../src/ppp/auth/mschap-verify.js';
import { LocalAuthenticator } from '../../../src/secrets/local-authenticator.js';
import { RadiusAccounting } from '../../../src/secrets/radius/accounting.js';
import { RadiusClient } from '../../../src/secrets/radius/client.js';
import { type RadiusConfigInput, RadiusConfigSchema } from '../../../src/secrets/radius/config.js';
import { createRadius, type RadiusSetup } from '../../../src/secrets/radius/setup.js';
import type { SecretRecord } from '../../../src/secrets/schema.js';
import { lookupSecret } from '../../../src/secrets/store.js';
import { FreeRadius, freeradiusMissing, freeUdpPort } from './fixtures/freeradius.js';

const skipReason = freeradiusMissing();
const suffix = skipReason === undefined ? '' : ` [skipped: ${skipReason}]`;

const SECRET = `bl-${randomBytes(6).toString('hex')}`;
const ALICE = { name: 'alice', password: 'correct horse battery' };
const BOB = { name: 'bob', password: 'bob-local-only' };

const USERS = `
${ALICE.name} Cleartext-Password := "${ALICE.password}"
\tFramed-IP-Address = 10.9.0.77,
\tSession-Timeout = 3600,
\tIdle-Timeout = 600,
\tFramed-MTU = 1400,
\tClass = 0x62726e6368

DEFAULT Auth-Type := Reject
\tReply-Message = "Unknown user"
`;

const logs: string[] = [];
const logger = {
  debug: (m: string) => logs.push(`debug ${m}`),
  info: (m: string) => logs.push(`info ${m}`),
  warn: (m: string) => logs.push(`warn ${m}`),
};

const base = { ourName: 'branch1', source: '198.51.100.7' } as const;

function pap(name: string, password: string): AuthRequest {
  return { ...base, method: 'pap', peerName: name, password: Buffer.from(password) };
}

function chapMd5(name: string, password: string, identifier = 0x2a): AuthRequest {
  const challenge = randomBytes(16);
  return {
    ...base,
    method: 'chap-md5',
    peerName: name,
    identifier,
    challenge,
    response: chapMd5Response(identifier, password, challenge),
  };
}

function mschapV2(name: string, password: string, identifier = 7) {
  const challenge = randomBytes(16);
  const peer = mschapV2PeerResponse({
    credentials: { name, password },
    authenticatorChallenge: challenge,
  });
  if (!peer.ok) throw new Error(peer.error.reason);
  const request: AuthRequest = {
    ...base,
    method: 'mschap-v2',
    peerName: name,
    identifier,
    challenge,
    response: peer.value.value,
  };
  return { request, peer: peer.value };
}

function mschapV1(name: string, password: string, identifier = 9) {
  const challenge = randomBytes(8);
  const peer = mschapV1PeerResponse({ credentials: { name, password }, challenge });
  if (!peer.ok) throw new Error(peer.error.reason);
  const request: AuthRequest = {
    ...base,
    method: 'mschap',
    peerName: name,
    identifier,
    challenge,
    response: peer.value.value,
  };
  return { request, peer: peer.value };
}

describe.skipIf(skipReason !== undefined)(`RADIUS against FreeRADIUS${suffix}`, () => {
  let server: FreeRadius;
  let dir: string;
  let secretFile: string;
  const setups: RadiusSetup[] = [];

  const local = new LocalAuthenticator({
    lookup: (c, s) =>
      lookupSecret(
        [
          {
            client: BOB.name,
            server: '*',
            secret: BOB.password,
            addresses: '*',
          } satisfies SecretRecord,
        ],
        c,
        s,
      ),
  });

  async function radius(
    overrides: Partial<RadiusConfigInput> = {},
    withLocal = false,
  ): Promise<RadiusSetup> {
    const config = RadiusConfigSchema.parse({
      servers: [
        { host: '127.0.0.1', authPort: server.authPort, acctPort: server.acctPort, secretFile },
      ],
      timeout: 1,
      retries: 1,
      nasIdentifier: 'branch1',
      nasIpAddress: '127.0.0.1',
      ...overrides,
    });
    const r = await createRadius(config, {
      defaultNasIdentifier: 'branchlink',
      logger,
      ...(withLocal ? { localAuthenticator: local } : {}),
    });
    if (!r.ok) throw new Error(r.error.join('\n'));
    setups.push(r.value);
    return r.value;
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'branchlink-radius-'));
    secretFile = path.join(dir, 'radius.secret');
    writeFileSync(secretFile, `${SECRET}\n`, { mode: 0o600 });
    server = await FreeRadius.start({
      secret: SECRET,
      users: USERS,
      // On accept only: a Reply-Message in the users file would be sent on a Reject too.
      acceptPolicy: `if (User-Name == "${ALICE.name}") {
      update reply {
        Reply-Message := "Welcome alice"
      }
    }`,
    });
  });

  afterAll(async () => {
    for (const s of setups) s.close();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe('PAP', () => {
    it('is accepted with the reply attributes honoured', async () => {
      const { authenticator } = await radius();
      const d = await authenticator.authenticate(pap(ALICE.name, ALICE.password));
      expect(d, server.output()).toMatchObject({
        ok: true,
        message: 'Welcome alice',
        remoteAddress: '10.9.0.77',
        sessionTimeout: 3600,
        idleTimeout: 600,
        mtu: 1400,
      });
      if (!d.ok) return;
      expect(d.accounting.authentic).toBe('radius');
      expect(d.accounting.class.map((c) => c.toString())).toEqual(['brnch']);
    });

    it('is rejected with a wrong password', async () => {
      const { authenticator } = await radius();
      const d = await authenticator.authenticate(pap(ALICE.name, 'wrong'));
      expect(d).toMatchObject({ ok: false, message: 'Login incorrect' });
      if (d.ok) return;
      expect(d.reason).toContain('rejected');
      expect(d.reason).not.toContain('wrong');
      expect(d.reason).not.toContain(SECRET);
    });

    it('is rejected for an unknown user, with the Reply-Message logged', async () => {
      const { authenticator } = await radius();
      const d = await authenticator.authenticate(pap('mallory', 'x'));
      expect(d).toMatchObject({ ok: false, message: 'Unknown user' });
      expect(logs.some((l) => l.startsWith('info') && l.includes('"Unknown user"'))).toBe(true);
    });

    it('carries passwords of 16+ bytes (several User-Password blocks)', async () => {
      const { authenticator } = await radius();
      expect(ALICE.password.length).toBeGreaterThan(16);
      expect((await authenticator.authenticate(pap(ALICE.name, ALICE.password))).ok).toBe(true);
    });
  });

  describe('CHAP-MD5', () => {
    it('is accepted', async () => {
      const { authenticator } = await radius();
      const d = await authenticator.authenticate(chapMd5(ALICE.name, ALICE.password));
      expect(d, server.output()).toMatchObject({ ok: true, remoteAddress: '10.9.0.77' });
    });

    it('is rejected with a wrong password', async () => {
      const { authenticator } = await radius();
      const d = await authenticator.authenticate(chapMd5(ALICE.name, 'nope'));
      expect(d.ok).toBe(false);
    });
  });

  describe('MS-CHAPv2', () => {
    it('is accepted with a Success the peer verifies and the locally derived MPPE keys', async () => {
      const { authenticator } = await radius();
      const { request, peer } = mschapV2(ALICE.name, ALICE.password);
      const d = await authenticator.authenticate(request);
      expect(d.ok, server.output()).toBe(true);
      if (!d.ok) return;
      // The S= the server computed is what the peer expects (RFC 2759 §5).
      expect(
        checkMschapV2Success(peer.expectedAuthenticatorResponse, Buffer.from(d.message!)),
      ).toMatchObject({ ok: true });
      // Same keys as verifying the same response locally with the password (RFC 3079)...
      const localDecision = verifyMschapLocally(request, { password: ALICE.password });
      expect(localDecision.ok).toBe(true);
      if (!localDecision.ok) return;
      expect(d.mppeKeys).toBeDefined();
      expect(d.mppeKeys!.send.toString('hex')).toBe(localDecision.mppeKeys!.send.toString('hex'));
      expect(d.mppeKeys!.recv.toString('hex')).toBe(localDecision.mppeKeys!.recv.toString('hex'));
      // ...and the mirror of the peer's: what we send with, it receives with.
      expect(d.mppeKeys!.send.equals(peer.mppeKeys.recv)).toBe(true);
      expect(d.mppeKeys!.recv.equals(peer.mppeKeys.send)).toBe(true);
      expect(d.remoteAddress).toBe('10.9.0.77');
    });

    it('is rejected with a wrong password, with an E=691 R=0 failure for the peer', async () => {
      const { authenticator } = await radius();
      const { request } = mschapV2(ALICE.name, 'not the password');
      const d = await authenticator.authenticate(request);
      expect(d.ok).toBe(false);
      if (d.ok) return;
      // FreeRADIUS says R=1 (retry allowed); this router takes no second response on a link.
      const f = decodeMschapFailure(Buffer.from(d.message!));
      expect(f).toMatchObject({ ok: true, value: { error: 691, retry: false, version: 3 } });
      expect(f.ok && f.value.challenge?.length).toBe(16);
      expect(f.ok && f.value.message).toBeTruthy();
    });
  });

  describe('MS-CHAPv1', () => {
    it('is accepted with MPPE keys equal to the local derivation', async () => {
      const { authenticator } = await radius();
      const { request, peer } = mschapV1(ALICE.name, ALICE.password);
      const d = await authenticator.authenticate(request);
      expect(d.ok, server.output()).toBe(true);
      if (!d.ok) return;
      const localDecision = verifyMschapLocally(request, { password: ALICE.password });
      if (!localDecision.ok) throw new Error(localDecision.reason);
      expect(d.mppeKeys!.send.equals(localDecision.mppeKeys!.send)).toBe(true);
      expect(d.mppeKeys!.send.equals(peer.mppeKeys.send)).toBe(true);
    });

    it('is rejected with a wrong password', async () => {
      const { authenticator } = await radius();
      const d = await authenticator.authenticate(mschapV1(ALICE.name, 'bad').request);
      expect(d.ok).toBe(false);
      if (d.ok) return;
      expect(decodeMschapFailure(Buffer.from(d.message!))).toMatchObject({
        ok: true,
        value: { error: 691, retry: false },
      });
    });
  });

  describe('failover and fallback', () => {
    it('asks the second server when the first does not answer', async () => {
      const nobody = await freeUdpPort();
      const { authenticator, authClient } = await radius({
        servers: [
          { host: '127.0.0.1', authPort: nobody, acctPort: nobody, secretFile },
          { host: '127.0.0.1', authPort: server.authPort, acctPort: server.acctPort, secretFile },
        ],
        retries: 0,
      });
      const d = await authenticator.authenticate(pap(ALICE.name, ALICE.password));
      expect(d.ok).toBe(true);
      expect(authClient.serverStates().map((s) => s.dead)).toEqual([true, false]);
      expect(authClient.stats.timeouts).toBe(1);
    });

    it('falls back to the local secrets when every server is down and fallback is "local"', async () => {
      const nobody = await freeUdpPort();
      const { authenticator } = await radius(
        {
          servers: [{ host: '127.0.0.1', authPort: nobody, acctPort: nobody, secretFile }],
          retries: 0,
          fallback: 'local',
        },
        true,
      );
      const d = await authenticator.authenticate(pap(BOB.name, BOB.password));
      expect(d).toMatchObject({ ok: true, accounting: { authentic: 'local' } });
      // The next request finds the server dead and goes to the fallback at once.
      const wrong = await authenticator.authenticate(pap(BOB.name, 'wrong'));
      expect(wrong.ok).toBe(false);
      expect(logs.some((l) => l.includes('checked against the local secrets'))).toBe(true);
    });

    it('refuses when every server is down and fallback is "none"', async () => {
      const nobody = await freeUdpPort();
      const { authenticator } = await radius({
        servers: [{ host: '127.0.0.1', authPort: nobody, acctPort: nobody, secretFile }],
        retries: 0,
      });
      const d = await authenticator.authenticate(pap(BOB.name, BOB.password));
      expect(d).toMatchObject({ ok: false, message: 'Login incorrect' });
      if (d.ok) return;
      expect(d.reason).toContain('no RADIUS server answered');
    });

    it('does not fall back after a Reject', async () => {
      const { authenticator } = await radius({ fallback: 'local' }, true);
      const d = await authenticator.authenticate(pap(BOB.name, BOB.password));
      expect(d.ok).toBe(false);
    });
  });

  describe('accounting', () => {
    it('writes Start, Interim-Update and Stop with the octet counts to the detail file', async () => {
      const { accounting } = await radius();
      expect(accounting).toBeDefined();
      const session = accounting!.start({
        userName: ALICE.name,
        framedIpAddress: '10.9.0.77',
        callingStationId: '198.51.100.7',
        hints: { authentic: 'radius', class: [Buffer.from('brnch')] },
      });
      expect((await session.started).ok, server.output()).toBe(true);
      const interim = await session.update({
        inputOctets: 1234,
        outputOctets: 5678,
        inputPackets: 12,
        outputPackets: 34,
      });
      expect(interim.ok).toBe(true);
      const stop = await session.stop(
        {
          inputOctets: 5 * 2 ** 32 + 1000,
          outputOctets: 987654,
          inputPackets: 4000,
          outputPackets: 3000,
        },
        'user-request',
      );
      expect(stop.ok).toBe(true);

      const records = server
        .detailRecords()
        .filter((r) => r['Acct-Session-Id'] === session.sessionId);
      expect(records.map((r) => r['Acct-Status-Type'])).toEqual([
        'Start',
        'Interim-Update',
        'Stop',
      ]);
      const [start, update, end] = records as [
        Record<string, string>,
        Record<string, string>,
        Record<string, string>,
      ];
      expect(start).toMatchObject({
        'User-Name': 'alice',
        'NAS-Identifier': 'branch1',
        'NAS-IP-Address': '127.0.0.1',
        'Framed-IP-Address': '10.9.0.77',
        'Calling-Station-Id': '198.51.100.7',
        'Acct-Authentic': 'RADIUS',
        'Service-Type': 'Framed-User',
        'Framed-Protocol': 'PPP',
        'NAS-Port-Type': 'Virtual',
        Class: '0x62726e6368',
      });
      expect(update).toMatchObject({
        'Acct-Input-Octets': '1234',
        'Acct-Output-Octets': '5678',
        'Acct-Input-Packets': '12',
        'Acct-Output-Packets': '34',
      });
      expect(end).toMatchObject({
        'Acct-Input-Octets': '1000',
        'Acct-Input-Gigawords': '5',
        'Acct-Output-Octets': '987654',
        'Acct-Output-Gigawords': '0',
        'Acct-Input-Packets': '4000',
        'Acct-Output-Packets': '3000',
        'Acct-Terminate-Cause': 'User-Request',
      });
      expect(Number(end['Acct-Session-Time'])).toBeGreaterThanOrEqual(0);
    });

    it('sends Interim-Updates on its own at the configured interval', async () => {
      // The config allows 0 (off) or at least 60 s (RFC 2869 §5.16); the accounting object
      // itself takes any interval, which keeps this test short.
      const client = new RadiusClient({
        servers: [{ host: '127.0.0.1', port: server.acctPort, secret: Buffer.from(SECRET) }],
        timeoutMs: 1000,
        retries: 1,
        deadTimeMs: 1000,
      });
      try {
        const acct = new RadiusAccounting({
          client,
          nasIdentifier: 'branch1',
          interimInterval: 1,
        });
        let octets = 0;
        const session = acct.start(
          { userName: ALICE.name, callingStationId: '/dev/ttyUSB0' },
          {
            counters: () => {
              octets += 100;
              return { inputOctets: octets, outputOctets: 0, inputPackets: 1, outputPackets: 0 };
            },
          },
        );
        await session.started;
        await expect
          .poll(
            () =>
              server
                .detailRecords()
                .filter(
                  (r) =>
                    r['Acct-Session-Id'] === session.sessionId &&
                    r['Acct-Status-Type'] === 'Interim-Update',
                ).length,
            { timeout: 5_000, interval: 200 },
          )
          .toBeGreaterThanOrEqual(2);
        await session.stop(
          { inputOctets: octets, outputOctets: 0, inputPackets: 1, outputPackets: 0 },
          'lost-carrier',
        );
        const recs = server
          .detailRecords()
          .filter((r) => r['Acct-Session-Id'] === session.sessionId);
        expect(recs[0]!['NAS-Port-Type']).toBe('Async');
        expect(recs.at(-1)).toMatchObject({
          'Acct-Status-Type': 'Stop',
          'Acct-Terminate-Cause': 'Lost-Carrier',
        });
      } finally {
        client.close();
      }
    });
  });

  describe('secret file', () => {
    it('is refused when group or others can read it', async () => {
      const loose = path.join(dir, 'loose.secret');
      writeFileSync(loose, SECRET);
      chmodSync(loose, 0o644);
      const config = RadiusConfigSchema.parse({
        servers: [{ host: '127.0.0.1', secretFile: loose }],
      });
      const r = await createRadius(config, { defaultNasIdentifier: 'x' });
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.error.join('\n')).toContain('chmod 600');
      expect(r.error.join('\n')).not.toContain(SECRET);
    });
  });

  it('never logged the shared secret or a password', () => {
    const all = logs.join('\n');
    expect(all).not.toContain(SECRET);
    expect(all).not.toContain(ALICE.password);
    expect(all).not.toContain(BOB.password);
  });
});
