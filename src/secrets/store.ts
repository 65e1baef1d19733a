/**
 * SecretStore: the secrets file (lowdb over AtomicJsonFile) as the service and the CLI see it.
 *
 * - open: removes a crashed writer's temp file, checks permissions (ssh-style refusal),
 *   validates; a missing file is an empty set (it may be created later).
 * - lookup follows pppd's rules (auth.c scan_authfile): a record matches when its client
 *   and server equal the names asked for or are "*"; an exact client beats an exact
 *   server beats a wildcard; the first of equally good records wins.
 * - hot reload: the directory is watched (rename-based writes replace the inode, so a
 *   watch on the file itself would go deaf after the first edit); events are debounced;
 *   an invalid edit is refused with its errors while the last good set stays in use.
 * - add/remove/import are read-modify-write under the file lock, so a CLI and a running
 *   service never lose each other's changes; a file that is invalid on disk is never
 *   overwritten by a mutation (the technician's half-finished edit stays theirs to fix).
 */
import { type FSWatcher, watch } from 'node:fs';
import path from 'node:path';
import { Low } from 'lowdb';
import { ok, type Result } from '../ppp/result.js';
import { AtomicJsonFile } from './atomic-file.js';
import type { ConfigError } from './file-errors.js';
import { checkSecretsPermissions, type PermissionOptions } from './permissions.js';
import {
  parseSecretsFile,
  type SecretRecord,
  type SecretRecordInput,
  type SecretsFile,
  serializeSecretsFile,
  validateSecretRecord,
  validateSecretsData,
} from './schema.js';

export type SecretStoreEvent =
  | { readonly type: 'reloaded'; readonly count: number }
  | { readonly type: 'reload-refused'; readonly errors: readonly ConfigError[] };

export interface SecretStoreOptions {
  /** Watch the file for hand edits (the service: true; the CLI: false). Default false. */
  readonly watch?: boolean;
  /** Quiet time after the last change event before reloading. Default 200 ms. */
  readonly debounceMs?: number;
  /** Refuse files readable by others / owned by someone else. Default true. */
  readonly checkPermissions?: boolean;
  readonly permissions?: PermissionOptions;
  /** Wait this long for another writer's lock. Default 10 s. */
  readonly lockTimeoutMs?: number;
  /** Remove a crashed writer's temp file at open (needs write access). Default true. */
  readonly cleanStaleTemps?: boolean;
}

/** Thrown inside the adapter when the file text is invalid; carries the rendered errors. */
export class SecretsFileInvalid extends Error {
  constructor(readonly errors: ConfigError[]) {
    super(errors.map((e) => `${e.file}: ${e.path}: ${e.message}`).join('\n'));
    this.name = 'SecretsFileInvalid';
  }
}

const EMPTY: SecretsFile = { version: 1, secrets: [] };

/** pppd auth.c: NONWILD_SERVER = 1, NONWILD_CLIENT = 2. */
function matchScore(
  rec: SecretRecord,
  client: string | undefined,
  server: string | undefined,
): number {
  let score = 0;
  if (rec.client !== '*') {
    if (client !== undefined && rec.client !== client) return -1;
    score |= 2;
  }
  if (rec.server !== '*') {
    if (server !== undefined && rec.server !== server) return -1;
    score |= 1;
  }
  return score;
}

/** The best record for (client, server) by pppd's rules; undefined name = any. */
export function lookupSecret(
  records: readonly SecretRecord[],
  client: string | undefined,
  server: string | undefined,
): SecretRecord | undefined {
  let best: SecretRecord | undefined;
  let bestScore = -1;
  for (const rec of records) {
    const s = matchScore(rec, client, server);
    if (s > bestScore) {
      best = rec;
      bestScore = s;
    }
  }
  return best;
}

function errs(errors: ConfigError[]): { ok: false; error: ConfigError[] } {
  return { ok: false, error: errors };
}

export interface ImportSummary {
  readonly added: number;
  readonly replaced: number;
  readonly unchanged: number;
}

export class SecretStore {
  /** The path as the user gave it (used in messages). */
  readonly file: string;
  readonly #adapter: AtomicJsonFile<SecretsFile>;
  readonly #db: Low<SecretsFile>;
  readonly #options: SecretStoreOptions;
  readonly #listeners = new Set<(e: SecretStoreEvent) => void>();
  /** Canonical text of the set in use (null before any file was seen). */
  #lastText: string | null = null;
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #reloading: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(file: string, options: SecretStoreOptions) {
    this.file = file;
    this.#options = options;
    this.#adapter = new AtomicJsonFile<SecretsFile>(file, {
      parse: (text) => {
        const r = parseSecretsFile(text, file);
        if (!r.ok) throw new SecretsFileInvalid(r.error);
        return r.value;
      },
      stringify: serializeSecretsFile,
      ...(options.lockTimeoutMs !== undefined ? { lockTimeoutMs: options.lockTimeoutMs } : {}),
    });
    this.#db = new Low<SecretsFile>(this.#adapter, { version: 1, secrets: [] });
  }

  /**
   * Opens the store. Errors name the file and what is wrong (permissions with the fix
   * command, validation with the place); a missing file opens as an empty set.
   */
  static async open(
    file: string,
    options: SecretStoreOptions = {},
  ): Promise<Result<SecretStore, ConfigError[]>> {
    const store = new SecretStore(file, options);
    if (options.cleanStaleTemps ?? true) {
      // Best effort: a read-only user (e.g. `secrets list` without root) cannot and need not.
      await store.#adapter.text.cleanStaleTemps().catch(() => undefined);
    }
    const loaded = await store.#load();
    if (!loaded.ok) return loaded;
    if (options.watch) {
      const watching = store.#startWatch();
      if (!watching.ok) return watching;
    }
    return ok(store);
  }

  /** Subscribes to reload events; returns the unsubscribe function. */
  on(listener: (e: SecretStoreEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get size(): number {
    return this.#db.data.secrets.length;
  }

  /** All records in file order (copies). */
  list(): SecretRecord[] {
    return structuredClone(this.#db.data.secrets);
  }

  /** pppd's best match for (client, server); an undefined name matches any record. */
  lookup(client: string | undefined, server: string | undefined): SecretRecord | undefined {
    return lookupSecret(this.#db.data.secrets, client, server);
  }

  /** Re-reads the file now (the watcher calls this). Invalid → refused, last good set kept. */
  reload(): Promise<Result<number, ConfigError[]>> {
    const run = async (): Promise<Result<number, ConfigError[]>> => {
      const r = await this.#load();
      return r.ok ? ok(this.size) : r;
    };
    const p = this.#reloading.then(run, run);
    this.#reloading = p.catch(() => undefined);
    return p;
  }

  /** Adds a record; with `replace`, an existing record for the same client and server is replaced. */
  add(
    input: SecretRecordInput,
    options: { replace?: boolean } = {},
  ): Promise<Result<{ record: SecretRecord; replaced: boolean }, ConfigError[]>> {
    const v = validateSecretRecord(input, this.file);
    if (!v.ok) return Promise.resolve(v);
    const record = v.value;
    let replaced = false;
    return this.#mutate((current) => {
      const idx = current.secrets.findIndex(
        (r) => r.client === record.client && r.server === record.server,
      );
      if (idx >= 0 && !options.replace) {
        return errs([
          {
            file: this.file,
            path: `secrets[${idx}]`,
            message: `a record for client '${record.client}' and server '${record.server}' exists already (remove it first, or replace it)`,
          },
        ]);
      }
      const secrets = [...current.secrets];
      if (idx >= 0) {
        secrets[idx] = record;
        replaced = true;
      } else secrets.push(record);
      return ok({ version: 1, secrets });
    }).then((r) => (r.ok ? ok({ record, replaced }) : r));
  }

  /** Removes the records of `client` (only the one for `server` when given); returns them. */
  remove(client: string, server?: string): Promise<Result<SecretRecord[], ConfigError[]>> {
    let removed: SecretRecord[] = [];
    return this.#mutate((current) => {
      removed = current.secrets.filter(
        (r) => r.client === client && (server === undefined || r.server === server),
      );
      if (removed.length === 0) {
        return errs([
          {
            file: this.file,
            path: '',
            message:
              server === undefined
                ? `no record for client '${client}'`
                : `no record for client '${client}' and server '${server}'`,
          },
        ]);
      }
      return ok({ version: 1, secrets: current.secrets.filter((r) => !removed.includes(r)) });
    }).then((r) => (r.ok ? ok(removed) : r));
  }

  /**
   * Adds many records at once (pppd import) in one locked write. Identical records are
   * left alone; a record whose (client, server) exists with other contents is a conflict
   * unless `replace`.
   */
  importRecords(
    records: readonly SecretRecord[],
    options: { replace?: boolean } = {},
  ): Promise<Result<ImportSummary, ConfigError[]>> {
    let summary: ImportSummary = { added: 0, replaced: 0, unchanged: 0 };
    return this.#mutate((current) => {
      const secrets = [...current.secrets];
      const conflicts: ConfigError[] = [];
      let added = 0;
      let replaced = 0;
      let unchanged = 0;
      for (const rec of records) {
        const idx = secrets.findIndex((r) => r.client === rec.client && r.server === rec.server);
        if (idx < 0) {
          secrets.push(rec);
          added++;
        } else if (sameRecord(secrets[idx]!, rec)) unchanged++;
        else if (options.replace) {
          secrets[idx] = rec;
          replaced++;
        } else {
          conflicts.push({
            file: this.file,
            path: `secrets[${idx}]`,
            message: `client '${rec.client}' (server '${rec.server}') exists already with a different secret or addresses`,
          });
        }
      }
      if (conflicts.length > 0) return errs(conflicts);
      summary = { added, replaced, unchanged };
      return ok({ version: 1, secrets });
    }).then((r) => (r.ok ? ok(summary) : r));
  }

  /** Stops watching. The store keeps answering lookups with what it has. */
  close(): void {
    this.#closed = true;
    this.#watcher?.close();
    this.#watcher = undefined;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async #checkPermissions(): Promise<Result<boolean, ConfigError[]>> {
    if (!(this.#options.checkPermissions ?? true)) return ok(true);
    const p = await checkSecretsPermissions(this.file, this.#options.permissions);
    if (p.ok) return ok(true);
    if (p.error.kind === 'missing') return ok(false);
    return errs([{ file: this.file, path: '', message: p.error.reason }]);
  }

  /** Loads the file into memory, or explains why not (and keeps the last good set). */
  async #load(): Promise<Result<void, ConfigError[]>> {
    const perm = await this.#checkPermissions();
    if (!perm.ok) return this.#refuse(perm.error);
    let data: SecretsFile | null;
    try {
      // What lowdb's Low.read() does, minus its "keep old data on null" rule: a vanished
      // file must be told apart from an empty one.
      data = await this.#adapter.read();
    } catch (e) {
      if (e instanceof SecretsFileInvalid) return this.#refuse(e.errors);
      const code = (e as NodeJS.ErrnoException).code ?? 'error';
      return this.#refuse([{ file: this.file, path: '', message: `cannot be read: ${code}` }]);
    }
    if (data === null) {
      if (this.#lastText === null) {
        // Never had a file: an empty set, not an error (the CLI creates it on first add).
        this.#db.data = EMPTY;
        return ok(undefined);
      }
      return this.#refuse([
        {
          file: this.file,
          path: '',
          message: `the file has disappeared; still using the last ${this.size} secrets (to remove every secret, write "secrets": [])`,
        },
      ]);
    }
    // Our own writes wake the watcher too: only a real change is news.
    const text = serializeSecretsFile(data);
    if (text === this.#lastText) return ok(undefined);
    this.#db.data = data;
    this.#lastText = text;
    this.#emit({ type: 'reloaded', count: this.size });
    return ok(undefined);
  }

  #refuse(errors: ConfigError[]): { ok: false; error: ConfigError[] } {
    this.#emit({ type: 'reload-refused', errors });
    return errs(errors);
  }

  async #mutate(
    change: (current: SecretsFile) => Result<SecretsFile, ConfigError[]>,
  ): Promise<Result<void, ConfigError[]>> {
    const perm = await this.#checkPermissions();
    if (!perm.ok) return perm;
    let failure: ConfigError[] | undefined;
    try {
      const next = await this.#adapter.update((current) => {
        const r = change(current ?? EMPTY);
        if (!r.ok) {
          failure = r.error;
          return undefined;
        }
        const v = validateSecretsData(r.value, this.file);
        if (!v.ok) {
          failure = v.error;
          return undefined;
        }
        return v.value;
      });
      if (failure) return errs(failure);
      if (next) {
        this.#db.data = next;
        this.#lastText = serializeSecretsFile(next);
        this.#emit({ type: 'reloaded', count: this.size });
      }
      return ok(undefined);
    } catch (e) {
      if (e instanceof SecretsFileInvalid) {
        return errs([
          {
            file: this.file,
            path: '',
            message:
              'is invalid on disk; fix it (or move it away) before changing it with the CLI:',
          },
          ...e.errors,
        ]);
      }
      return errs([
        { file: this.file, path: '', message: `cannot be written: ${(e as Error).message}` },
      ]);
    }
  }

  #startWatch(): Result<void, ConfigError[]> {
    const dir = path.dirname(path.resolve(this.file));
    const base = path.basename(this.file);
    try {
      this.#watcher = watch(dir, { persistent: false }, (_event, filename) => {
        if (filename !== null && filename !== base) return;
        this.#schedule();
      });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'error';
      return errs([
        {
          file: this.file,
          path: '',
          message: `cannot watch its directory ${dir} (${code}); create the directory first`,
        },
      ]);
    }
    this.#watcher.on('error', () => {
      // The directory went away; keep the last good set (reload() still works on demand).
    });
    return ok(undefined);
  }

  #schedule(): void {
    if (this.#closed) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.reload();
    }, this.#options.debounceMs ?? 200);
  }

  #emit(e: SecretStoreEvent): void {
    for (const l of this.#listeners) l(e);
  }
}

function sameRecord(a: SecretRecord, b: SecretRecord): boolean {
  return (
    serializeSecretsFile({ version: 1, secrets: [a] }) ===
    serializeSecretsFile({ version: 1, secrets: [b] })
  );
}
