/**
 * The secrets file (`/etc/branchlink/secrets.json`): this router's chap-secrets.
 *
 *   { "version": 1,
 *     "secrets": [ { "client": "alice", "server": "*", "secret": "…", "addresses": "*" } ] }
 *
 * Records mirror pppd's chap-secrets columns (client, server, secret, addresses). A record
 * may hold the NT hash instead of (or beside) the password: MS-CHAP needs only the hash,
 * CHAP-MD5 and PAP need the password. Error messages never quote a value from the file.
 */
import { z } from 'zod';
import { md4 } from '../ppp/crypto/md4.js';
import { ok, type Result } from '../ppp/result.js';
import { isIpv4OrCidr } from './address-spec.js';
import {
  allowedKeysMessage,
  type ConfigError,
  jsonSyntaxError,
  labelledPathRenderer,
  msg,
  parseJsonText,
  printable,
  renderIssues,
} from './file-errors.js';

/** A strict object: unknown keys are errors, reported with a "did you mean" hint. */
export function strict<T extends z.core.$ZodLooseShape>(shape: T) {
  const keys = Object.keys(shape);
  return z.strictObject(shape, {
    error: (iss) => (iss.code === 'unrecognized_keys' ? allowedKeysMessage(keys) : undefined),
  });
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

/** A PPP name (client/server column): 1–255 characters, no control characters. */
export function pppName(what: string) {
  return z
    .string({ error: msg(`must be a string (the ${what} name, or "*" for any)`) })
    .min(1, { error: msg(`must not be empty (use "*" for any ${what})`) })
    .max(255, { error: msg('must be at most 255 characters (a PPP name)') })
    .refine((s) => !CONTROL.test(s), { error: msg('must not contain control characters') });
}

export const NT_HASH_PATTERN = /^[0-9a-fA-F]{32}$/;

const addressEntry = z
  .string({
    error: msg(
      'must be an IPv4 address or CIDR block as a string, like "10.9.0.20" or "10.9.0.0/24"',
    ),
  })
  .refine(isIpv4OrCidr, {
    error: msg('is not an IPv4 address or CIDR block like "10.9.0.20" or "10.9.0.0/24"'),
  });

export const AddressSpecSchema = z.union(
  [
    z.literal('*'),
    z.literal('-'),
    z
      .array(addressEntry)
      .min(1, { error: msg("must list at least one address (use '-' for no IP or '*' for any)") })
      .max(64, { error: msg('must list at most 64 addresses') }),
  ],
  {
    error: msg(`must be "*" (any address), "-" (no IP address) or a list like ["10.9.0.20"]`),
  },
);

export const SecretRecordSchema = strict({
  /** Peer name (pppd chap-secrets column 1); "*" matches any. */
  client: pppName('client'),
  /** Our name (column 2); "*" matches any. */
  server: pppName('server').default('*'),
  /** The shared secret / password. */
  secret: z
    .string({ error: msg('must be a string') })
    .min(1, { error: msg('must not be empty (remove the key to keep only an NT hash)') })
    .max(256, { error: msg('must be at most 256 characters') })
    .optional(),
  /** NT password hash (MD4 of the UTF-16LE password), 32 hex digits: enough for MS-CHAP. */
  ntHash: z
    .string({ error: msg('must be a string of 32 hex digits') })
    .regex(NT_HASH_PATTERN, { error: msg('must be 32 hex digits (MD4 of the UTF-16LE password)') })
    .transform((s) => s.toLowerCase())
    .optional(),
  /** Addresses the peer may use (column 4+). */
  addresses: AddressSpecSchema.default('*'),
  note: z
    .string({ error: msg('must be a string') })
    .max(1000, { error: msg('must be at most 1000 characters') })
    .optional(),
});

export const SecretsFileSchema = strict({
  version: z.literal(1, { error: msg('must be 1 (the only format version so far)') }),
  secrets: z.array(SecretRecordSchema, { error: msg('must be a list of secret records') }),
});

export type SecretRecord = z.output<typeof SecretRecordSchema>;
/** What a user may write (defaults not yet applied). */
export type SecretRecordInput = z.input<typeof SecretRecordSchema>;
export type SecretsFile = z.output<typeof SecretsFileSchema>;

/** NT password hash: MD4 of the password in UTF-16LE (RFC 2759 §8.3 NtPasswordHash). */
export function ntPasswordHash(password: string): Buffer {
  return md4(Buffer.from(password, 'utf16le'));
}

/** Client name to show beside a record's index, only when it is a sane name. */
function clientLabel(input: unknown, index: number): string | undefined {
  if (!input || typeof input !== 'object') return undefined;
  const list = (input as { secrets?: unknown }).secrets;
  if (!Array.isArray(list)) return undefined;
  const rec: unknown = list[index];
  if (!rec || typeof rec !== 'object') return undefined;
  const client = (rec as { client?: unknown }).client;
  if (typeof client !== 'string' || client === '' || CONTROL.test(client)) return undefined;
  return printable(client, 64);
}

/** `secrets[2] (client 'alice').addresses[0]` */
function secretsPathRenderer(input: unknown) {
  return labelledPathRenderer('secrets', 'client', (index) => clientLabel(input, index));
}

/** Validates parsed JSON; checks duplicates and that each record can authenticate someone. */
export function validateSecretsData(
  data: unknown,
  file: string,
): Result<SecretsFile, ConfigError[]> {
  const render = secretsPathRenderer(data);
  const parsed = SecretsFileSchema.safeParse(data);
  if (!parsed.success)
    return err2(renderIssues(parsed.error.issues, { file, input: data, render }));
  const errors: ConfigError[] = [];
  const seen = new Map<string, number>();
  parsed.data.secrets.forEach((rec, i) => {
    const at = render(['secrets', i]);
    if (rec.secret === undefined && rec.ntHash === undefined) {
      errors.push({ file, path: at, message: 'needs "secret" or "ntHash" (or both)' });
    }
    if (rec.secret !== undefined && rec.ntHash !== undefined) {
      if (ntPasswordHash(rec.secret).toString('hex') !== rec.ntHash) {
        errors.push({
          file,
          path: `${at}.ntHash`,
          message: 'does not match "secret" (remove one of them, or fix the one that is wrong)',
        });
      }
    }
    const key = JSON.stringify([rec.client, rec.server]);
    const first = seen.get(key);
    if (first !== undefined) {
      errors.push({
        file,
        path: at,
        message: `duplicate of secrets[${first}]: client and server are the same pair as that record (which one should apply?)`,
      });
    } else seen.set(key, i);
  });
  return errors.length > 0 ? err2(errors) : ok(parsed.data);
}

function err2(errors: ConfigError[]): { ok: false; error: ConfigError[] } {
  return { ok: false, error: errors };
}

/** Parses and validates the text of a secrets file. */
export function parseSecretsFile(text: string, file: string): Result<SecretsFile, ConfigError[]> {
  const json = parseJsonText(text);
  if (!json.ok) return err2([jsonSyntaxError(file, json.problem)]);
  return validateSecretsData(json.value, file);
}

/** The file text the store writes: stable key order, two-space indent, final newline. */
export function serializeSecretsFile(data: SecretsFile): string {
  const secrets = data.secrets.map((r) => {
    const out: Record<string, unknown> = { client: r.client, server: r.server };
    if (r.secret !== undefined) out.secret = r.secret;
    if (r.ntHash !== undefined) out.ntHash = r.ntHash;
    out.addresses = r.addresses;
    if (r.note !== undefined) out.note = r.note;
    return out;
  });
  return `${JSON.stringify({ version: 1, secrets }, null, 2)}\n`;
}

/** Validates one record (CLI add): the same rules as in the file. */
export function validateSecretRecord(
  input: unknown,
  where: string,
): Result<SecretRecord, ConfigError[]> {
  const parsed = SecretRecordSchema.safeParse(input);
  if (!parsed.success) return err2(renderIssues(parsed.error.issues, { file: where, input }));
  if (parsed.data.secret === undefined && parsed.data.ntHash === undefined) {
    return err2([{ file: where, path: '', message: 'needs a secret or an NT hash' }]);
  }
  return ok(parsed.data);
}
