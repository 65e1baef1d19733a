/**
 * Benchmark: the in-memory enhanced-GRE data path of one call, both ends: GreFlow.send
 * (sequence number, piggy-backed ack, window) → decodeGre → GreFlow.receive (ordering,
 * duplicate check, ack timer), with the receiver's ack-only packets fed back to the sender
 * so the send window keeps moving. Beside it, the same run's baseline: allocating and
 * copying a Buffer of the same size, the least any encapsulation must do.
 */
import { decodeGre } from '../../src/pptp/gre.js';
import { GreFlow } from '../../src/pptp/gre-flow.js';

export type BenchResult = {
  name: string;
  value: number;
  unit: string;
  baseline?: { name: string; value: number; unit: string };
};

const RUN_MS = 1000;

function measure(body: (batch: number) => void): number {
  const batch = 1000;
  // Warm up the JIT.
  for (let i = 0; i < 20; i++) body(batch);
  let packets = 0;
  const start = performance.now();
  let now = start;
  while (now - start < RUN_MS) {
    body(batch);
    packets += batch;
    now = performance.now();
  }
  return packets / ((now - start) / 1000);
}

function greRate(size: number): number {
  const payload = Buffer.alloc(size, 0x5a);
  const a = new GreFlow({ peerCallId: 2, peerReceiveWindow: 64 });
  const b = new GreFlow({ peerCallId: 1, peerReceiveWindow: 64 });
  let delivered = 0;
  let clock = 0;
  const result = measure((batch) => {
    for (let i = 0; i < batch; i++) {
      clock += 0.01;
      const wire = a.send(payload, clock);
      if (wire === undefined) throw new Error('send window stalled');
      const r = decodeGre(wire);
      if (!r.ok) throw new Error(r.error.reason);
      if (b.receive(r.value, clock) !== undefined) delivered++;
      for (let t = b.pollTransmit(); t !== undefined; t = b.pollTransmit()) {
        const ack = decodeGre(t);
        if (ack.ok) a.receive(ack.value, clock);
      }
    }
  });
  if (delivered === 0) throw new Error('nothing delivered');
  return result;
}

function copyRate(size: number): number {
  const payload = Buffer.alloc(size, 0x5a);
  let sink = 0;
  const result = measure((batch) => {
    for (let i = 0; i < batch; i++) {
      const out = Buffer.allocUnsafe(size);
      payload.copy(out);
      sink += out[0]!;
    }
  });
  if (sink === 0) throw new Error('unreachable');
  return result;
}

export async function run(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  for (const size of [1400, 64]) {
    const gre = greRate(size);
    const copy = copyRate(size);
    results.push({
      name: `GRE encode+decode+sequencing, ${size}-octet payload`,
      value: Math.round(gre),
      unit: 'packets/s',
      baseline: {
        name: `Buffer alloc+copy, ${size} octets`,
        value: Math.round(copy),
        unit: 'packets/s',
      },
    });
  }
  return results;
}

// `node --import tsx scripts/bench/gre.ts` prints the figures on its own.
if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of await run()) {
    console.log(
      `${r.name}: ${r.value} ${r.unit} (baseline ${r.baseline?.name}: ${r.baseline?.value} ${r.baseline?.unit})`,
    );
  }
}
