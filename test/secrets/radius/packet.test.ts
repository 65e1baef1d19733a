import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Attr,
  accountingRequestAuthenticator,
  Code,
  checkMessageAuthenticator,
  codeName,
  decodePacket,
  decodeVendorSpecific,
  decryptMsChapMppeKeys,
  decryptSaltedKey,
  encodeAccessRequest,
  encodeAccountingRequest,
  encodePacket,
  encodeResponse,
  encryptMsChapMppeKeys,
  encryptSaltedKey,
  findAttribute,
  hidePassword,
  integerAttribute,
  MsAttr,
  microsoftAttribute,
  readAddress,
  readInteger,
  responseAuthenticator,
  textAttribute,
  unhidePassword,
  VENDOR_MICROSOFT,
  vendorAttributes,
  verifyAccountingRequest,
  verifyResponse,
} from '../../../src/secrets/radius/packet.js';
import { formatPacket } from '../../../src/secrets/radius/packet-log.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// RFC 2865 §7.1 "User Telnet to Specified Host": shared secret "xyzzy5461", password
// "arctangent".
const RFC_SECRET = Buffer.from('xyzzy5461');
const RFC_7_1_REQUEST = hex(`
  01 00 00 38 0f 40 3f 94 73 97 80 57 bd 83 d5 cb
  98 f4 22 7a 01 06 6e 65 6d 6f 02 12 0d be 70 8d
  93 d4 13 ce 31 96 e4 3f 78 2a 0a ee 04 06 c0 a8
  01 10 05 06 00 00 00 03`);
const RFC_7_1_ACCEPT = hex(`
  02 00 00 26 86 fe 22 0e 76 24 ba 2a 10 05 f6 bf
  9b 55 e0 b2 06 06 00 00 00 01 0f 06 00 00 00 00
  0e 06 c0 a8 01 03`);
// RFC 2865 §7.2 "Framed User Authenticating with CHAP" (user "flopsy", CHAP ID 22).
const RFC_7_2_REQUEST = hex(`
  01 01 00 47 2a ee 86 f0 8d 0d 55 96 9c a5 97 8e
  0d 33 67 a2 01 08 66 6c 6f 70 73 79 03 13 16 e9
  75 57 c3 16 18 58 95 f2 93 ff 63 44 07 72 75 04
  06 c0 a8 01 10 05 06 00 00 00 14 06 06 00 00 00
  02 07 06 00 00 00 01`);

// Captured on loopback from FreeRADIUS 3.2.1's radclient and server (shared secret
// "testing123"): an independent implementation's Message-Authenticator on a request
// (radclient) and on an Access-Accept (radiusd).
const FR_SECRET = Buffer.from('testing123');
const FR_REQUEST = hex(
  '01ef003f09715f4e52b7788147050cccf3412aa60107616c6963650212748a6e6d09183af9cc5682e3810dc7515012b6d3937f6e074756a203b0b62d489d90',
);
const FR_ACCEPT = hex(
  '02ef004d47bc0df2d7f6a12e120e5c010a8c2d5008060a09004d1b0600000e101c06000002580c0600000578120f57656c636f6d6520616c6963655012100d2490de690a385900b170e46f4ee4',
);

describe('RADIUS packets (RFC 2865 §3)', () => {
  it('decodes the RFC 2865 §7.1 Access-Request and encodes it back byte for byte', () => {
    const p = decodePacket(RFC_7_1_REQUEST);
    expect(p.ok).toBe(true);
    if (!p.ok) return;
    expect(p.value.code).toBe(Code.AccessRequest);
    expect(p.value.identifier).toBe(0);
    expect(p.value.attributes.map((a) => a.type)).toEqual([1, 2, 4, 5]);
    expect(findAttribute(p.value, Attr.UserName)?.toString()).toBe('nemo');
    expect(readAddress(findAttribute(p.value, Attr.NasIpAddress)!)).toBe('192.168.1.16');
    expect(readInteger(findAttribute(p.value, Attr.NasPort)!)).toBe(3);
    const back = encodePacket(p.value);
    expect(back.ok && back.value.equals(RFC_7_1_REQUEST)).toBe(true);
  });

  it('hides "arctangent" into the published User-Password bytes and recovers it', () => {
    const ra = RFC_7_1_REQUEST.subarray(4, 20);
    const hidden = hidePassword(Buffer.from('arctangent'), RFC_SECRET, ra);
    expect(hidden.ok && hidden.value.toString('hex')).toBe('0dbe708d93d413ce3196e43f782a0aee');
    const p = decodePacket(RFC_7_1_REQUEST);
    if (!p.ok) throw new Error('decode');
    const plain = unhidePassword(findAttribute(p.value, Attr.UserPassword)!, RFC_SECRET, ra);
    expect(plain.ok && plain.value.toString()).toBe('arctangent');
  });

  it('verifies the published Response Authenticator of the §7.1 Access-Accept', () => {
    const ra = RFC_7_1_REQUEST.subarray(4, 20);
    expect(responseAuthenticator(RFC_7_1_ACCEPT, ra, RFC_SECRET).toString('hex')).toBe(
      '86fe220e7624ba2a1005f6bf9b55e0b2',
    );
    const v = verifyResponse(RFC_7_1_ACCEPT, ra, RFC_SECRET);
    expect(v).toEqual({ ok: true, value: 'absent' });
    // The wrong secret, or the wrong request, fails.
    expect(verifyResponse(RFC_7_1_ACCEPT, ra, Buffer.from('xyzzy5462')).ok).toBe(false);
    expect(verifyResponse(RFC_7_1_ACCEPT, Buffer.alloc(16), RFC_SECRET).ok).toBe(false);
  });

  it('decodes the §7.2 CHAP Access-Request: CHAP-Password is the CHAP ID then 16 bytes', () => {
    const p = decodePacket(RFC_7_2_REQUEST);
    if (!p.ok) throw new Error(p.error.reason);
    expect(findAttribute(p.value, Attr.UserName)?.toString()).toBe('flopsy');
    const chap = findAttribute(p.value, Attr.ChapPassword)!;
    expect(chap.length).toBe(17);
    expect(chap[0]).toBe(22);
    expect(readInteger(findAttribute(p.value, Attr.ServiceType)!)).toBe(2);
    expect(readInteger(findAttribute(p.value, Attr.FramedProtocol)!)).toBe(1);
    expect(encodePacket(p.value).ok && encodePacket(p.value)).toEqual({
      ok: true,
      value: RFC_7_2_REQUEST,
    });
  });

  it('ignores octets past Length as padding (RFC 2865 §3)', () => {
    const padded = Buffer.concat([RFC_7_1_ACCEPT, Buffer.from([1, 2, 3])]);
    const p = decodePacket(padded);
    expect(p.ok && p.value.attributes.length).toBe(3);
  });

  it('refuses every truncated prefix and bad lengths with a typed error', () => {
    for (let n = 0; n < RFC_7_1_REQUEST.length; n++) {
      const r = decodePacket(RFC_7_1_REQUEST.subarray(0, n));
      expect(r.ok).toBe(false);
      if (!r.ok) expect(['truncated', 'bad-length']).toContain(r.error.kind);
    }
    const short = Buffer.from(RFC_7_1_REQUEST);
    short.writeUInt16BE(19, 2);
    expect(decodePacket(short)).toMatchObject({ ok: false, error: { kind: 'bad-length' } });
    const zeroAttr = Buffer.from(RFC_7_1_REQUEST);
    zeroAttr[21] = 0;
    expect(decodePacket(zeroAttr)).toMatchObject({ ok: false, error: { kind: 'bad-attribute' } });
    const overrun = Buffer.from(RFC_7_1_REQUEST);
    overrun[21] = 200;
    expect(decodePacket(overrun)).toMatchObject({ ok: false, error: { kind: 'bad-attribute' } });
  });

  it('names unknown codes and attribute types instead of failing', () => {
    expect(codeName(99)).toBe('Unknown-Code-99');
    const p = encodePacket({
      code: 99,
      identifier: 7,
      authenticator: Buffer.alloc(16),
      attributes: [{ type: 240, value: Buffer.from([1]) }],
    });
    if (!p.ok) throw new Error('encode');
    const d = decodePacket(p.value);
    expect(d.ok && d.value.code).toBe(99);
    expect(d.ok && formatPacket(d.value)).toBe('[RADIUS Unknown-Code-99 id=0x7 <Attr-240 len=1>]');
  });

  it('refuses to encode a value longer than 253 bytes or a packet over 4096', () => {
    const long = encodePacket({
      code: 1,
      identifier: 0,
      authenticator: Buffer.alloc(16),
      attributes: [{ type: 1, value: Buffer.alloc(254) }],
    });
    expect(long).toMatchObject({ ok: false, error: { kind: 'too-long' } });
    const big = encodePacket({
      code: 1,
      identifier: 0,
      authenticator: Buffer.alloc(16),
      attributes: Array.from({ length: 17 }, () => ({ type: 18, value: Buffer.alloc(253) })),
    });
    expect(big).toMatchObject({ ok: false, error: { kind: 'too-long' } });
  });

  it('never throws on random bytes (fast-check)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), (bytes) => {
        const r = decodePacket(bytes);
        if (r.ok) {
          for (const a of r.value.attributes) {
            if (a.type === Attr.VendorSpecific) decodeVendorSpecific(a.value);
          }
          formatPacket(r.value);
        }
        checkMessageAuthenticator(bytes, FR_SECRET, Buffer.alloc(16));
        verifyResponse(bytes, Buffer.alloc(16), FR_SECRET);
        decryptSaltedKey(bytes, FR_SECRET, Buffer.alloc(16));
        unhidePassword(bytes, FR_SECRET, Buffer.alloc(16));
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on random bytes behind a valid header (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 255 }),
        fc.uint8Array({ minLength: 0, maxLength: 200 }),
        (code, body) => {
          const b = Buffer.alloc(20 + body.length);
          b[0] = code;
          b.writeUInt16BE(b.length, 2);
          b.set(body, 20);
          const r = decodePacket(b);
          if (r.ok) {
            vendorAttributes(r.value, VENDOR_MICROSOFT);
            formatPacket(r.value);
            // A decoded packet encodes back to the same bytes.
            const e = encodePacket(r.value);
            expect(e.ok && e.value.equals(b)).toBe(true);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('round-trips any attribute list (fast-check)', () => {
    const attr = fc.record({
      type: fc.integer({ min: 0, max: 255 }),
      value: fc.uint8Array({ maxLength: 253 }).map((u) => Buffer.from(u)),
    });
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 255 }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }).map((u) => Buffer.from(u)),
        fc.array(attr, { maxLength: 12 }),
        (code, identifier, authenticator, attributes) => {
          const e = encodePacket({ code, identifier, authenticator, attributes });
          if (!e.ok) return;
          const d = decodePacket(e.value);
          expect(d.ok).toBe(true);
          if (!d.ok) return;
          expect(d.value.code).toBe(code);
          expect(d.value.identifier).toBe(identifier);
          expect(d.value.authenticator.equals(authenticator)).toBe(true);
          expect(d.value.attributes.map((a) => [a.type, a.value.toString('hex')])).toEqual(
            attributes.map((a) => [a.type, a.value.toString('hex')]),
          );
        },
      ),
    );
  });
});

describe('User-Password hiding (RFC 2865 §5.2)', () => {
  it('round-trips passwords of 0..128 bytes (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 128 }).filter((u) => u.length === 0 || u[u.length - 1] !== 0),
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        (password, secret, ra) => {
          const h = hidePassword(password, secret, ra);
          expect(h.ok).toBe(true);
          if (!h.ok) return;
          expect(h.value.length % 16).toBe(0);
          expect(h.value.length).toBe(Math.max(16, Math.ceil(password.length / 16) * 16));
          const p = unhidePassword(h.value, secret, ra);
          expect(p.ok && Buffer.from(p.value).equals(Buffer.from(password))).toBe(true);
        },
      ),
    );
  });

  it('refuses a password longer than 128 bytes', () => {
    expect(hidePassword(Buffer.alloc(129, 1), RFC_SECRET, Buffer.alloc(16)).ok).toBe(false);
  });
});

describe('MS-MPPE key encryption (RFC 2548 §2.4)', () => {
  it('round-trips MS-MPPE-Send-Key style salted keys (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.integer({ min: 0x8000, max: 0xffff }),
        (key, secret, ra, saltValue) => {
          const salt = Buffer.from([saltValue >> 8, saltValue & 0xff]);
          const e = encryptSaltedKey(key, secret, ra, salt);
          expect(e.ok).toBe(true);
          if (!e.ok) return;
          expect(e.value.subarray(0, 2).equals(salt)).toBe(true);
          expect((e.value.length - 2) % 16).toBe(0);
          const d = decryptSaltedKey(e.value, secret, ra);
          expect(d.ok && d.value.equals(Buffer.from(key))).toBe(true);
        },
      ),
    );
  });

  it('lays out a 16-byte key as Salt, then 32 encrypted bytes (Key-Length, key, padding)', () => {
    const key = Buffer.alloc(16, 0x42);
    const ra = Buffer.alloc(16, 0x11);
    const e = encryptSaltedKey(key, FR_SECRET, ra, Buffer.from([0x80, 0x01]));
    if (!e.ok) throw new Error('encrypt');
    expect(e.value.length).toBe(34);
    // The first plaintext block is XORed with MD5(secret ‖ RA ‖ salt): undo it by hand.
    const b1 = createHash('md5')
      .update(FR_SECRET)
      .update(ra)
      .update(Buffer.from([0x80, 0x01]))
      .digest();
    expect(e.value[2]! ^ b1[0]!).toBe(16);
    expect(e.value[3]! ^ b1[1]!).toBe(0x42);
  });

  it('refuses a salt without its high bit and a wrong length', () => {
    const ra = Buffer.alloc(16);
    expect(encryptSaltedKey(Buffer.alloc(16), FR_SECRET, ra, Buffer.from([0x00, 1])).ok).toBe(
      false,
    );
    const e = encryptSaltedKey(Buffer.alloc(16), FR_SECRET, ra, Buffer.from([0x80, 1]));
    if (!e.ok) throw new Error('encrypt');
    const noBit = Buffer.from(e.value);
    noBit[0] = 0x00;
    expect(decryptSaltedKey(noBit, FR_SECRET, ra)).toMatchObject({ error: { kind: 'bad-salt' } });
    expect(decryptSaltedKey(e.value.subarray(0, 20), FR_SECRET, ra).ok).toBe(false);
  });

  it('round-trips MS-CHAP-MPPE-Keys (RFC 2548 §2.4.1)', () => {
    const lm = Buffer.alloc(8, 1);
    const nt = Buffer.alloc(16, 2);
    const ra = Buffer.alloc(16, 3);
    const value = encryptMsChapMppeKeys(lm, nt, FR_SECRET, ra);
    expect(value.length).toBe(32);
    const d = decryptMsChapMppeKeys(value, FR_SECRET, ra);
    expect(d.ok && d.value.lmKey.equals(lm) && d.value.ntKey.equals(nt)).toBe(true);
  });
});

describe('Vendor-Specific (RFC 2865 §5.26) with Microsoft attributes (RFC 2548)', () => {
  it('round-trips a Microsoft sub-attribute', () => {
    const a = microsoftAttribute(MsAttr.ChapChallenge, Buffer.alloc(16, 7));
    if (!a.ok) throw new Error('vsa');
    expect(a.value.type).toBe(26);
    expect(a.value.value.subarray(0, 6).toString('hex')).toBe('000001370b12');
    const d = decodeVendorSpecific(a.value.value);
    expect(d.ok && d.value.vendorId).toBe(311);
    expect(d.ok && d.value.attributes[0]?.type).toBe(MsAttr.ChapChallenge);
  });

  it('refuses a vendor sub-attribute that runs past the attribute', () => {
    const bad = hex('00000137 0b 20 0102');
    expect(decodeVendorSpecific(bad).ok).toBe(false);
    expect(decodeVendorSpecific(hex('000001')).ok).toBe(false);
  });

  it('skips malformed Vendor-Specific attributes when collecting Microsoft ones', () => {
    const good = microsoftAttribute(MsAttr.ChapError, Buffer.from('\x01E=691'));
    if (!good.ok) throw new Error('vsa');
    const packet = {
      code: 3,
      identifier: 1,
      authenticator: Buffer.alloc(16),
      attributes: [{ type: 26, value: hex('00000137 02 40') }, good.value],
    };
    const { attributes, skipped } = vendorAttributes(packet, VENDOR_MICROSOFT);
    expect(skipped).toBe(1);
    expect(attributes.map((a) => a.type)).toEqual([MsAttr.ChapError]);
  });
});

describe('Message-Authenticator (RFC 3579 §3.2)', () => {
  it('accepts radclient’s Message-Authenticator on a captured Access-Request', () => {
    expect(checkMessageAuthenticator(FR_REQUEST, FR_SECRET)).toEqual({ ok: true, value: 'valid' });
    expect(checkMessageAuthenticator(FR_REQUEST, Buffer.from('testing124')).ok).toBe(false);
  });

  it('accepts FreeRADIUS’s Message-Authenticator and authenticator on a captured Accept', () => {
    const ra = FR_REQUEST.subarray(4, 20);
    expect(verifyResponse(FR_ACCEPT, ra, FR_SECRET)).toEqual({ ok: true, value: 'valid' });
    const p = decodePacket(FR_ACCEPT);
    expect(p.ok && formatPacket(p.value)).toBe(
      '[RADIUS Access-Accept id=0xef <Framed-IP-Address 10.9.0.77> <Session-Timeout 3600> <Idle-Timeout 600> <Framed-MTU 1400> <Reply-Message "Welcome alice"> <Message-Authenticator>]',
    );
  });

  it('detects a changed byte anywhere in a signed response', () => {
    const ra = FR_REQUEST.subarray(4, 20);
    for (let i = 0; i < FR_ACCEPT.length; i++) {
      const bad = Buffer.from(FR_ACCEPT);
      bad[i]! ^= 0x01;
      expect(verifyResponse(bad, ra, FR_SECRET).ok).toBe(false);
    }
  });

  it('signs our Access-Request the way radclient does (first attribute, verifiable)', () => {
    const ra = FR_REQUEST.subarray(4, 20);
    const ours = encodeAccessRequest({
      identifier: 0xef,
      authenticator: ra,
      attributes: [textAttribute(Attr.UserName, 'alice')],
      userPassword: Buffer.from('alice-secret'),
      secret: FR_SECRET,
    });
    if (!ours.ok) throw new Error('encode');
    expect(ours.value[20]).toBe(Attr.MessageAuthenticator);
    expect(checkMessageAuthenticator(ours.value, FR_SECRET)).toEqual({ ok: true, value: 'valid' });
    // Same attributes as radclient's packet, other order: same User-Password bytes.
    const d = decodePacket(ours.value);
    const theirs = decodePacket(FR_REQUEST);
    if (!d.ok || !theirs.ok) throw new Error('decode');
    expect(findAttribute(d.value, Attr.UserPassword)).toEqual(
      findAttribute(theirs.value, Attr.UserPassword),
    );
  });

  it('refuses two Message-Authenticators', () => {
    const p = encodePacket({
      code: 2,
      identifier: 1,
      authenticator: Buffer.alloc(16),
      attributes: [
        { type: 80, value: Buffer.alloc(16) },
        { type: 80, value: Buffer.alloc(16) },
      ],
    });
    if (!p.ok) throw new Error('encode');
    expect(checkMessageAuthenticator(p.value, FR_SECRET)).toMatchObject({
      ok: false,
      error: { kind: 'bad-message-authenticator' },
    });
  });

  it('builds responses that verify, with and without Message-Authenticator', () => {
    const ra = Buffer.alloc(16, 9);
    for (const messageAuthenticator of [true, false]) {
      const r = encodeResponse({
        code: Code.AccessAccept,
        identifier: 3,
        requestAuthenticator: ra,
        attributes: [integerAttribute(Attr.SessionTimeout, 60)],
        secret: FR_SECRET,
        messageAuthenticator,
      });
      if (!r.ok) throw new Error('encode');
      expect(verifyResponse(r.value, ra, FR_SECRET)).toEqual({
        ok: true,
        value: messageAuthenticator ? 'valid' : 'absent',
      });
    }
  });
});

describe('Accounting-Request authenticator (RFC 2866 §3)', () => {
  it('is MD5 over the packet with a zero authenticator and the secret', () => {
    const p = encodeAccountingRequest({
      identifier: 5,
      attributes: [integerAttribute(Attr.AcctStatusType, 1)],
      secret: FR_SECRET,
    });
    if (!p.ok) throw new Error('encode');
    expect(verifyAccountingRequest(p.value, FR_SECRET)).toBe(true);
    expect(verifyAccountingRequest(p.value, RFC_SECRET)).toBe(false);
    const zeroed = Buffer.from(p.value);
    zeroed.fill(0, 4, 20);
    expect(accountingRequestAuthenticator(zeroed, FR_SECRET).equals(p.value.subarray(4, 20))).toBe(
      true,
    );
  });
});

describe('log formatting', () => {
  it('never prints passwords, CHAP responses or MPPE keys', () => {
    const ra = Buffer.alloc(16, 1);
    const send = encryptSaltedKey(Buffer.from('SECRETKEYSECRETK'), FR_SECRET, ra, hex('8001'));
    if (!send.ok) throw new Error('encrypt');
    const sendAttr = microsoftAttribute(MsAttr.MppeSendKey, send.value);
    const resp = microsoftAttribute(MsAttr.Chap2Response, Buffer.from('R'.repeat(50)));
    if (!sendAttr.ok || !resp.ok) throw new Error('vsa');
    const req = encodeAccessRequest({
      identifier: 1,
      authenticator: ra,
      attributes: [
        textAttribute(Attr.UserName, 'alice'),
        { type: Attr.ChapPassword, value: Buffer.from('\x01CHAPRESPONSEXXXX') },
        sendAttr.value,
        resp.value,
      ],
      userPassword: Buffer.from('hunter2'),
      secret: FR_SECRET,
    });
    if (!req.ok) throw new Error('encode');
    const d = decodePacket(req.value);
    if (!d.ok) throw new Error('decode');
    const line = formatPacket(d.value);
    expect(line).toContain('<User-Name "alice">');
    expect(line).toContain('<User-Password len=16>');
    expect(line).toContain('<CHAP-Password len=17>');
    expect(line).toContain('<MS-MPPE-Send-Key len=34>');
    expect(line).toContain('<MS-CHAP2-Response len=50>');
    for (const secretish of ['hunter2', 'CHAPRESPONSE', 'SECRETKEY', 'RRRR', 'testing123']) {
      expect(line).not.toContain(secretish);
    }
  });
});
