/**
 * The PPP core on its own: complete LCP + CHAP-MD5 + IPCP negotiations per second
 * between two sessions back to back in memory, and control packets decoded and
 * re-encoded per second.
 */
import type { AuthRequest } from '../../src/ppp/auth/authenticator.js';
import { verifyPapOrMd5 } from '../../src/ppp/auth/verify.js';
import { decodeFrame, encodeFrame, UNCOMPRESSED } from '../../src/ppp/frame.js';
import {
  decodeControlPacket,
  decodeOptions,
  encodeControlPacket,
  encodeOptions,
  option,
  u16,
  u32,
} from '../../src/ppp/packet.js';
import { Protocol } from '../../src/ppp/protocol.js';
import { PppSession } from '../../src/ppp/session.js';
import { type BenchResult, opsPerSecond } from './types.js';

function pair(): [PppSession, PppSession] {
  const server = new PppSession({
    ourName: 'hq',
    authRequired: ['chap-md5'],
    authAllowed: [],
    ipcp: { localAddress: '10.0.0.1', remoteAddress: '10.0.0.2' },
  });
  const client = new PppSession({
    ourName: 'branch',
    credentials: { name: 'alice', password: 'wonderland' },
    authRequired: [],
    authAllowed: ['chap-md5'],
  });
  return [server, client];
}

const verify = (r: AuthRequest) => verifyPapOrMd5(r, { password: 'wonderland' });

/** Runs one negotiation to both ends' ip-up; returns the frames exchanged. */
function negotiate(): number {
  const [a, b] = pair();
  a.open(0);
  b.open(0);
  let frames = 0;
  for (let round = 0; round < 50; round++) {
    let moved = false;
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      for (let f = from.pollTransmit(); f !== undefined; f = from.pollTransmit()) {
        to.handleFrame(f, round);
        frames++;
        moved = true;
      }
      for (let r = from.pollAuthRequest(); r !== undefined; r = from.pollAuthRequest()) {
        from.completeAuth(r.token, verify(r.request), round);
        moved = true;
      }
      while (from.pollEvent() !== undefined) {}
    }
    if (a.addresses && b.addresses) return frames;
    if (!moved) break;
  }
  throw new Error('negotiation did not complete');
}

/** One message-sized copy through the same loop shape: the baseline for negotiations. */
function copyFrames(frames: Buffer[]): number {
  let n = 0;
  for (const f of frames) n += Buffer.from(f).length > 0 ? 1 : 0;
  return n;
}

export async function run(): Promise<BenchResult[]> {
  const framesPerNegotiation = negotiate();
  const negotiations = opsPerSecond(() => {
    negotiate();
    return 1;
  }, 2000);

  const lcpRequest = encodeFrame(
    Protocol.LCP,
    encodeControlPacket(
      1,
      1,
      encodeOptions([
        option(1, u16(1400)),
        option(2, u32(0)),
        option(3, Buffer.from([0xc2, 0x23, 0x81])),
        option(5, u32(0x5c3e1a2b)),
        option(7),
        option(8),
      ]),
    ),
    UNCOMPRESSED,
  );
  const codec = opsPerSecond(() => {
    const frame = decodeFrame(lcpRequest);
    if (!frame.ok) throw new Error('bad frame');
    const packet = decodeControlPacket(frame.value.information);
    if (!packet.ok) throw new Error('bad packet');
    const options = decodeOptions(packet.value.data);
    if (!options.ok) throw new Error('bad options');
    encodeFrame(
      frame.value.protocol,
      encodeControlPacket(packet.value.code, packet.value.identifier, encodeOptions(options.value)),
      UNCOMPRESSED,
    );
    return 1;
  });
  const frames = Array.from({ length: framesPerNegotiation }, () => lcpRequest);
  const copies = opsPerSecond(() => copyFrames(frames) / framesPerNegotiation);
  const plainCopy = opsPerSecond(() => (Buffer.from(lcpRequest).length > 0 ? 1 : 0));

  return [
    {
      name: `LCP+CHAP-MD5+IPCP negotiations (${framesPerNegotiation} frames each)`,
      value: negotiations,
      unit: 'negotiations/s',
      baseline: {
        name: `copying the same ${framesPerNegotiation} frames`,
        value: copies,
        unit: 'sets/s',
      },
    },
    {
      name: 'LCP ConfReq decoded (frame, packet, options) and re-encoded',
      value: codec,
      unit: 'packets/s',
      baseline: { name: 'Buffer copy of the same frame', value: plainCopy, unit: 'copies/s' },
    },
  ];
}
