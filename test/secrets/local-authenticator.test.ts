import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AuthRequest } from '../../src/ppp/auth/authenticator.js';
import { LocalAuthenticator, type SecretSource } from '../../src/secrets/local-authenticator.js';
import { Lockout } from '../../src/secrets/lockout.js';
import { ntPasswordHash, type SecretRecord } from '../../src/secrets/schema.js';
import { lookupSecret } from '../../src/secrets/store.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');

function table(records: SecretRecord[]): SecretSource {
  return { lookup: (c, s) => lookupSecret(records, c, s) };
}

const base = { ourName: 'branch1', source: '198.51.100.7' };

function chapMd5(
  peerName: string,
  secret: string,
  identifier = 0x2a,
  challenge = hex('00112233445566778899aabbccddeeff'),
): AuthRequest {
  const response = createHash('md5')
    .update(Buffer.from([identifier]))
    .update(secret)
    .update(challenge)
    .digest();
  return { ...base, method: 'chap-md5', peerName, identifier, challenge, response };
}

function pap(peerName: string, password: string): AuthRequest {
  return { ...base, method: 'pap', peerName, password: Buffer.from(password) };
}

// RFC 2759 §9.2
const V2 = {
  user: 'User',
  password: 'clientPass',
  authChallenge: hex('5B5D7C7D7B3F2F3E3C2C602132262628'),
  peerChallenge: hex('21402324255E262A28295F2B3A337C7E'),
  ntResponse: hex('82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF'),
  authResponse: 'S=407A5589115FD0D6209F510FE9C04566932CDA56',
};

function mschapV2(peerName = V2.user, ntResponse = V2.ntResponse): AuthRequest {
  const response = Buffer.concat([V2.peerChallenge, Buffer.alloc(8), ntResponse, Buffer.from([0])]);
  return {
    ...base,
    method: 'mschap-v2',
    peerName,
    identifier: 1,
    challenge: V2.authChallenge,
    response,
  };
}

// RFC 2433 appendix: password "MyPw", challenge 102DB5DF085D3041.
function mschapV1(peerName = 'User'): AuthRequest {
  const response = Buffer.concat([
    Buffer.alloc(24),
    hex('4E9D3C8F9CFD385D5BF4D3246791956CA4C351AB409A3D61'),
    Buffer.from([1]),
  ]);
  return {
    ...base,
    method: 'mschap',
    peerName,
    identifier: 1,
    challenge: hex('102DB5DF085D3041'),
    response,
  };
}

describe('LocalAuthenticator', () => {
  it('CHAP-MD5 known answer: MD5(0x2a || "branch office secret" || 00112233…ff)', async () => {
    const challenge = hex('00112233445566778899aabbccddeeff');
    // Computed independently (Python hashlib).
    const response = hex('30bcc0ebf3b611ae04e52838a79d1e03');
    const auth = new LocalAuthenticator(
      table([{ client: 'alice', server: '*', secret: 'branch office secret', addresses: '*' }]),
    );
    const d = await auth.authenticate({
      ...base,
      method: 'chap-md5',
      peerName: 'alice',
      identifier: 0x2a,
      challenge,
      response,
    });
    expect(d.ok).toBe(true);
    const wrong = await auth.authenticate({
      ...base,
      method: 'chap-md5',
      peerName: 'alice',
      identifier: 0x2b,
      challenge,
      response,
    });
    expect(wrong).toMatchObject({ ok: false, message: 'Access denied' });
    expect(!wrong.ok && wrong.reason).toContain("chap-md5 response does not match for 'alice'");
  });

  it('PAP accepts the right password and refuses a wrong one (same peer message as an unknown user)', async () => {
    const auth = new LocalAuthenticator(
      table([{ client: 'alice', server: '*', secret: 'pw', addresses: '*' }]),
    );
    expect((await auth.authenticate(pap('alice', 'pw'))).ok).toBe(true);
    const wrong = await auth.authenticate(pap('alice', 'pW'));
    const unknown = await auth.authenticate(pap('mallory', 'pw'));
    expect(wrong).toMatchObject({ ok: false, message: 'Login incorrect' });
    expect(unknown).toMatchObject({ ok: false, message: 'Login incorrect' });
    expect(!unknown.ok && unknown.reason).toBe(
      "no secret for 'mallory' (server 'branch1') from 198.51.100.7",
    );
  });

  it('MS-CHAPv2 with the RFC 2759 vector, from the password or from the NT hash alone', async () => {
    for (const rec of [
      { client: 'User', server: '*', secret: V2.password, addresses: '*' as const },
      {
        client: 'User',
        server: '*',
        ntHash: ntPasswordHash(V2.password).toString('hex'),
        addresses: '*' as const,
      },
    ]) {
      const d = await new LocalAuthenticator(table([rec])).authenticate(mschapV2());
      expect(d.ok).toBe(true);
      if (d.ok) {
        expect(d.message?.startsWith(V2.authResponse)).toBe(true);
        expect(d.mppeKeys?.send.length).toBe(16);
      }
    }
    const bad = await new LocalAuthenticator(
      table([{ client: 'User', server: '*', secret: 'other', addresses: '*' }]),
    ).authenticate(mschapV2());
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.message).toMatch(/^E=691 R=0 C=[0-9A-F]{32} V=3/);
  });

  it('MS-CHAPv1 with the RFC 2433 vector from an NT-hash-only record', async () => {
    const rec: SecretRecord = {
      client: 'User',
      server: '*',
      ntHash: 'fc156af7edcd6c0edde3337d427f4eac',
      addresses: '*',
    };
    expect((await new LocalAuthenticator(table([rec])).authenticate(mschapV1())).ok).toBe(true);
  });

  it('says clearly that an NT-hash-only record cannot serve PAP or CHAP-MD5', async () => {
    const auth = new LocalAuthenticator(
      table([{ client: 'alice', server: '*', ntHash: '0'.repeat(32), addresses: '*' }]),
    );
    const d = await auth.authenticate(chapMd5('alice', 'whatever'));
    expect(d).toMatchObject({
      ok: false,
      reason: "record for 'alice' holds only an NT hash; chap-md5 needs the password",
    });
    const p = await auth.authenticate(pap('alice', 'whatever'));
    expect(!p.ok && p.reason).toBe(
      "record for 'alice' holds only an NT hash; pap needs the password",
    );
  });

  it('looks up with pppd rules: the exact server record beats the wildcard', async () => {
    const auth = new LocalAuthenticator(
      table([
        { client: 'alice', server: '*', secret: 'wild', addresses: '*' },
        { client: 'alice', server: 'branch1', secret: 'exact', addresses: '*' },
      ]),
    );
    expect((await auth.authenticate(chapMd5('alice', 'exact'))).ok).toBe(true);
    expect((await auth.authenticate(chapMd5('alice', 'wild'))).ok).toBe(false);
  });

  it('gives a single-host address column as remoteAddress and the list as allowedAddresses', async () => {
    const auth = new LocalAuthenticator(
      table([
        { client: 'a', server: '*', secret: 's', addresses: ['10.9.0.20'] },
        { client: 'b', server: '*', secret: 's', addresses: ['10.9.1.0/24', '10.9.0.30'] },
        { client: 'c', server: '*', secret: 's', addresses: '*' },
      ]),
    );
    expect(await auth.authenticate(chapMd5('a', 's'))).toMatchObject({
      ok: true,
      remoteAddress: '10.9.0.20',
      allowedAddresses: ['10.9.0.20'],
    });
    expect(await auth.authenticate(chapMd5('b', 's'))).toMatchObject({
      ok: true,
      remoteAddress: '10.9.0.30',
    });
    const c = await auth.authenticate(chapMd5('c', 's'));
    expect(c.ok && 'remoteAddress' in c).toBe(false);
    expect(c.ok && 'allowedAddresses' in c).toBe(false);
  });

  it('refuses a record whose address column is "-" (no IP), without counting a failure', async () => {
    const lockout = new Lockout({ failures: 1 });
    const auth = new LocalAuthenticator(
      table([{ client: 'a', server: '*', secret: 's', addresses: '-' }]),
      { lockout },
    );
    await auth.authenticate(chapMd5('a', 's'));
    const e = await auth.authenticate(chapMd5('a', 's'));
    expect(!e.ok && e.reason).toBe(
      "record for 'a' allows no IP address ('-' in its address column); branchlink links carry IP only",
    );
    expect(lockout.check('a', base.source).locked).toBe(false);
  });

  it('locks a peer out after the configured failures, refuses even the right secret, releases later', async () => {
    let now = Date.UTC(2025, 0, 1, 12, 0, 0);
    const lockout = new Lockout({ failures: 3, seconds: 60, now: () => now });
    const auth = new LocalAuthenticator(
      table([{ client: 'alice', server: '*', secret: 'right', addresses: '*' }]),
      { lockout },
    );
    await auth.authenticate(chapMd5('alice', 'wrong'));
    await auth.authenticate(chapMd5('alice', 'wrong'));
    const third = await auth.authenticate(chapMd5('alice', 'wrong'));
    expect(!third.ok && third.reason).toContain('now locked out until 2025-01-01T12:01:00.000Z');
    const locked = await auth.authenticate(chapMd5('alice', 'right'));
    expect(locked).toMatchObject({ ok: false, message: 'Access denied' });
    expect(!locked.ok && locked.reason).toBe(
      "'alice' from 198.51.100.7 refused: peer name 'alice' locked out until 2025-01-01T12:01:00.000Z",
    );
    // MS-CHAP peers get a well-formed Failure packet text even when locked out.
    const ms = await auth.authenticate(mschapV2('alice'));
    expect(!ms.ok && ms.message).toMatch(/^E=691 R=0 C=/);
    now += 60_000;
    expect((await auth.authenticate(chapMd5('alice', 'right'))).ok).toBe(true);
  });

  it('escapes control characters of an untrusted peer name in reasons', async () => {
    const auth = new LocalAuthenticator(table([]));
    const d = await auth.authenticate(pap('evil\n\u001b[2Jname', 'x'));
    expect(!d.ok && d.reason).toContain("'evil\\x0a\\x1b[2Jname'");
  });

  it('gives our credentials for the side where we are authenticated', () => {
    const auth = new LocalAuthenticator(
      table([
        { client: 'branch1', server: 'hq', secret: 'to-hq', addresses: '-' },
        { client: 'branch1', server: 'isp', ntHash: '0'.repeat(32), addresses: '-' },
      ]),
    );
    expect(auth.credentialsFor('branch1', 'hq')).toEqual({ name: 'branch1', password: 'to-hq' });
    expect(auth.credentialsFor('branch1', 'isp')).toEqual({
      name: 'branch1',
      ntHash: Buffer.alloc(16),
    });
    expect(auth.credentialsFor('branch1', 'nobody')).toBeUndefined();
    expect(auth.credentialsFor('other')).toBeUndefined();
  });

  it('never puts the secret (or its NT hash) into a reason or message (property)', async () => {
    const secretArb = fc.string({ minLength: 8, maxLength: 32 }).filter((s) => /\S{8}/.test(s));
    const nameArb = fc.stringMatching(/^[a-z]{1,10}$/);
    await fc.assert(
      fc.asyncProperty(
        secretArb,
        nameArb,
        fc.constantFrom('pap', 'chap-md5', 'mschap-v2', 'mschap'),
        fc.boolean(),
        fc.boolean(),
        fc.uint8Array({ minLength: 0, maxLength: 60 }),
        async (secret, name, method, hashOnly, rightName, junk) => {
          const nt = ntPasswordHash(secret).toString('hex');
          const rec: SecretRecord = hashOnly
            ? { client: name, server: '*', ntHash: nt, addresses: '-' }
            : { client: name, server: '*', secret, addresses: '-' };
          const lockout = new Lockout({ failures: 2 });
          const auth = new LocalAuthenticator(table([rec]), { lockout });
          const peerName = rightName ? name : `${name}x`;
          const common = { ...base, peerName };
          const reqs: AuthRequest[] =
            method === 'pap'
              ? [
                  { ...common, method: 'pap', password: Buffer.from(junk) },
                  { ...common, method: 'pap', password: Buffer.from(secret) },
                ]
              : method === 'chap-md5'
                ? [
                    chapMd5(peerName, secret),
                    {
                      ...common,
                      method,
                      identifier: 1,
                      challenge: Buffer.alloc(16),
                      response: Buffer.from(junk),
                    },
                  ]
                : [
                    {
                      ...common,
                      method,
                      identifier: 1,
                      challenge: Buffer.alloc(method === 'mschap' ? 8 : 16, 7),
                      response: Buffer.from(junk),
                    },
                  ];
          for (const req of [...reqs, ...reqs, ...reqs]) {
            const d = await auth.authenticate(req);
            const text = `${d.ok ? '' : d.reason} ${d.message ?? ''}`;
            expect(text).not.toContain(secret);
            expect(text.toLowerCase()).not.toContain(nt);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
