import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CONTROL_MESSAGE_LENGTH,
  CONTROL_MESSAGE_TYPE,
  type ControlMessage,
  codeName,
  DISCONNECT_RESULT,
  decodeControlMessage,
  encodeControlMessage,
  GENERAL_ERROR,
  OUTGOING_CALL_RESULT,
  START_RESULT,
} from '../../src/pptp/control.js';
import { formatControlLine, formatControlMessage } from '../../src/pptp/control-log.js';
import { arbitraryControlMessage } from './arbitraries.js';

/** Octets from hex with any whitespace. */
function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}

type Field =
  | [offset: number, width: 1 | 2 | 4, value: number]
  | [offset: number, 'str', value: string];

/**
 * Lays a message out by hand from the RFC 2637 field tables: the 12-octet header, then
 * each field at its byte offset. Independent of the codec under test.
 */
function layout(type: number, length: number, fields: Field[]): Buffer {
  const b = Buffer.alloc(length);
  b.writeUInt16BE(length, 0); // Length
  b.writeUInt16BE(1, 2); // PPTP Message Type: control
  b.writeUInt32BE(0x1a2b3c4d, 4); // Magic Cookie
  b.writeUInt16BE(type, 8); // Control Message Type
  // Reserved0 at 10 stays 0
  for (const [offset, width, value] of fields) {
    if (width === 'str') b.write(value as string, offset, 'latin1');
    else if (width === 1) b.writeUInt8(value as number, offset);
    else if (width === 2) b.writeUInt16BE(value as number, offset);
    else b.writeUInt32BE(value as number, offset);
  }
  return b;
}

/** Every message with its hand-laid bytes (RFC 2637 §2.1-§2.15). */
const vectors: { name: string; bytes: Buffer; repr: ControlMessage }[] = [
  {
    // MS-PTPT §4 example: Windows' Start-Control-Connection-Request.
    name: '§2.1 Start-Control-Connection-Request',
    bytes: layout(1, 156, [
      [12, 2, 0x0100], // Protocol Version
      // 14: Reserved1
      [16, 4, 1], // Framing Capabilities
      [20, 4, 1], // Bearer Capabilities
      [24, 2, 0], // Maximum Channels
      [26, 2, 0], // Firmware Revision
      // 28: Host Name (64)
      [92, 'str', 'Microsoft'], // Vendor (64)
    ]),
    repr: {
      type: 'Start-Control-Connection-Request',
      protocolVersion: 0x100,
      framingCapabilities: 1,
      bearerCapabilities: 1,
      maximumChannels: 0,
      firmwareRevision: 0,
      hostName: '',
      vendor: 'Microsoft',
    },
  },
  {
    name: '§2.2 Start-Control-Connection-Reply',
    bytes: layout(2, 156, [
      [12, 2, 0x0100],
      [14, 1, 2], // Result Code
      [15, 1, 4], // Error Code
      [16, 4, 3],
      [20, 4, 2],
      [24, 2, 7],
      [26, 2, 0x1234],
      [28, 'str', 'headoffice'],
      [92, 'str', 'branchlink'],
    ]),
    repr: {
      type: 'Start-Control-Connection-Reply',
      protocolVersion: 0x100,
      resultCode: 2,
      errorCode: 4,
      framingCapabilities: 3,
      bearerCapabilities: 2,
      maximumChannels: 7,
      firmwareRevision: 0x1234,
      hostName: 'headoffice',
      vendor: 'branchlink',
    },
  },
  {
    // MS-PTPT §4 example.
    name: '§2.3 Stop-Control-Connection-Request',
    bytes: hex('0010 0001 1a2b3c4d 0003 0000  01 00 0000'),
    repr: { type: 'Stop-Control-Connection-Request', reason: 1 },
  },
  {
    name: '§2.4 Stop-Control-Connection-Reply',
    bytes: hex('0010 0001 1a2b3c4d 0004 0000  02 03 0000'),
    repr: { type: 'Stop-Control-Connection-Reply', resultCode: 2, errorCode: 3 },
  },
  {
    name: '§2.5 Echo-Request',
    bytes: hex('0010 0001 1a2b3c4d 0005 0000  deadbeef'),
    repr: { type: 'Echo-Request', identifier: 0xdeadbeef },
  },
  {
    name: '§2.6 Echo-Reply',
    bytes: hex('0014 0001 1a2b3c4d 0006 0000  deadbeef 01 00 0000'),
    repr: { type: 'Echo-Reply', identifier: 0xdeadbeef, resultCode: 1, errorCode: 0 },
  },
  {
    // MS-PTPT §4 example: Windows' Outgoing-Call-Request with a GUID in the Subaddress.
    name: '§2.7 Outgoing-Call-Request',
    bytes: layout(7, 168, [
      [12, 2, 0xfaea], // Call ID
      [14, 2, 1], // Call Serial Number
      [16, 4, 300], // Minimum BPS
      [20, 4, 100_000_000], // Maximum BPS
      [24, 4, 3], // Bearer Type
      [28, 4, 3], // Framing Type
      [32, 2, 64], // Packet Recv. Window Size
      [34, 2, 0], // Packet Processing Delay
      [36, 2, 4], // Phone Number Length
      // 38: Reserved1
      [40, 'str', '5551'], // Phone Number (64)
      [104, 'str', 'E3W*'], // Subaddress (64)
    ]),
    repr: {
      type: 'Outgoing-Call-Request',
      callId: 0xfaea,
      callSerialNumber: 1,
      minimumBps: 300,
      maximumBps: 100_000_000,
      bearerType: 3,
      framingType: 3,
      receiveWindowSize: 64,
      processingDelay: 0,
      phoneNumberLength: 4,
      phoneNumber: '5551',
      subaddress: 'E3W*',
    },
  },
  {
    // MS-PTPT §4 example, verbatim field values.
    name: '§2.8 Outgoing-Call-Reply',
    bytes: hex('0020 0001 1a2b3c4d 0008 0000  e40a faea 01 00 0000 00512502 4000 0000 00000000'),
    repr: {
      type: 'Outgoing-Call-Reply',
      callId: 58378,
      peerCallId: 64234,
      resultCode: 1,
      errorCode: 0,
      causeCode: 0,
      connectSpeed: 5317890,
      receiveWindowSize: 16384,
      processingDelay: 0,
      physicalChannelId: 0,
    },
  },
  {
    name: '§2.9 Incoming-Call-Request',
    bytes: layout(9, 220, [
      [12, 2, 9], // Call ID
      [14, 2, 77], // Call Serial Number
      [16, 4, 2], // Call Bearer Type
      [20, 4, 0x01020304], // Physical Channel ID
      [24, 2, 3], // Dialed Number Length
      [26, 2, 5], // Dialing Number Length
      [28, 'str', '123'], // Dialed Number (64)
      [92, 'str', '45678'], // Dialing Number (64)
      [156, 'str', 'sub'], // Subaddress (64)
    ]),
    repr: {
      type: 'Incoming-Call-Request',
      callId: 9,
      callSerialNumber: 77,
      bearerType: 2,
      physicalChannelId: 0x01020304,
      dialedNumberLength: 3,
      dialingNumberLength: 5,
      dialedNumber: '123',
      dialingNumber: '45678',
      subaddress: 'sub',
    },
  },
  {
    name: '§2.10 Incoming-Call-Reply',
    bytes: hex('0018 0001 1a2b3c4d 000a 0000  0001 0009 03 00 0040 0002 0000'),
    repr: {
      type: 'Incoming-Call-Reply',
      callId: 1,
      peerCallId: 9,
      resultCode: 3,
      errorCode: 0,
      receiveWindowSize: 64,
      transmitDelay: 2,
    },
  },
  {
    name: '§2.11 Incoming-Call-Connected',
    bytes: hex('001c 0001 1a2b3c4d 000b 0000  0009 0000 0000fa00 0010 0001 00000002'),
    repr: {
      type: 'Incoming-Call-Connected',
      peerCallId: 9,
      connectSpeed: 64000,
      receiveWindowSize: 16,
      transmitDelay: 1,
      framingType: 2,
    },
  },
  {
    name: '§2.12 Call-Clear-Request',
    bytes: hex('0010 0001 1a2b3c4d 000c 0000  faea 0000'),
    repr: { type: 'Call-Clear-Request', callId: 64234 },
  },
  {
    // MS-PTPT §4 example (Result Code 0, as Windows sends).
    name: '§2.13 Call-Disconnect-Notify',
    bytes: layout(13, 148, [
      [12, 2, 58378], // Call ID
      [14, 1, 0], // Result Code
      [15, 1, 0], // Error Code
      [16, 2, 0x11], // Cause Code
      // 18: Reserved1
      [20, 'str', 'rx 10 tx 12'], // Call Statistics (128)
    ]),
    repr: {
      type: 'Call-Disconnect-Notify',
      callId: 58378,
      resultCode: 0,
      errorCode: 0,
      causeCode: 0x11,
      callStatistics: 'rx 10 tx 12',
    },
  },
  {
    name: '§2.14 WAN-Error-Notify',
    bytes: hex(`0028 0001 1a2b3c4d 000e 0000  0004 0000
      00000001 00000002 00000003 00000004 00000005 00000006`),
    repr: {
      type: 'WAN-Error-Notify',
      peerCallId: 4,
      crcErrors: 1,
      framingErrors: 2,
      hardwareOverruns: 3,
      bufferOverruns: 4,
      timeoutErrors: 5,
      alignmentErrors: 6,
    },
  },
  {
    name: '§2.15 Set-Link-Info',
    bytes: hex('0018 0001 1a2b3c4d 000f 0000  0004 0000 ffffffff 000a0000'),
    repr: { type: 'Set-Link-Info', peerCallId: 4, sendAccm: 0xffffffff, receiveAccm: 0x000a0000 },
  },
];

describe('control message layouts (RFC 2637 §2)', () => {
  it('covers all 15 control messages', () => {
    expect(new Set(vectors.map((v) => v.repr.type)).size).toBe(15);
    expect(Object.keys(CONTROL_MESSAGE_TYPE)).toHaveLength(15);
  });

  for (const v of vectors) {
    it(`${v.name} decodes from the RFC byte layout`, () => {
      const r = decodeControlMessage(v.bytes);
      expect(r).toEqual({ ok: true, value: v.repr });
    });
    it(`${v.name} encodes to the RFC byte layout (length ${v.bytes.length})`, () => {
      const out = encodeControlMessage(v.repr);
      expect(out.toString('hex')).toBe(v.bytes.toString('hex'));
      expect(out.length).toBe(CONTROL_MESSAGE_LENGTH[v.repr.type]);
    });
  }

  it('ignores non-zero Reserved fields on receipt (MS-PTPT §2.2) and writes them as zero', () => {
    const b = Buffer.from(vectors[11]!.bytes); // Call-Clear-Request
    b.writeUInt16BE(0xbeef, 10); // Reserved0
    b.writeUInt16BE(0xcafe, 14); // Reserved1
    const r = decodeControlMessage(b);
    expect(r).toEqual({ ok: true, value: { type: 'Call-Clear-Request', callId: 64234 } });
    if (r.ok)
      expect(encodeControlMessage(r.value).subarray(10).toString('hex')).toBe('0000faea0000');
  });

  it('decodes a 64-octet Host Name with no terminator', () => {
    const name = 'h'.repeat(64);
    const b = layout(1, 156, [
      [12, 2, 0x100],
      [28, 'str', name],
      [92, 'str', 'v'],
    ]);
    const r = decodeControlMessage(b);
    expect(r.ok && r.value.type === 'Start-Control-Connection-Request' && r.value.hostName).toBe(
      name,
    );
  });

  it('truncates strings longer than their field when encoding', () => {
    const m = { ...vectors[0]!.repr, hostName: 'x'.repeat(100) } as ControlMessage;
    const r = decodeControlMessage(encodeControlMessage(m));
    expect(r.ok && r.value.type === 'Start-Control-Connection-Request' && r.value.hostName).toBe(
      'x'.repeat(64),
    );
  });
});

describe('control message validation', () => {
  const echo = vectors[4]!.bytes;

  it('rejects a wrong Magic Cookie', () => {
    const b = Buffer.from(echo);
    b.writeUInt32BE(0x1a2b3c4e, 4);
    expect(decodeControlMessage(b)).toMatchObject({ ok: false, error: { kind: 'bad-cookie' } });
  });

  it('rejects a Length that disagrees with the octets given', () => {
    expect(decodeControlMessage(Buffer.concat([echo, Buffer.alloc(1)]))).toMatchObject({
      ok: false,
      error: { kind: 'bad-length' },
    });
  });

  it("rejects a message whose Length is not its type's exact length", () => {
    // An Echo-Request claiming 20 octets (an Echo-Reply's length).
    const b = Buffer.concat([echo, Buffer.alloc(4)]);
    b.writeUInt16BE(20, 0);
    expect(decodeControlMessage(b)).toMatchObject({ ok: false, error: { kind: 'bad-length' } });
  });

  it('reports an unknown Control Message Type as data, not a crash', () => {
    const b = Buffer.from(echo);
    b.writeUInt16BE(16, 8);
    expect(decodeControlMessage(b)).toMatchObject({
      ok: false,
      error: { kind: 'unknown-message-type' },
    });
  });

  it('reports a management message (PPTP Message Type 2) as unsupported', () => {
    const b = Buffer.from(echo);
    b.writeUInt16BE(2, 2);
    expect(decodeControlMessage(b)).toMatchObject({
      ok: false,
      error: { kind: 'unsupported-pptp-message-type' },
    });
  });

  it('rejects every truncation of every message without throwing', () => {
    for (const v of vectors) {
      for (let n = 0; n < v.bytes.length; n++) {
        const r = decodeControlMessage(v.bytes.subarray(0, n));
        expect(r.ok).toBe(false);
      }
    }
  });

  it('never throws on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const r = decodeControlMessage(Buffer.from(bytes));
        expect(typeof r.ok).toBe('boolean');
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on random bytes behind a valid header', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 15 }),
        fc.uint8Array({ minLength: 0, maxLength: 220 }),
        (type, body) => {
          const b = Buffer.concat([Buffer.alloc(12), Buffer.from(body)]);
          b.writeUInt16BE(b.length, 0);
          b.writeUInt16BE(1, 2);
          b.writeUInt32BE(0x1a2b3c4d, 4);
          b.writeUInt16BE(type, 8);
          const r = decodeControlMessage(b);
          if (r.ok) expect(r.value.type).toBeDefined();
          else expect(r.error.kind).toBe('bad-length');
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('control message round trips', () => {
  it('decode(encode(m)) equals m for every message', () => {
    fc.assert(
      fc.property(arbitraryControlMessage, (m) => {
        expect(decodeControlMessage(encodeControlMessage(m))).toEqual({ ok: true, value: m });
      }),
      { numRuns: 3000 },
    );
  });

  it('encode(decode(bytes)) equals bytes with Reserved fields zeroed', () => {
    fc.assert(
      fc.property(arbitraryControlMessage, (m) => {
        const bytes = encodeControlMessage(m);
        const r = decodeControlMessage(bytes);
        expect(r.ok && encodeControlMessage(r.value).equals(bytes)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('code names and log lines', () => {
  it('names known codes and keeps unknown ones as data', () => {
    expect(codeName(START_RESULT, 1)).toBe('Successful');
    expect(codeName(OUTGOING_CALL_RESULT, 4)).toBe('Busy');
    expect(codeName(DISCONNECT_RESULT, 4)).toBe('Request');
    expect(codeName(GENERAL_ERROR, 5)).toBe('Bad-Call-ID');
    expect(codeName(OUTGOING_CALL_RESULT, 99)).toBe('unknown(99)');
  });

  it('formats a Start-Control-Connection-Request like pppd formats LCP', () => {
    const m: ControlMessage = {
      type: 'Start-Control-Connection-Request',
      protocolVersion: 0x100,
      framingCapabilities: 3,
      bearerCapabilities: 3,
      maximumChannels: 0,
      firmwareRevision: 1,
      hostName: 'branch-7',
      vendor: 'branchlink',
    };
    expect(formatControlLine('rcvd', m)).toBe(
      'rcvd [PPTP Start-Control-Connection-Request ver=0x100 framing=3 bearer=3 maxch=0 fw=0x1 host="branch-7" vendor="branchlink"]',
    );
  });

  it('names result and error codes in replies', () => {
    const r = decodeControlMessage(vectors[1]!.bytes);
    expect(r.ok && formatControlMessage(r.value)).toContain(
      'result=General-Error error=No-Resource',
    );
  });

  it('escapes unprintable octets in wire strings', () => {
    const m: ControlMessage = {
      type: 'Call-Disconnect-Notify',
      callId: 1,
      resultCode: 9,
      errorCode: 0,
      causeCode: 0,
      callStatistics: 'a"\x01\xff',
    };
    expect(formatControlMessage(m)).toBe(
      '[PPTP Call-Disconnect-Notify call=1 result=unknown(9) cause=0 stats="a\\"\\x01\\xff"]',
    );
  });

  it('formats every message without throwing', () => {
    fc.assert(
      fc.property(arbitraryControlMessage, (m) => {
        expect(formatControlMessage(m)).toMatch(/^\[PPTP [A-Za-z-]+ .*\]$/);
      }),
      { numRuns: 500 },
    );
  });
});
