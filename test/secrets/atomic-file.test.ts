import { type ChildProcess, spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Low } from 'lowdb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AtomicJsonFile,
  AtomicTextFile,
  acquireFileLock,
  LockTimeoutError,
} from '../../src/secrets/atomic-file.js';
import { bundleForNode } from './helpers/bundle.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'branchlink-atomic-'));
  dirs.push(d);
  return d;
}

let child: string;
beforeAll(async () => {
  child = await bundleForNode(
    path.join(import.meta.dirname, 'helpers/writer-child.ts'),
    'writer-unit',
  );
}, 60_000);

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  if (child) rmSync(path.dirname(child), { recursive: true, force: true });
});

function run(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [child, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    p.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    p.on('close', (code) => resolve({ code, out, err }));
  });
}

describe('AtomicTextFile', () => {
  it('creates a new file with mode 0600 even under umask 022', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'secrets.json');
    const old = process.umask(0o022);
    try {
      await new AtomicTextFile(file).write('{"version":1,"secrets":[]}\n');
    } finally {
      process.umask(old);
    }
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toBe('{"version":1,"secrets":[]}\n');
  });

  it('keeps a stricter mode (0400) and tightens a looser one (0644) to 0600', async () => {
    const dir = tempDir();
    const strict = path.join(dir, 'a.json');
    const loose = path.join(dir, 'b.json');
    writeFileSync(strict, 'old');
    chmodSync(strict, 0o400);
    writeFileSync(loose, 'old');
    chmodSync(loose, 0o644);
    await new AtomicTextFile(strict).write('new');
    await new AtomicTextFile(loose).write('new');
    expect(statSync(strict).mode & 0o777).toBe(0o400);
    expect(statSync(loose).mode & 0o777).toBe(0o600);
    expect(readFileSync(strict, 'utf8')).toBe('new');
  });

  it.runIf(process.geteuid?.() === 0)(
    'keeps the owner of the file it replaces when run as root',
    async () => {
      const dir = tempDir();
      const file = path.join(dir, 'secrets.json');
      writeFileSync(file, 'old', { mode: 0o600 });
      chownSync(file, 4242, 4343);
      await new AtomicTextFile(file).write('new');
      const st = statSync(file);
      expect([st.uid, st.gid]).toEqual([4242, 4343]);
      expect(st.mode & 0o777).toBe(0o600);
    },
  );

  it('replaces the real file behind a symlink and leaves the link in place', async () => {
    const dir = tempDir();
    const real = path.join(dir, 'real.json');
    const link = path.join(dir, 'secrets.json');
    writeFileSync(real, 'old', { mode: 0o600 });
    symlinkSync(real, link);
    await new AtomicTextFile(link).write('new');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(real, 'utf8')).toBe('new');
  });

  it('removes temp files a crashed writer left, and nothing else', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'secrets.json');
    writeFileSync(file, 'keep', { mode: 0o600 });
    writeFileSync(path.join(dir, '.secrets.json.tmp-99999-abcdef'), 'half a fi');
    writeFileSync(path.join(dir, 'other.json'), 'other');
    const removed = await new AtomicTextFile(file).cleanStaleTemps();
    expect(removed).toEqual(['.secrets.json.tmp-99999-abcdef']);
    expect(readdirSync(dir).sort()).toEqual(['.secrets.json.lock', 'other.json', 'secrets.json']);
    expect(readFileSync(file, 'utf8')).toBe('keep');
  });

  it('serialises concurrent read-modify-write in one process (no lost update)', async () => {
    const dir = tempDir();
    const db = new AtomicJsonFile<{ n: number }>(path.join(dir, 'c.json'));
    await Promise.all(
      Array.from({ length: 40 }, () => db.update((cur) => ({ n: (cur?.n ?? 0) + 1 }))),
    );
    expect(await db.read()).toEqual({ n: 40 });
  });

  it('serialises read-modify-write across processes with the lock (no lost update)', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'c.json');
    const results = await Promise.all([
      run([file, 'count', '30']),
      run([file, 'count', '30']),
      run([file, 'count', '30']),
    ]);
    for (const r of results) expect(r.code, r.err).toBe(0);
    const data = JSON.parse(readFileSync(file, 'utf8')) as { count: number };
    expect(data.count).toBe(90);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  }, 60_000);

  it('times out waiting for a lock another process holds, naming the lock', async () => {
    const dir = tempDir();
    const lock = path.join(dir, '.x.lock');
    const held = await acquireFileLock(lock);
    try {
      await expect(acquireFileLock(lock, { timeoutMs: 200 })).rejects.toBeInstanceOf(
        LockTimeoutError,
      );
      await expect(acquireFileLock(lock, { timeoutMs: 200 })).rejects.toThrow(lock);
    } finally {
      await held.release();
    }
    const again = await acquireFileLock(lock, { timeoutMs: 1000 });
    await again.release();
  });

  it('gets the lock back at once when its holder is killed with SIGKILL', async () => {
    const dir = tempDir();
    const lock = path.join(dir, '.x.lock');
    const p: ChildProcess = spawn(process.execPath, [child, lock, 'lock'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve) => p.stdout!.on('data', () => resolve()));
    await expect(acquireFileLock(lock, { timeoutMs: 100 })).rejects.toBeInstanceOf(
      LockTimeoutError,
    );
    p.kill('SIGKILL');
    await new Promise((r) => p.once('exit', r));
    const held = await acquireFileLock(lock, { timeoutMs: 5000 });
    await held.release();
  });

  it('works as a lowdb adapter (Low.read / Low.write)', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'db.json');
    const db = new Low(new AtomicJsonFile<{ items: string[] }>(file), { items: [] });
    await db.read();
    db.data.items.push('a');
    await db.write();
    const again = new Low(new AtomicJsonFile<{ items: string[] }>(file), { items: [] });
    await again.read();
    expect(again.data).toEqual({ items: ['a'] });
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('returns null for a missing file and leaves no temp file when the write fails', async () => {
    const dir = tempDir();
    const f = new AtomicTextFile(path.join(dir, 'missing', 'x.json'), { lock: false });
    expect(await f.read()).toBeNull();
    await expect(f.write('x')).rejects.toThrow();
    expect(readdirSync(dir)).toEqual([]);
  });
});
