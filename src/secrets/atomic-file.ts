/**
 * A lowdb (v7) adapter that survives a power cut and keeps a secrets file private.
 *
 * lowdb's stock JSONFile writes a temp file and renames it, but the temp file is created
 * with the default mode, so a 0600 file becomes 0644 under umask 022 (measured, see
 * MEASURED.md), and nothing is fsynced. This adapter:
 *
 *  - creates the temp file in the same directory (rename is atomic only within one file
 *    system) with O_CREAT|O_EXCL|O_NOFOLLOW and mode 0600 (or tighter: never looser than
 *    the file it replaces), keeps the owner when run as root;
 *  - writes, fsyncs the file, renames it over the target, fsyncs the directory (so the
 *    rename itself is on disk; ext4 otherwise may lose it on power loss);
 *  - serialises writes inside the process (a promise queue) and across processes with an
 *    advisory lock: flock(2) on `.<name>.lock`, held by a util-linux `flock(1)` child so no
 *    native addon is needed. The kernel drops the lock when its holder dies (kill -9
 *    included: the child sees EOF on its stdin and exits), so there is no stale-lock
 *    guessing;
 *  - removes temp files a crashed writer left behind (any temp present while we hold the
 *    lock belongs to a dead writer, because writers create temps only under the lock).
 *
 * Readers take no lock: they see the old or the new file, never a torn one, thanks to rename.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants, promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Adapter } from 'lowdb';

export interface AtomicFileOptions {
  /** Mode of a newly created file and the loosest mode ever written. Default 0o600. */
  readonly mode?: number;
  /** Take the cross-process flock around writes. Default true. */
  readonly lock?: boolean;
  /** How long to wait for another writer's lock. Default 10 s. */
  readonly lockTimeoutMs?: number;
  /** The flock(1) program. Default 'flock' from PATH (util-linux). */
  readonly flockCommand?: string;
}

export class LockTimeoutError extends Error {
  constructor(
    readonly lockPath: string,
    readonly timeoutMs: number,
  ) {
    super(
      `another writer has held ${lockPath} for more than ${timeoutMs / 1000} s (a 'branchlink secrets' command still running?)`,
    );
    this.name = 'LockTimeoutError';
  }
}

/** A held advisory lock; `release` is idempotent. */
export interface HeldLock {
  release(): Promise<void>;
}

/**
 * Takes an exclusive flock(2) on `lockPath` (created 0600 if missing; never deleted, since
 * deleting a flock file races with the next locker). Resolves when the lock is held.
 */
export async function acquireFileLock(
  lockPath: string,
  options: { timeoutMs?: number; flockCommand?: string } = {},
): Promise<HeldLock> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const fh = await fsp.open(
    lockPath,
    constants.O_CREAT | constants.O_RDWR | constants.O_NOFOLLOW,
    0o600,
  );
  await fh.close();
  // The holder: flock waits for the lock, then runs a shell that says "locked" and then
  // blocks reading its stdin. Closing our end of the pipe (or dying) releases the lock.
  const child = spawn(
    options.flockCommand ?? 'flock',
    [
      '--exclusive',
      '--wait',
      (timeoutMs / 1000).toFixed(3),
      '--conflict-exit-code',
      '75',
      lockPath,
      '/bin/sh',
      '-c',
      'echo locked; exec cat >/dev/null',
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const exited = new Promise<number | null>((resolve) => {
    child.once('close', (code) => resolve(code));
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    let errText = '';
    const onData = (chunk: Buffer): void => {
      out += chunk.toString('utf8');
      if (out.includes('locked\n')) {
        cleanup();
        resolve();
      }
    };
    const onErrData = (chunk: Buffer): void => {
      if (errText.length < 2000) errText += chunk.toString('utf8');
    };
    const onError = (e: NodeJS.ErrnoException): void => {
      cleanup();
      reject(
        e.code === 'ENOENT'
          ? new Error('flock(1) not found: install util-linux (the secrets file lock needs it)')
          : e,
      );
    };
    const onClose = (code: number | null): void => {
      cleanup();
      if (code === 75) reject(new LockTimeoutError(lockPath, timeoutMs));
      else
        reject(
          new Error(
            `flock(1) exited with code ${code} before locking ${lockPath}: ${errText.trim()}`,
          ),
        );
    };
    const cleanup = (): void => {
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onErrData);
      child.off('error', onError);
      child.off('close', onClose);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onErrData);
    child.once('error', onError);
    child.once('close', onClose);
  });
  return lockHandle(child, exited);
}

function lockHandle(child: ChildProcess, exited: Promise<number | null>): HeldLock {
  let released: Promise<void> | undefined;
  // Errors on the pipe after the holder exits must not crash the process.
  child.stdin?.on('error', () => {});
  return {
    release(): Promise<void> {
      released ??= (async () => {
        child.stdin?.end();
        await exited;
      })();
      return released;
    },
  };
}

/** What a transaction sees: the current file and a way to replace it, under the lock. */
export interface AtomicTransaction {
  read(): Promise<string | null>;
  write(text: string): Promise<void>;
}

const TEMP_INFIX = '.tmp-';

function isNotFound(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as NodeJS.ErrnoException).code === 'ENOENT';
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** lowdb adapter for text with atomic, durable, private, serialised writes. */
export class AtomicTextFile implements Adapter<string> {
  readonly filename: string;
  readonly #mode: number;
  readonly #lock: boolean;
  readonly #lockTimeoutMs: number;
  readonly #flockCommand: string | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(filename: string, options: AtomicFileOptions = {}) {
    this.filename = path.resolve(filename);
    this.#mode = (options.mode ?? 0o600) & 0o777;
    this.#lock = options.lock ?? true;
    this.#lockTimeoutMs = options.lockTimeoutMs ?? 10_000;
    this.#flockCommand = options.flockCommand;
  }

  /** The lock file beside the target: `.secrets.json.lock`. */
  get lockPath(): string {
    return path.join(path.dirname(this.filename), `.${path.basename(this.filename)}.lock`);
  }

  async read(): Promise<string | null> {
    try {
      return await fsp.readFile(this.filename, 'utf8');
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  write(text: string): Promise<void> {
    return this.transaction((tx) => tx.write(text));
  }

  /**
   * Runs `fn` with the file locked against every other writer (in this process: the queue;
   * in others: flock). Read-modify-write through `tx` can never lose another writer's change.
   */
  transaction<R>(fn: (tx: AtomicTransaction) => Promise<R> | R): Promise<R> {
    const run = async (): Promise<R> => {
      const held = this.#lock
        ? await acquireFileLock(this.lockPath, {
            timeoutMs: this.#lockTimeoutMs,
            ...(this.#flockCommand ? { flockCommand: this.#flockCommand } : {}),
          })
        : undefined;
      try {
        await this.#removeStaleTemps(held !== undefined);
        return await fn({ read: () => this.read(), write: (text) => this.#writeAtomic(text) });
      } finally {
        await held?.release();
      }
    };
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  /** Removes temp files left by a crashed writer; returns their names. Takes the lock. */
  cleanStaleTemps(): Promise<string[]> {
    return this.transaction(() => this.#lastRemoved);
  }

  #lastRemoved: string[] = [];

  async #removeStaleTemps(locked: boolean): Promise<void> {
    const dir = path.dirname(this.filename);
    const prefix = `.${path.basename(this.filename)}${TEMP_INFIX}`;
    const removed: string[] = [];
    let names: string[];
    try {
      names = await fsp.readdir(dir);
    } catch (e) {
      if (isNotFound(e)) {
        this.#lastRemoved = [];
        return;
      }
      throw e;
    }
    for (const name of names) {
      if (!name.startsWith(prefix)) continue;
      // Name: .<base>.tmp-<pid>-<random>. Under the lock every temp is stale; without it
      // (lock disabled) only temps of processes that no longer exist.
      const pid = Number(name.slice(prefix.length).split('-')[0]);
      if (!locked && Number.isInteger(pid) && pid > 0 && processAlive(pid) && pid !== process.pid)
        continue;
      try {
        await fsp.unlink(path.join(dir, name));
        removed.push(name);
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }
    this.#lastRemoved = removed;
  }

  async #writeAtomic(text: string): Promise<void> {
    // Follow a symlinked target so the rename replaces the real file, not the link.
    let target = this.filename;
    try {
      target = await fsp.realpath(this.filename);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    const dir = path.dirname(target);
    let mode = this.#mode;
    let owner: { uid: number; gid: number } | undefined;
    try {
      const st = await fsp.stat(target);
      // Never looser than the file being replaced, never looser than configured.
      mode = st.mode & 0o777 & this.#mode;
      owner = { uid: st.uid, gid: st.gid };
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    const temp = path.join(
      dir,
      `.${path.basename(target)}${TEMP_INFIX}${process.pid}-${randomBytes(6).toString('hex')}`,
    );
    const fh = await fsp.open(
      temp,
      constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW,
      mode,
    );
    try {
      try {
        // The umask can only have tightened `mode`; set it exactly so the replacement keeps
        // the original's mode (0600 stays 0600, 0400 stays 0400).
        await fh.chmod(mode);
        // Root editing a file owned by the service user must not hand it to root.
        if (owner && process.geteuid?.() === 0) {
          const st = await fh.stat();
          if (st.uid !== owner.uid || st.gid !== owner.gid) await fh.chown(owner.uid, owner.gid);
        }
        await fh.writeFile(text, 'utf8');
        await fh.sync();
      } finally {
        await fh.close();
      }
      await fsp.rename(temp, target);
    } catch (e) {
      await fsp.unlink(temp).catch(() => undefined);
      throw e;
    }
    // fsync the directory so the rename survives a power cut.
    const dh = await fsp.open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  }
}

export interface AtomicJsonFileOptions<T> extends AtomicFileOptions {
  /** Turns file text into data; may throw (lowdb's `read()` then rejects). Default JSON.parse. */
  readonly parse?: (text: string) => T;
  /** Default: two-space JSON with a final newline (friendly to editors and diff). */
  readonly stringify?: (data: T) => string;
}

/** lowdb adapter for JSON data on top of AtomicTextFile. */
export class AtomicJsonFile<T> implements Adapter<T> {
  readonly text: AtomicTextFile;
  readonly #parse: (text: string) => T;
  readonly #stringify: (data: T) => string;

  constructor(filename: string, options: AtomicJsonFileOptions<T> = {}) {
    this.text = new AtomicTextFile(filename, options);
    this.#parse = options.parse ?? ((t) => JSON.parse(t) as T);
    this.#stringify = options.stringify ?? ((d) => `${JSON.stringify(d, null, 2)}\n`);
  }

  async read(): Promise<T | null> {
    const text = await this.text.read();
    return text === null ? null : this.#parse(text);
  }

  write(data: T): Promise<void> {
    return this.text.write(this.#stringify(data));
  }

  /**
   * Read-modify-write under the lock: `fn` gets the current data (null when the file does
   * not exist) and returns the new data, or undefined to leave the file alone.
   */
  update(
    fn: (current: T | null) => T | undefined | Promise<T | undefined>,
  ): Promise<T | undefined> {
    return this.text.transaction(async (tx) => {
      const text = await tx.read();
      const next = await fn(text === null ? null : this.#parse(text));
      if (next !== undefined) await tx.write(this.#stringify(next));
      return next;
    });
  }
}
