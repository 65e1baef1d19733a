/**
 * The `branchlink secrets ...` and `branchlink config check` commands as functions the
 * commander wiring calls. Each takes explicit paths and streams and returns an exit code,
 * so tests run them without a terminal or a running service.
 *
 * Exit codes: 0 done, 1 refused (invalid file, permissions, not found, conflict),
 * 2 usage error (bad arguments).
 */
import { readFile } from 'node:fs/promises';
import { type Config, describeLink, loadConfig } from '../daemon/config.js';
import { isIpv4OrCidr } from '../secrets/address-spec.js';
import { type ConfigError, formatConfigError } from '../secrets/file-errors.js';
import {
  formatPppdSecrets,
  type PppdSecretsFormat,
  parsePppdSecrets,
} from '../secrets/pppd-secrets.js';
import { ntPasswordHash, type SecretRecord, type SecretRecordInput } from '../secrets/schema.js';
import { SecretStore, type SecretStoreOptions } from '../secrets/store.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** The input side of a terminal or a pipe (process.stdin fits). */
export interface CliInput extends NodeJS.ReadableStream {
  readonly isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
}

export interface CliStreams {
  readonly stdin: CliInput;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

export interface StoreTarget {
  /** The secrets file (default /etc/branchlink/secrets.json, from the config). */
  readonly file: string;
  /** For tests: permission expectations, lock timeout. */
  readonly storeOptions?: SecretStoreOptions;
}

function printErrors(io: CliStreams, errors: readonly ConfigError[]): void {
  for (const e of errors) io.stderr.write(`${formatConfigError(e)}\n`);
}

async function openStore(target: StoreTarget, io: CliStreams): Promise<SecretStore | undefined> {
  const r = await SecretStore.open(target.file, { ...target.storeOptions, watch: false });
  if (!r.ok) {
    printErrors(io, r.error);
    return undefined;
  }
  return r.value;
}

function addressText(a: SecretRecord['addresses']): string {
  return a === '*' ? '*' : a === '-' ? '-' : a.join(' ');
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

// ---------------------------------------------------------------------------------------

export interface SecretsListOptions extends StoreTarget {
  /** Print the secrets too (and NT hashes). Default false. */
  readonly showSecrets?: boolean;
}

/** `secrets list`: client, server, addresses, which kind of secret; the secret only on request. */
export async function secretsList(options: SecretsListOptions, io: CliStreams): Promise<number> {
  const store = await openStore(options, io);
  if (!store) return EXIT_FAILURE;
  const records = store.list();
  if (records.length === 0) {
    io.stdout.write(`no secrets in ${options.file}\n`);
    return EXIT_OK;
  }
  const header = ['CLIENT', 'SERVER', 'ADDRESSES', 'HOLDS'];
  if (options.showSecrets) header.push('SECRET', 'NT HASH');
  header.push('NOTE');
  const rows = [header];
  for (const r of records) {
    const holds =
      r.secret !== undefined && r.ntHash !== undefined
        ? 'password+nt-hash'
        : r.secret !== undefined
          ? 'password'
          : 'nt-hash (MS-CHAP only)';
    const row = [r.client, r.server, addressText(r.addresses), holds];
    if (options.showSecrets) row.push(r.secret ?? '-', r.ntHash ?? '-');
    row.push(r.note ?? '');
    rows.push(row);
  }
  io.stdout.write(`${table(rows)}\n`);
  return EXIT_OK;
}

// ---------------------------------------------------------------------------------------

const MAX_SECRET_INPUT = 64 * 1024;

/** Reads a line from a TTY in raw mode without echo. Undefined on Ctrl-C / Ctrl-D. */
export function readHiddenLine(io: CliStreams, prompt: string): Promise<string | undefined> {
  const input = io.stdin;
  // Echo off first, then the prompt: whatever is typed after the prompt appears stays hidden.
  input.setRawMode?.(true);
  io.stderr.write(prompt);
  input.setEncoding('utf8');
  input.resume();
  return new Promise((resolve) => {
    let chars: string[] = [];
    const finish = (value: string | undefined): void => {
      input.off('data', onData);
      input.off('end', onEnd);
      input.setRawMode?.(false);
      input.pause();
      io.stderr.write('\n');
      resolve(value);
    };
    const onEnd = (): void => finish(undefined);
    const onData = (chunk: string | Buffer): void => {
      for (const ch of String(chunk)) {
        if (ch === '\r' || ch === '\n') return finish(chars.join(''));
        if (ch === '\u0003') return finish(undefined); // Ctrl-C
        if (ch === '\u0004') return finish(chars.length > 0 ? chars.join('') : undefined); // Ctrl-D
        if (ch === '\u0015')
          chars = []; // Ctrl-U
        else if (ch === '\u007f' || ch === '\b') chars.pop();
        else if (ch >= ' ') chars.push(ch);
        if (chars.length > 1024) return finish(undefined);
      }
    };
    input.on('data', onData);
    input.on('end', onEnd);
  });
}

/** Reads all of a non-TTY stdin; one trailing newline is not part of the secret. */
async function readPipedSecret(input: CliInput): Promise<string | { error: string }> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of input) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += b.length;
    if (size > MAX_SECRET_INPUT) return { error: 'the secret on stdin is longer than 64 KiB' };
    parts.push(b);
  }
  let text = Buffer.concat(parts).toString('utf8');
  if (text.endsWith('\r\n')) text = text.slice(0, -2);
  else if (text.endsWith('\n')) text = text.slice(0, -1);
  if (/[\r\n]/.test(text)) return { error: 'the secret on stdin must be a single line' };
  return text;
}

/** The secret from the terminal (asked twice, no echo) or from stdin. */
export async function readSecret(
  io: CliStreams,
  client: string,
): Promise<string | { error: string }> {
  if (io.stdin.isTTY && io.stdin.setRawMode) {
    const first = await readHiddenLine(io, `Secret for ${client}: `);
    if (first === undefined) return { error: 'cancelled' };
    const again = await readHiddenLine(io, 'Again: ');
    if (again === undefined) return { error: 'cancelled' };
    if (first !== again) return { error: 'the two entries differ; nothing was changed' };
    return first;
  }
  return readPipedSecret(io.stdin);
}

export interface SecretsAddOptions extends StoreTarget {
  readonly client: string;
  /** Our name the record applies to; default "*". */
  readonly server?: string;
  /** Addresses the peer may use: none given = "*"; "-" = no IP; else addresses/CIDRs. */
  readonly addresses?: readonly string[];
  /** Store only the NT hash of the secret (serves MS-CHAP only). */
  readonly ntHash?: boolean;
  readonly note?: string;
  /** Replace an existing record for the same client and server. */
  readonly replace?: boolean;
}

function addressSpec(
  list: readonly string[] | undefined,
): SecretRecordInput['addresses'] | { error: string } {
  if (!list || list.length === 0) return '*';
  if (list.length === 1 && (list[0] === '*' || list[0] === '-')) return list[0];
  if (list.includes('*') || list.includes('-')) {
    return { error: '--address "*" or "-" must stand alone' };
  }
  const bad = list.find((a) => !isIpv4OrCidr(a));
  if (bad !== undefined)
    return { error: `--address ${JSON.stringify(bad)} is not an IPv4 address or CIDR block` };
  return [...list];
}

/** `secrets add CLIENT [--server S] [--address A...] [--nt-hash] [--note T] [--replace]` */
export async function secretsAdd(options: SecretsAddOptions, io: CliStreams): Promise<number> {
  const addresses = addressSpec(options.addresses);
  if (typeof addresses === 'object' && !Array.isArray(addresses) && 'error' in addresses) {
    io.stderr.write(`${addresses.error}\n`);
    return EXIT_USAGE;
  }
  const server = options.server ?? '*';
  // Open (and so check permissions and validity) before asking for the secret.
  const store = await openStore(options, io);
  if (!store) return EXIT_FAILURE;
  const secret = await readSecret(io, options.client);
  if (typeof secret !== 'string') {
    io.stderr.write(`${secret.error}\n`);
    return EXIT_FAILURE;
  }
  if (secret === '') {
    io.stderr.write('the secret is empty; nothing was changed\n');
    return EXIT_FAILURE;
  }
  const input: SecretRecordInput = {
    client: options.client,
    server,
    addresses: addresses as SecretRecordInput['addresses'],
    ...(options.ntHash ? { ntHash: ntPasswordHash(secret).toString('hex') } : { secret }),
    ...(options.note !== undefined ? { note: options.note } : {}),
  };
  const r = await store.add(input, { replace: options.replace ?? false });
  if (!r.ok) {
    printErrors(io, r.error);
    return EXIT_FAILURE;
  }
  const kind = options.ntHash ? ', NT hash only: MS-CHAP only' : '';
  io.stdout.write(
    `${options.file}: ${r.value.replaced ? 'replaced' : 'added'} client '${options.client}' (server '${server}', addresses ${addressText(r.value.record.addresses)}${kind})\n`,
  );
  return EXIT_OK;
}

// ---------------------------------------------------------------------------------------

export interface SecretsRemoveOptions extends StoreTarget {
  readonly client: string;
  /** Only the record for this server; default every record of the client. */
  readonly server?: string;
}

/** `secrets remove CLIENT [--server S]` */
export async function secretsRemove(
  options: SecretsRemoveOptions,
  io: CliStreams,
): Promise<number> {
  const store = await openStore(options, io);
  if (!store) return EXIT_FAILURE;
  const r = await store.remove(options.client, options.server);
  if (!r.ok) {
    printErrors(io, r.error);
    return EXIT_FAILURE;
  }
  const servers = r.value.map((x) => `'${x.server}'`).join(', ');
  io.stdout.write(
    `${options.file}: removed ${r.value.length} record${r.value.length === 1 ? '' : 's'} of client '${options.client}' (server ${servers})\n`,
  );
  return EXIT_OK;
}

// ---------------------------------------------------------------------------------------

export interface SecretsImportOptions extends StoreTarget {
  /** The pppd file to read (e.g. /etc/ppp/chap-secrets). */
  readonly from: string;
  readonly format?: PppdSecretsFormat;
  /** Replace records that exist with different contents. */
  readonly replace?: boolean;
}

/** `secrets import FILE [--format chap|pap] [--replace]` */
export async function secretsImport(
  options: SecretsImportOptions,
  io: CliStreams,
): Promise<number> {
  let content: Buffer;
  try {
    content = await readFile(options.from);
  } catch (e) {
    io.stderr.write(
      `${options.from}: cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})\n`,
    );
    return EXIT_FAILURE;
  }
  const parsed = parsePppdSecrets(content, options.from, options.format ?? 'chap');
  if (!parsed.ok) {
    printErrors(io, parsed.error);
    return EXIT_FAILURE;
  }
  printErrors(io, parsed.value.warnings);
  const store = await openStore(options, io);
  if (!store) return EXIT_FAILURE;
  const r = await store.importRecords(parsed.value.records, { replace: options.replace ?? false });
  if (!r.ok) {
    printErrors(io, r.error);
    io.stderr.write('nothing was imported (use --replace to overwrite those records)\n');
    return EXIT_FAILURE;
  }
  const skipped = parsed.value.warnings.filter((w) => w.message.startsWith('skipped')).length;
  io.stdout.write(
    `${options.file}: imported from ${options.from}: ${r.value.added} added, ${r.value.replaced} replaced, ${r.value.unchanged} unchanged${skipped > 0 ? `; ${skipped} entr${skipped === 1 ? 'y' : 'ies'} skipped (see above)` : ''}\n`,
  );
  return EXIT_OK;
}

export interface SecretsExportOptions extends StoreTarget {
  readonly format?: PppdSecretsFormat;
}

/** `secrets export [--format chap|pap]`: the pppd file on stdout; skipped records on stderr. */
export async function secretsExport(
  options: SecretsExportOptions,
  io: CliStreams,
): Promise<number> {
  const store = await openStore(options, io);
  if (!store) return EXIT_FAILURE;
  const out = formatPppdSecrets(
    store.list(),
    options.format ?? 'chap',
    `exported by branchlink from ${options.file}`,
  );
  io.stdout.write(out.text);
  for (const s of out.skipped) {
    io.stderr.write(`skipped client '${s.client}' (server '${s.server}'): ${s.reason}\n`);
  }
  return EXIT_OK;
}

// ---------------------------------------------------------------------------------------

export interface ConfigCheckOptions {
  readonly path: string;
}

/** `config check FILE`: every error with its place, or a summary of the links. */
export function configCheck(options: ConfigCheckOptions, io: CliStreams): number {
  const r = loadConfig(options.path);
  if (!r.ok) {
    printErrors(io, r.error);
    io.stderr.write(`${options.path}: ${r.error.length} error${r.error.length === 1 ? '' : 's'}\n`);
    return EXIT_FAILURE;
  }
  io.stdout.write(`${options.path}: OK\n${summarizeConfig(r.value)}`);
  return EXIT_OK;
}

function summarizeConfig(config: Config): string {
  const lines = [
    `  name ${config.name}, board ${config.board.profile}, secrets ${config.secrets.file}`,
    ...(config.links.length === 0
      ? ['  no links']
      : config.links.map((l) => `  ${describeLink(l)}`)),
  ];
  return `${lines.join('\n')}\n`;
}
