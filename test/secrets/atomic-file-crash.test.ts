/**
 * kill -9 of a writer in the middle of writes, 200 times: the file is always valid JSON,
 * holds the old or the new set, and stays 0600. Four lanes of 50 kills run side by side
 * (each on its own file) to keep the run short; the children run with umask 022, the
 * setting under which lowdb's stock adapter turns 0600 into 0644.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AtomicTextFile } from '../../src/secrets/atomic-file.js';
import { bundleForNode } from './helpers/bundle.js';

// A kill -9 tests atomicity (what a reader can see after a crash), which is the same on
// tmpfs as on disk; tmpfs keeps 200 rounds of fsync-heavy writers from queueing on the
// disk. (fsync matters for power cuts, which no test here can produce.)
const crashBase = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();

let child: string;
const dirs: string[] = [];

beforeAll(async () => {
  child = await bundleForNode(
    path.join(import.meta.dirname, 'helpers/writer-child.ts'),
    'writer-crash',
  );
}, 60_000);

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  rmSync(path.dirname(child), { recursive: true, force: true });
});

/** A secrets-like set of `n` records; big enough that a write takes a while. */
function secretSet(tag: string, n: number): string {
  const secrets = Array.from({ length: n }, (_, i) => ({
    client: `user-${tag}-${i}`,
    server: '*',
    secret: `${tag}-${'x'.repeat(200)}-${i}`,
    addresses: [`10.9.${i >> 8}.${i & 255}`],
  }));
  return `${JSON.stringify({ version: 1, secrets }, null, 2)}\n`;
}

function waitReady(p: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    let errText = '';
    p.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('ready')) resolve();
    });
    p.stderr!.on('data', (c: Buffer) => {
      errText += c.toString();
    });
    p.once('exit', (code) => reject(new Error(`writer exited early (${code}): ${errText}`)));
  });
}

const exited = (p: ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) resolve();
    else p.once('exit', () => resolve());
  });

interface LaneResult {
  kills: number;
  sawA: number;
  sawB: number;
  tempsLeft: number;
}

async function lane(index: number, kills: number): Promise<LaneResult> {
  const dir = mkdtempSync(path.join(crashBase, `branchlink-crash-${index}-`));
  dirs.push(dir);
  const file = path.join(dir, 'secrets.json');
  const a = secretSet('a', 60);
  const b = secretSet('b', 60);
  writeFileSync(path.join(dir, 'A'), a);
  writeFileSync(path.join(dir, 'B'), b);
  await new AtomicTextFile(file).write(a);
  const result: LaneResult = { kills: 0, sawA: 0, sawB: 0, tempsLeft: 0 };
  // Alternate the two writer styles: one lock held over many writes, or one lock per
  // write (so some kills land while taking or releasing the lock). Each child is started
  // a few rounds early and waits for "go", so Node's start-up (~0.15 s) overlaps the
  // previous rounds instead of adding to each.
  const startChild = (k: number): ChildProcess =>
    spawn(
      process.execPath,
      [child, file, k % 2 === 0 ? 'hold' : 'each', path.join(dir, 'A'), path.join(dir, 'B')],
      {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: { ...process.env, BL_WAIT_GO: '1' },
      },
    );
  const AHEAD = 3;
  const waiting: ChildProcess[] = [];
  for (let k = 0; k < Math.min(AHEAD, kills); k++) waiting.push(startChild(k));
  for (let k = 0; k < kills; k++) {
    const p = waiting.shift()!;
    if (k + AHEAD < kills) waiting.push(startChild(k + AHEAD));
    const ready = waitReady(p);
    p.stdin!.write('go\n');
    await ready;
    await new Promise((r) => setTimeout(r, Math.random() * 12));
    p.kill('SIGKILL');
    await exited(p);
    result.kills++;

    const text = readFileSync(file, 'utf8');
    const st = statSync(file);
    // Always a complete file: exactly the old or the new set, never a mix or a prefix.
    expect(() => JSON.parse(text)).not.toThrow();
    expect(text === a || text === b).toBe(true);
    if (text === a) result.sawA++;
    else result.sawB++;
    expect(st.mode & 0o777).toBe(0o600);
    if (readdirSync(dir).some((n) => n.includes('.tmp-'))) result.tempsLeft++;
  }
  // The next writer cleans what the last victim left behind.
  await new AtomicTextFile(file).cleanStaleTemps();
  expect(readdirSync(dir).filter((n) => n.includes('.tmp-'))).toEqual([]);
  return result;
}

describe('AtomicTextFile under kill -9', () => {
  it('200 kills mid-write: always valid JSON holding the old or new set, mode 0600', async () => {
    const results = await Promise.all([0, 1].map((i) => lane(i, 100)));
    const total = results.reduce(
      (s, r) => ({
        kills: s.kills + r.kills,
        sawA: s.sawA + r.sawA,
        sawB: s.sawB + r.sawB,
        tempsLeft: s.tempsLeft + r.tempsLeft,
      }),
      { kills: 0, sawA: 0, sawB: 0, tempsLeft: 0 },
    );
    expect(total.kills).toBe(200);
    // Both sets were seen after kills: the kills really landed between and during writes.
    expect(total.sawA).toBeGreaterThan(0);
    expect(total.sawB).toBeGreaterThan(0);
    // Informative: how often a kill left a temp file behind (cleaned by the next writer).
    console.info(`crash test: ${JSON.stringify(total)}`);
  }, 180_000);
});
