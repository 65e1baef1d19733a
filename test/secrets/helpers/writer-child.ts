/**
 * Child process for the crash tests. argv: <file> <mode> <textA file> <textB file>
 *  mode 'hold':  takes the lock once and rewrites A, B, A, ... forever inside it;
 *  mode 'each':  calls write() (lock, write, unlock) for every rewrite;
 *  mode 'count': N increments of a counter with update() (cross-process lock test);
 *  mode 'lock':  takes the lock and sleeps (lock release on kill -9).
 * Prints "ready" once the first write (or the lock) is done. With BL_WAIT_GO=1 it first
 * waits for a line on stdin, so a test can start it ahead of time.
 */
import { readFileSync } from 'node:fs';
import {
  AtomicJsonFile,
  AtomicTextFile,
  acquireFileLock,
} from '../../../src/secrets/atomic-file.js';

const [file, mode, a, b] = process.argv.slice(2) as [string, string, string, string];
process.umask(0o022);

async function main(): Promise<void> {
  if (mode === 'count') {
    const n = Number(a);
    const db = new AtomicJsonFile<{ count: number; by: number[] }>(file);
    for (let i = 0; i < n; i++) {
      await db.update((cur) => ({
        count: (cur?.count ?? 0) + 1,
        by: [...(cur?.by ?? []), process.pid].slice(-4),
      }));
    }
    process.stdout.write('done\n');
    return;
  }
  if (mode === 'lock') {
    await acquireFileLock(file);
    process.stdout.write('ready\n');
    setInterval(() => {}, 1000);
    return;
  }
  const texts = [readFileSync(a, 'utf8'), readFileSync(b, 'utf8')];
  const f = new AtomicTextFile(file);
  let i = 0;
  if (mode === 'hold') {
    await f.transaction(async (tx) => {
      for (;;) {
        await tx.write(texts[i++ % 2]!);
        if (i === 1) process.stdout.write('ready\n');
      }
    });
  } else {
    for (;;) {
      await f.write(texts[i++ % 2]!);
      if (i === 1) process.stdout.write('ready\n');
    }
  }
}

function start(): void {
  main().catch((e: unknown) => {
    process.stderr.write(`${String(e)}\n`);
    process.exit(3);
  });
}

if (process.env.BL_WAIT_GO === '1') process.stdin.once('data', start);
else start();
