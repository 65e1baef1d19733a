/**
 * MPPE data-path throughput on 1400-byte payloads, beside the same run's native RC4 ceiling:
 * `openssl speed -evp rc4` (legacy provider, 1408-byte blocks: about one encrypted MPPE
 * payload), or, without the openssl CLI, Node's OpenSSL RC4 in a child process started with
 * --openssl-legacy-provider (the flag stays in that child).
 *
 * Both sides are wall-clock rates (`-elapsed`: openssl otherwise counts CPU time, which
 * flatters it on a busy machine). Figures are MB/s (10^6 bytes) of information field
 * encrypted or decrypted. Stateless MPPE changes key on every packet (a SHA-1 and two RC4
 * key schedules), so it cannot reach bare RC4 even in the same language; the bare-RC4 line
 * shows how much that costs.
 */
import { execFileSync } from 'node:child_process';
import { Rc4 } from '../../src/ppp/crypto/rc4.js';
import { MppeDecrypter, MppeEncrypter } from '../../src/ppp/mppe.js';
import { type BenchResult, type Figure, opsPerSecond } from './types.js';

const PAYLOAD = 1400;
const MS = 1500;
const START_KEY = Buffer.from('8B7CDC149B993A1BA118CB153F56DCCB', 'hex');

/** Parses the "RC4  927111.11k" line of `openssl speed` (figures in 1000s of bytes/s). */
function parseOpensslSpeed(output: string): number | undefined {
  const m = /^RC4\s+([\d.]+)k\s*$/m.exec(output);
  return m === null ? undefined : Number(m[1]) / 1000;
}

function nativeRc4Baseline(): Figure {
  try {
    const out = execFileSync(
      'openssl',
      [
        'speed',
        '-evp',
        'rc4',
        '-provider',
        'legacy',
        '-provider',
        'default',
        '-bytes',
        '1408',
        '-seconds',
        '2',
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const mbps = parseOpensslSpeed(out);
    if (mbps !== undefined) {
      return {
        name: 'openssl speed -elapsed -evp rc4 (legacy), 1408 B',
        value: mbps,
        unit: 'MB/s',
      };
    }
  } catch {
    // No openssl CLI: fall through to Node's own OpenSSL.
  }
  const script = `
    const c = require('node:crypto');
    const ci = c.createCipheriv('rc4', Buffer.alloc(16, 7), null);
    const buf = Buffer.alloc(${PAYLOAD + 2});
    for (let i = 0; i < 20000; i++) ci.update(buf);
    let n = 0; const t0 = performance.now();
    while (performance.now() - t0 < 2000) { for (let i = 0; i < 1000; i++) ci.update(buf); n += 1000; }
    process.stdout.write(String((n * ${PAYLOAD}) / ((performance.now() - t0) / 1000) / 1e6));
  `;
  const out = execFileSync(process.execPath, ['--openssl-legacy-provider', '-e', script], {
    encoding: 'utf8',
  });
  return { name: "Node's OpenSSL RC4 (legacy provider), 1402 B", value: Number(out), unit: 'MB/s' };
}

const mbps = (packetsPerSecond: number): number => (packetsPerSecond * PAYLOAD) / 1e6;

export async function run(): Promise<BenchResult[]> {
  const baseline = nativeRc4Baseline();
  // Every loop takes its buffers from small rings, as the session gets a new packet each
  // time: with one constant buffer the compiler folds its length and address into the
  // loop, which makes it up to twice as fast as any real caller sees.
  const inputs = [0x45, 0x46, 0x47, 0x48].map((b) => Buffer.alloc(PAYLOAD, b));
  const outputs = inputs.map(() => Buffer.alloc(MppeEncrypter.encryptedLength(PAYLOAD)));

  const encryptMbps = (stateful: boolean): number => {
    const tx = new MppeEncrypter({ startKey: START_KEY, bits: 128, stateful });
    return mbps(
      opsPerSecond(() => {
        for (let i = 0; i < 100; i++) tx.encryptInto(0x0021, inputs[i & 3]!, outputs[i & 3]!, 0);
        return 100;
      }, MS),
    );
  };
  const statelessMbps = encryptMbps(false);
  const statefulMbps = encryptMbps(true);

  // Decryption: a ring of pre-encrypted stateless packets (each needs a newer coherency
  // count than the last), replayed whole to a fresh decrypter each time.
  const ring: Buffer[] = [];
  const tx = new MppeEncrypter({ startKey: START_KEY, bits: 128, stateful: false });
  for (let i = 0; i < 2000; i++) ring.push(tx.encrypt(0x0021, inputs[i & 3]!));
  const decryptMbps = mbps(
    opsPerSecond(() => {
      const rx = new MppeDecrypter({ startKey: START_KEY, bits: 128, stateful: false });
      for (let i = 0; i < ring.length; i++) {
        if (rx.decrypt(ring[i]!, outputs[i & 3]).kind !== 'ok') throw new Error('decrypt failed');
      }
      return ring.length;
    }, MS),
  );

  const rc4 = new Rc4(START_KEY);
  const rc4Mbps = mbps(
    opsPerSecond(() => {
      for (let i = 0; i < 100; i++) rc4.process(inputs[i & 3]!, outputs[i & 3]!, 0, 4, PAYLOAD);
      return 100;
    }, MS),
  );

  return [
    {
      name: 'MPPE-128 stateless encrypt, 1400 B payloads',
      value: statelessMbps,
      unit: 'MB/s',
      baseline,
    },
    {
      name: 'MPPE-128 stateful encrypt, 1400 B payloads',
      value: statefulMbps,
      unit: 'MB/s',
      baseline,
    },
    {
      name: 'MPPE-128 stateless decrypt, 1400 B payloads',
      value: decryptMbps,
      unit: 'MB/s',
      baseline,
    },
    { name: 'bare RC4 (src/ppp/crypto/rc4.ts), 1400 B', value: rc4Mbps, unit: 'MB/s', baseline },
  ];
}
