import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeGre, type GrePacket } from '../../src/pptp/gre.js';
import {
  DEFAULT_RECEIVE_WINDOW,
  GreFlow,
  type GreFlowOptions,
  serialDiff,
} from '../../src/pptp/gre-flow.js';

function decode(b: Buffer): GrePacket {
  const r = decodeGre(b);
  if (!r.ok) throw new Error(r.error.reason);
  return r.value;
}

/** A data packet as the peer would send it. */
function data(sequence: number, body = `p${sequence}`, ack?: number): GrePacket {
  return { callId: 7, sequence: sequence >>> 0, ack, payload: Buffer.from(body) };
}

function flow(options: Partial<GreFlowOptions> = {}): GreFlow {
  return new GreFlow({ peerCallId: 9, peerReceiveWindow: 64, ...options });
}

/** Everything the flow hands to PPP for one receive, in order. */
function receiveAll(f: GreFlow, p: GrePacket, now: number): string[] {
  const out: string[] = [];
  const first = f.receive(p, now);
  if (first !== undefined) out.push(first.toString());
  for (let d = f.pollDeliver(); d !== undefined; d = f.pollDeliver()) out.push(d.toString());
  return out;
}

function drainDeliver(f: GreFlow): string[] {
  const out: string[] = [];
  for (let d = f.pollDeliver(); d !== undefined; d = f.pollDeliver()) out.push(d.toString());
  return out;
}

function drainTransmit(f: GreFlow): GrePacket[] {
  const out: GrePacket[] = [];
  for (let t = f.pollTransmit(); t !== undefined; t = f.pollTransmit()) out.push(decode(t));
  return out;
}

describe('serial-number arithmetic', () => {
  it('orders numbers across the 32-bit wrap', () => {
    expect(serialDiff(0, 0xffffffff)).toBe(1);
    expect(serialDiff(0xffffffff, 0)).toBe(-1);
    expect(serialDiff(5, 0xfffffffb)).toBe(10);
    expect(serialDiff(100, 100)).toBe(0);
  });
});

describe('outbound sequencing', () => {
  it('numbers packets from 0 with the peer Call ID in the Key', () => {
    const f = flow();
    const seqs = [0, 1, 2].map(() => decode(f.send(Buffer.from('x'), 0)!));
    expect(seqs.map((p) => p.sequence)).toEqual([0, 1, 2]);
    expect(seqs.every((p) => p.callId === 9 && p.ack === undefined)).toBe(true);
  });

  it('piggy-backs the owed ack on the next data packet, once', () => {
    const f = flow();
    receiveAll(f, data(40), 0);
    receiveAll(f, data(41), 0);
    const a = decode(f.send(Buffer.from('x'), 1)!);
    const b = decode(f.send(Buffer.from('y'), 1)!);
    expect(a.ack).toBe(41);
    expect(b.ack).toBeUndefined();
    expect(f.pollTimeout()).toBeUndefined(); // the ack timer went with the ack
  });

  it('sends an ack-only packet when no data leaves within the ack delay', () => {
    const f = flow({ ackDelayMs: 100 });
    receiveAll(f, data(0), 1000);
    expect(f.pollTimeout()).toBe(1100);
    f.handleTimeout(1099);
    expect(drainTransmit(f)).toEqual([]);
    f.handleTimeout(1100);
    const [ack] = drainTransmit(f);
    expect(ack).toEqual({ callId: 9, sequence: undefined, ack: 0, payload: Buffer.alloc(0) });
    expect(f.counters.txAckOnly).toBe(1);
    f.handleTimeout(5000);
    expect(drainTransmit(f)).toEqual([]); // nothing new to ack
  });

  it('acks at once when half the advertised receive window is unacknowledged', () => {
    const f = flow({ receiveWindow: 8, ackDelayMs: 100 });
    for (let s = 0; s < 3; s++) receiveAll(f, data(s), 0);
    expect(drainTransmit(f)).toEqual([]);
    receiveAll(f, data(3), 0);
    expect(drainTransmit(f).map((p) => p.ack)).toEqual([3]);
  });

  it('sends the sequence across the 32-bit wrap', () => {
    const f = flow({ initialSequence: 0xfffffffe });
    const seqs = [0, 1, 2].map(() => decode(f.send(Buffer.from('x'), 0)!).sequence);
    expect(seqs).toEqual([0xfffffffe, 0xffffffff, 0]);
  });
});

describe('send window (RFC 2637 §4.2)', () => {
  it('queues packets beyond the peer window and sends them when an ack opens it', () => {
    const f = flow({ peerReceiveWindow: 3, minSendWindow: 0 });
    expect(f.window).toBe(3);
    for (let i = 0; i < 3; i++) expect(f.send(Buffer.from(`d${i}`), 0)).toBeDefined();
    expect(f.send(Buffer.from('d3'), 0)).toBeUndefined();
    expect(f.send(Buffer.from('d4'), 0)).toBeUndefined();
    expect(f.counters.txQueued).toBe(2);
    expect(f.inFlight).toBe(3);
    // The peer acknowledges sequence 0 on an ack-only packet: one slot opens.
    f.receive({ callId: 7, sequence: undefined, ack: 0, payload: Buffer.alloc(0) }, 5);
    const released = drainTransmit(f);
    expect(released.map((p) => [p.sequence, p.payload.toString()])).toEqual([[3, 'd3']]);
    // An ack piggy-backed on data opens the rest.
    receiveAll(f, data(0, 'in', 2), 6);
    expect(drainTransmit(f).map((p) => p.payload.toString())).toEqual(['d4']);
  });

  it('drops and counts payloads when the window is shut and the queue full', () => {
    const f = flow({ peerReceiveWindow: 1, minSendWindow: 0, sendQueueMax: 2 });
    f.send(Buffer.from('a'), 0);
    f.send(Buffer.from('b'), 0);
    f.send(Buffer.from('c'), 0);
    expect(f.send(Buffer.from('d'), 0)).toBeUndefined();
    expect(f.counters.txWindowDropped).toBe(1);
    expect(f.queued).toBe(2);
  });

  it('writes in-flight packets off when the window stays shut past the timeout (§4.4)', () => {
    const f = flow({ peerReceiveWindow: 1, minSendWindow: 0, sendQueueTimeoutMs: 200 });
    f.send(Buffer.from('a'), 0); // lost on the way: never acked
    f.send(Buffer.from('b'), 10);
    expect(f.pollTimeout()).toBe(210);
    f.handleTimeout(209);
    expect(drainTransmit(f)).toEqual([]);
    f.handleTimeout(210);
    expect(drainTransmit(f).map((p) => p.payload.toString())).toEqual(['b']);
    expect(f.counters.txAckTimeouts).toBe(1);
  });

  it('treats a window of 0 as no window (MS-PTPT §3.1.5.7)', () => {
    const f = flow({ peerReceiveWindow: 0, minSendWindow: 0 });
    for (let i = 0; i < 1000; i++) expect(f.send(Buffer.from('x'), 0)).toBeDefined();
  });

  it('raises a tiny peer window to the configured floor', () => {
    expect(flow({ peerReceiveWindow: 3 }).window).toBe(64);
    expect(flow({ peerReceiveWindow: 3, minSendWindow: 16 }).window).toBe(16);
    expect(flow({ peerReceiveWindow: 3, ignorePeerWindow: true }).window).toBe(
      Number.POSITIVE_INFINITY,
    );
  });

  it('admits data while the window is open or the queue has room beyond the control reserve', () => {
    const f = flow({ peerReceiveWindow: 2, minSendWindow: 0, sendQueueMax: 12 });
    expect(f.admitData()).toBe(true);
    f.send(Buffer.from('a'), 0);
    f.send(Buffer.from('b'), 0);
    // Window shut: data may fill the queue up to 12 - 8 control slots.
    for (let i = 0; i < 4; i++) {
      expect(f.admitData()).toBe(true);
      f.send(Buffer.from(`q${i}`), 0);
    }
    expect(f.admitData()).toBe(false);
    expect(f.counters.txWindowDropped).toBe(1);
    // Control frames still find room in the reserve.
    expect(f.send(Buffer.from('lcp'), 0)).toBeUndefined();
    expect(f.queued).toBe(5);
    expect(f.counters.txWindowDropped).toBe(1);
    // An ack reopens the window and the queue drains: data is admitted again.
    f.receive({ callId: 7, sequence: undefined, ack: 1, payload: Buffer.alloc(0) }, 0);
    expect(f.queued).toBe(3);
    expect(f.admitData()).toBe(true);
  });

  it('acknowledges alone every 32 packets although it advertises a 512-packet window', () => {
    expect(DEFAULT_RECEIVE_WINDOW).toBe(512);
    const f = new GreFlow({ peerCallId: 9, peerReceiveWindow: 0 });
    // A peer with its own send window of 64 must not wait for acks after 256 packets.
    for (let i = 0; i < 31; i++) f.receive(data(i), 0);
    expect(drainTransmit(f)).toEqual([]);
    f.receive(data(31), 0);
    expect(drainTransmit(f).map((p) => p.ack)).toEqual([31]);
    const small = new GreFlow({ peerCallId: 9, peerReceiveWindow: 0, receiveWindow: 8 });
    for (let i = 0; i < 4; i++) small.receive(data(i), 0);
    expect(drainTransmit(small).map((p) => p.ack)).toEqual([3]);
  });

  it('counts an ack for a number never sent and ignores it', () => {
    const f = flow({ peerReceiveWindow: 1, minSendWindow: 0 });
    f.send(Buffer.from('a'), 0);
    f.send(Buffer.from('b'), 0);
    f.receive({ callId: 7, sequence: undefined, ack: 5, payload: Buffer.alloc(0) }, 0);
    expect(f.counters.rxBadAck).toBe(1);
    expect(drainTransmit(f)).toEqual([]);
  });

  it('tracks the window across the 32-bit wrap', () => {
    const f = flow({ peerReceiveWindow: 2, minSendWindow: 0, initialSequence: 0xffffffff });
    f.send(Buffer.from('a'), 0); // 0xffffffff
    f.send(Buffer.from('b'), 0); // 0
    expect(f.send(Buffer.from('c'), 0)).toBeUndefined();
    f.receive({ callId: 7, sequence: undefined, ack: 0xffffffff, payload: Buffer.alloc(0) }, 0);
    expect(drainTransmit(f).map((p) => p.sequence)).toEqual([1]);
    f.receive({ callId: 7, sequence: undefined, ack: 1, payload: Buffer.alloc(0) }, 0);
    expect(f.inFlight).toBe(0);
  });
});

describe('inbound ordering (RFC 2637 §4.3)', () => {
  it('delivers in-order packets at once', () => {
    const f = flow();
    expect([0, 1, 2].flatMap((s) => receiveAll(f, data(s), 0))).toEqual(['p0', 'p1', 'p2']);
    expect(f.counters.rxDelivered).toBe(3);
  });

  it('takes the first sequence number as given (peers start at 0 or 1)', () => {
    const f = flow();
    expect(receiveAll(f, data(1), 0)).toEqual(['p1']);
    expect(receiveAll(f, data(2), 0)).toEqual(['p2']);
  });

  it('reorders a packet that overtook another', () => {
    const f = flow();
    expect(receiveAll(f, data(0), 0)).toEqual(['p0']);
    expect(receiveAll(f, data(2), 1)).toEqual([]);
    expect(f.reordering).toBe(1);
    expect(receiveAll(f, data(1), 2)).toEqual(['p1', 'p2']);
    expect(f.counters.rxReordered).toBe(1);
    expect(f.counters.rxLost).toBe(0);
  });

  it('skips a gap after the reorder timeout and drops the late packet', () => {
    const f = flow({ reorderTimeoutMs: 50 });
    receiveAll(f, data(0), 0);
    receiveAll(f, data(2), 10);
    receiveAll(f, data(3), 12);
    expect(f.pollTimeout()).toBeLessThanOrEqual(60);
    f.handleTimeout(59);
    expect(drainDeliver(f)).toEqual([]);
    f.handleTimeout(60);
    expect(drainDeliver(f)).toEqual(['p2', 'p3']);
    expect(f.counters.rxLost).toBe(1);
    expect(receiveAll(f, data(1), 70)).toEqual([]);
    expect(f.counters.rxLate).toBe(1);
    expect(receiveAll(f, data(4), 71)).toEqual(['p4']);
  });

  it('drops and counts duplicates, delivered or still held', () => {
    const f = flow();
    receiveAll(f, data(0), 0);
    receiveAll(f, data(1), 0);
    expect(receiveAll(f, data(1), 0)).toEqual([]);
    receiveAll(f, data(3), 0);
    expect(receiveAll(f, data(3), 0)).toEqual([]);
    expect(f.counters.rxDuplicate).toBe(2);
    expect(receiveAll(f, data(2), 0)).toEqual(['p2', 'p3']);
  });

  it('drops and counts sequence numbers older than the recent history', () => {
    const f = flow();
    receiveAll(f, data(1000), 0);
    expect(receiveAll(f, data(10), 0)).toEqual([]);
    expect(f.counters.rxStale).toBe(1);
  });

  it('releases the oldest held packet early when the reordering buffer is full', () => {
    const f = flow({ reorderMax: 2 });
    receiveAll(f, data(0), 0);
    receiveAll(f, data(2), 0);
    receiveAll(f, data(3), 0);
    expect(receiveAll(f, data(5), 0)).toEqual(['p2', 'p3']);
    expect(f.counters.rxOverflow).toBe(1);
    expect(f.counters.rxLost).toBe(1);
    expect(f.reordering).toBe(1);
  });

  it('delivers and reorders across the 32-bit wrap', () => {
    const f = flow();
    expect(receiveAll(f, data(0xfffffffe), 0)).toEqual([`p${0xfffffffe}`]);
    expect(receiveAll(f, data(0), 0)).toEqual([]);
    expect(receiveAll(f, data(0xffffffff), 0)).toEqual([`p${0xffffffff}`, 'p0']);
    expect(receiveAll(f, data(1), 0)).toEqual(['p1']);
    expect(receiveAll(f, data(0xffffffff), 0)).toEqual([]);
    expect(f.counters.rxDuplicate).toBe(1);
  });

  it('acks the highest in-order number, across the wrap', () => {
    const f = flow();
    receiveAll(f, data(0xffffffff), 0);
    receiveAll(f, data(0), 0);
    expect(decode(f.send(Buffer.from('x'), 0)!).ack).toBe(0);
  });

  it('delivers any shuffle of a short burst in order without loss or duplicates', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 1, max: 20 }),
        fc.infiniteStream(fc.integer({ min: 0, max: 1000 })),
        (start, n, noise) => {
          const f = flow({ reorderMax: 32 });
          receiveAll(f, data(start, 'first'), 0);
          const seqs = Array.from({ length: n }, (_, i) => (start + 1 + i) >>> 0);
          // Fisher-Yates with the generated noise.
          const it = noise[Symbol.iterator]();
          for (let i = seqs.length - 1; i > 0; i--) {
            const j = it.next().value % (i + 1);
            [seqs[i], seqs[j]] = [seqs[j]!, seqs[i]!];
          }
          const got: string[] = [];
          for (const s of seqs) got.push(...receiveAll(f, data(s, String(s)), 1));
          expect(got).toEqual(Array.from({ length: n }, (_, i) => String((start + 1 + i) >>> 0)));
          expect(f.counters.rxLost).toBe(0);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('two flows back to back', () => {
  it('carry payloads both ways with acks and no loss', () => {
    const a = flow({ peerCallId: 2, peerReceiveWindow: 4, minSendWindow: 0, receiveWindow: 4 });
    const b = flow({ peerCallId: 1, peerReceiveWindow: 4, minSendWindow: 0, receiveWindow: 4 });
    const gotAtB: string[] = [];
    const gotAtA: string[] = [];
    let now = 0;
    const wire = (from: GreFlow, to: GreFlow, sink: string[], pkt: Buffer | undefined) => {
      if (pkt === undefined) return;
      sink.push(...receiveAll(to, decode(pkt), now));
      for (let t = to.pollTransmit(); t !== undefined; t = to.pollTransmit()) {
        wire(to, from, sink === gotAtB ? gotAtA : gotAtB, t);
      }
    };
    for (let i = 0; i < 100; i++) {
      now += 1;
      wire(a, b, gotAtB, a.send(Buffer.from(`a${i}`), now));
      if (i % 3 === 0) wire(b, a, gotAtA, b.send(Buffer.from(`b${i}`), now));
      for (const f of [a, b]) {
        const t = f.pollTimeout();
        if (t !== undefined && t <= now + 200) {
          now = Math.max(now, t);
          f.handleTimeout(now);
          for (let p = f.pollTransmit(); p !== undefined; p = f.pollTransmit()) {
            wire(f, f === a ? b : a, f === a ? gotAtB : gotAtA, p);
          }
        }
      }
    }
    // Let every queue drain.
    for (let round = 0; round < 50; round++) {
      now += 300;
      for (const f of [a, b]) {
        f.handleTimeout(now);
        for (let p = f.pollTransmit(); p !== undefined; p = f.pollTransmit()) {
          wire(f, f === a ? b : a, f === a ? gotAtB : gotAtA, p);
        }
      }
    }
    expect(gotAtB).toEqual(Array.from({ length: 100 }, (_, i) => `a${i}`));
    expect(gotAtA).toEqual(Array.from({ length: 34 }, (_, i) => `b${i * 3}`));
    expect(a.counters.txWindowDropped + b.counters.txWindowDropped).toBe(0);
  });
});
