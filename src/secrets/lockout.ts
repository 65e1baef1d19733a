/**
 * Repeated authentication failures lock a peer out for a while: counted per peer name
 * and per source (IP address or tty), so neither guessing one user's password from many
 * places nor guessing many users from one place goes on for long.
 *
 * Time is injected (milliseconds); memory is bounded (each table keeps at most
 * `maxEntries` keys, least recently used first out, locked entries evicted last).
 */

export interface LockoutOptions {
  /** Failures that lock a key out. Default 5. */
  readonly failures?: number;
  /** Lock duration, and how long a failure is remembered. Default 300 s. */
  readonly seconds?: number;
  /** Keys per table (names, sources). Default 4096. */
  readonly maxEntries?: number;
  /** Clock in milliseconds. Default Date.now. */
  readonly now?: () => number;
}

export type LockoutKeyKind = 'peer' | 'source';

export type LockoutEvent =
  | {
      readonly type: 'locked-out';
      readonly by: LockoutKeyKind;
      readonly peer: string;
      readonly source: string;
      readonly failures: number;
      /** Epoch ms when the lock ends. */
      readonly until: number;
    }
  | { readonly type: 'lockout-released'; readonly by: LockoutKeyKind; readonly key: string };

export type LockoutStatus =
  | { readonly locked: false }
  | {
      readonly locked: true;
      readonly by: LockoutKeyKind;
      readonly key: string;
      readonly until: number;
    };

interface Entry {
  failures: number;
  lastFailure: number;
  lockedUntil: number;
}

/** Longest key kept (PPP names are at most 255 bytes; a longer key is an attack, not a user). */
const MAX_KEY = 256;

class Table {
  readonly #map = new Map<string, Entry>();
  constructor(readonly max: number) {}

  get size(): number {
    return this.#map.size;
  }

  get(key: string): Entry | undefined {
    return this.#map.get(key);
  }

  touch(key: string, entry: Entry, now: number): void {
    this.#map.delete(key);
    this.#map.set(key, entry);
    if (this.#map.size > this.max) this.#evict(now);
  }

  delete(key: string): boolean {
    return this.#map.delete(key);
  }

  entries(): IterableIterator<[string, Entry]> {
    return this.#map.entries();
  }

  #evict(now: number): void {
    // Oldest unlocked entry first: flooding the table with new names must not free a
    // locked-out attacker. Only when everything is locked does the oldest lock go.
    for (const [k, e] of this.#map) {
      if (e.lockedUntil <= now) {
        this.#map.delete(k);
        return;
      }
    }
    const oldest = this.#map.keys().next();
    if (!oldest.done) this.#map.delete(oldest.value);
  }
}

export class Lockout {
  readonly failures: number;
  readonly durationMs: number;
  readonly #now: () => number;
  readonly #peers: Table;
  readonly #sources: Table;
  readonly #listeners = new Set<(e: LockoutEvent) => void>();

  constructor(options: LockoutOptions = {}) {
    this.failures = Math.max(1, Math.floor(options.failures ?? 5));
    this.durationMs = Math.max(0, (options.seconds ?? 300) * 1000);
    this.#now = options.now ?? Date.now;
    const max = Math.max(1, Math.floor(options.maxEntries ?? 4096));
    this.#peers = new Table(max);
    this.#sources = new Table(max);
  }

  /** Subscribes to lock/release events; returns the unsubscribe function. */
  on(listener: (e: LockoutEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Number of remembered keys (both tables), for status and tests of the memory bound. */
  get size(): number {
    return this.#peers.size + this.#sources.size;
  }

  /** Is this peer name or this source locked out right now? */
  check(peer: string, source: string): LockoutStatus {
    const now = this.#now();
    const p = this.#status('peer', this.#peers, key(peer), now);
    if (p.locked) return p;
    if (source === '') return p;
    return this.#status('source', this.#sources, key(source), now);
  }

  /** Counts a failure against the name and the source; returns the status afterwards. */
  recordFailure(peer: string, source: string): LockoutStatus {
    const now = this.#now();
    const a = this.#fail('peer', this.#peers, key(peer), peer, source, now);
    const b =
      source === ''
        ? undefined
        : this.#fail('source', this.#sources, key(source), peer, source, now);
    return a ?? b ?? { locked: false };
  }

  /** A success clears the name's and the source's counts. */
  recordSuccess(peer: string, source: string): void {
    this.#peers.delete(key(peer));
    if (source !== '') this.#sources.delete(key(source));
  }

  /** Current locks (for status output). */
  active(): { by: LockoutKeyKind; key: string; until: number }[] {
    const now = this.#now();
    const out: { by: LockoutKeyKind; key: string; until: number }[] = [];
    for (const [by, table] of [
      ['peer', this.#peers],
      ['source', this.#sources],
    ] as const) {
      for (const [k, e] of table.entries())
        if (e.lockedUntil > now) out.push({ by, key: k, until: e.lockedUntil });
    }
    return out;
  }

  /** Earliest moment a lock ends (so a driver can schedule `sweep`), or undefined. */
  nextRelease(): number | undefined {
    const now = this.#now();
    let next: number | undefined;
    for (const table of [this.#peers, this.#sources]) {
      for (const [, e] of table.entries()) {
        if (e.lockedUntil > now && (next === undefined || e.lockedUntil < next))
          next = e.lockedUntil;
      }
    }
    return next;
  }

  /** Releases expired locks now, emitting `lockout-released` for each; drops stale counts. */
  sweep(): void {
    const now = this.#now();
    for (const [by, table] of [
      ['peer', this.#peers],
      ['source', this.#sources],
    ] as const) {
      const expired: string[] = [];
      for (const [k, e] of table.entries()) {
        if (e.lockedUntil !== 0 && e.lockedUntil <= now) expired.push(k);
        else if (e.lockedUntil === 0 && now - e.lastFailure > this.durationMs) table.delete(k);
      }
      for (const k of expired) this.#release(by, table, k);
    }
  }

  #status(by: LockoutKeyKind, table: Table, k: string, now: number): LockoutStatus {
    const e = table.get(k);
    if (!e || e.lockedUntil === 0) return { locked: false };
    if (e.lockedUntil > now) return { locked: true, by, key: k, until: e.lockedUntil };
    this.#release(by, table, k);
    return { locked: false };
  }

  #release(by: LockoutKeyKind, table: Table, k: string): void {
    table.delete(k);
    this.#emit({ type: 'lockout-released', by, key: k });
  }

  #fail(
    by: LockoutKeyKind,
    table: Table,
    k: string,
    peer: string,
    source: string,
    now: number,
  ): LockoutStatus | undefined {
    let e = table.get(k);
    if (e && e.lockedUntil !== 0) {
      if (e.lockedUntil > now) return { locked: true, by, key: k, until: e.lockedUntil };
      // Lock expired: start counting afresh.
      this.#release(by, table, k);
      e = undefined;
    }
    // A failure older than the lock duration is forgotten.
    if (!e || now - e.lastFailure > this.durationMs)
      e = { failures: 0, lastFailure: now, lockedUntil: 0 };
    e.failures += 1;
    e.lastFailure = now;
    if (e.failures >= this.failures) {
      e.lockedUntil = now + this.durationMs;
      table.touch(k, e, now);
      this.#emit({
        type: 'locked-out',
        by,
        peer: key(peer),
        source: key(source),
        failures: e.failures,
        until: e.lockedUntil,
      });
      return { locked: true, by, key: k, until: e.lockedUntil };
    }
    table.touch(k, e, now);
    return undefined;
  }

  #emit(e: LockoutEvent): void {
    for (const l of this.#listeners) l(e);
  }
}

function key(text: string): string {
  return text.length > MAX_KEY ? text.slice(0, MAX_KEY) : text;
}
