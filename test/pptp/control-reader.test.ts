import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type ControlMessage,
  decodeControlMessage,
  encodeControlMessage,
  MAX_CONTROL_MESSAGE_LENGTH,
} from '../../src/pptp/control.js';
import { ControlReader } from '../../src/pptp/control-reader.js';
import { arbitraryControlMessage } from './arbitraries.js';

const sccrq: ControlMessage = {
  type: 'Start-Control-Connection-Request',
  protocolVersion: 0x100,
  framingCapabilities: 3,
  bearerCapabilities: 3,
  maximumChannels: 0,
  firmwareRevision: 1,
  hostName: 'branch',
  vendor: 'branchlink',
};
const echo: ControlMessage = { type: 'Echo-Request', identifier: 7 };
const ocrp: ControlMessage = {
  type: 'Outgoing-Call-Reply',
  callId: 5,
  peerCallId: 4,
  resultCode: 1,
  errorCode: 0,
  causeCode: 0,
  connectSpeed: 1000,
  receiveWindowSize: 64,
  processingDelay: 0,
  physicalChannelId: 0,
};
const stream = Buffer.concat([sccrq, echo, ocrp].map(encodeControlMessage));

function decodeAll(frames: Buffer[]): ControlMessage[] {
  return frames.map((f) => {
    const r = decodeControlMessage(f);
    if (!r.ok) throw new Error(r.error.reason);
    return r.value;
  });
}

describe('ControlReader', () => {
  it('reassembles a stream cut at every byte boundary', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const reader = new ControlReader();
      const a = reader.push(stream.subarray(0, cut));
      const b = reader.push(stream.subarray(cut));
      expect(a.error).toBeUndefined();
      expect(b.error).toBeUndefined();
      expect(decodeAll([...a.frames, ...b.frames])).toEqual([sccrq, echo, ocrp]);
      expect(reader.buffered).toBe(0);
    }
  });

  it('reassembles a stream cut at every pair of byte boundaries', () => {
    for (let i = 0; i <= stream.length; i += 3) {
      for (let j = i; j <= stream.length; j += 5) {
        const reader = new ControlReader();
        const frames = [
          ...reader.push(stream.subarray(0, i)).frames,
          ...reader.push(stream.subarray(i, j)).frames,
          ...reader.push(stream.subarray(j)).frames,
        ];
        expect(decodeAll(frames)).toEqual([sccrq, echo, ocrp]);
      }
    }
  });

  it('reassembles one octet at a time', () => {
    const reader = new ControlReader();
    const frames: Buffer[] = [];
    for (const byte of stream) frames.push(...reader.push(Buffer.of(byte)).frames);
    expect(decodeAll(frames)).toEqual([sccrq, echo, ocrp]);
    expect(reader.messages).toBe(3);
    expect(reader.octets).toBe(stream.length);
  });

  it('reassembles any chunking of any messages, holding less than one message', () => {
    fc.assert(
      fc.property(
        fc.array(arbitraryControlMessage, { minLength: 1, maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 30 }),
        (messages, sizes) => {
          const bytes = Buffer.concat(messages.map(encodeControlMessage));
          const reader = new ControlReader();
          const frames: Buffer[] = [];
          let offset = 0;
          let i = 0;
          while (offset < bytes.length) {
            const n = sizes[i++ % sizes.length]!;
            const r = reader.push(bytes.subarray(offset, offset + n));
            expect(r.error).toBeUndefined();
            frames.push(...r.frames);
            offset += n;
            expect(reader.buffered).toBeLessThan(MAX_CONTROL_MESSAGE_LENGTH);
          }
          expect(decodeAll(frames)).toEqual(messages);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('hands out frames that do not alias the pushed chunk', () => {
    const chunk = Buffer.from(stream);
    const reader = new ControlReader();
    const { frames } = reader.push(chunk);
    chunk.fill(0);
    expect(decodeAll(frames)).toEqual([sccrq, echo, ocrp]);
  });

  it('fails on a Length too short for a header, as soon as the Length has arrived', () => {
    const reader = new ControlReader();
    const r = reader.push(Buffer.from([0x00, 0x08]));
    expect(r.error?.kind).toBe('bad-length');
    expect(reader.state).toBe('failed');
  });

  it('fails on a Length longer than any message (bounded memory)', () => {
    const reader = new ControlReader();
    const r = reader.push(Buffer.from([0xff, 0xff, 0, 1]));
    expect(r.error?.kind).toBe('bad-length');
    expect(reader.buffered).toBe(0);
  });

  it('fails on a wrong Magic Cookie and keeps failing', () => {
    const bad = Buffer.from(encodeControlMessage(echo));
    bad.writeUInt32BE(0xdeadbeef, 4);
    const reader = new ControlReader();
    const r = reader.push(bad);
    expect(r.error?.kind).toBe('bad-cookie');
    const again = reader.push(encodeControlMessage(echo));
    expect(again.frames).toEqual([]);
    expect(again.error?.kind).toBe('bad-cookie');
  });

  it('delivers the good messages that came before a bad one', () => {
    const bad = Buffer.from(encodeControlMessage(echo));
    bad.writeUInt32BE(0, 4);
    const reader = new ControlReader();
    const r = reader.push(Buffer.concat([encodeControlMessage(sccrq), bad]));
    expect(decodeAll(r.frames)).toEqual([sccrq]);
    expect(r.error?.kind).toBe('bad-cookie');
  });

  it('never throws and never holds more than a message on random input', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 20 }), (chunks) => {
        const reader = new ControlReader();
        for (const c of chunks) {
          const r = reader.push(Buffer.from(c));
          for (const f of r.frames)
            expect(f.length).toBeLessThanOrEqual(MAX_CONTROL_MESSAGE_LENGTH);
          expect(reader.buffered).toBeLessThan(MAX_CONTROL_MESSAGE_LENGTH);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
