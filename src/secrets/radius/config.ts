/**
 * The `radius` section of config.json (validated like the rest: strict keys, messages that
 * never quote a value) and the shared-secret files it names. A secret lives in its own file,
 * mode 0600 and owned by the service user, checked like the secrets store; a looser file is
 * refused with the command that fixes it.
 */
import { promises as fsp } from 'node:fs';
import { z } from 'zod';
import { isIpv4 } from '../address-spec.js';
import { msg } from '../file-errors.js';
import { checkSecretsPermissions, type PermissionOptions } from '../permissions.js';
import { strict } from '../schema.js';

export const RADIUS_DEFAULTS = {
  authPort: 1812,
  acctPort: 1813,
  timeout: 3,
  retries: 2,
  deadTime: 60,
  interimInterval: 300,
} as const;

function int(min: number, max: number) {
  return z
    .number({ error: msg('must be a whole number') })
    .int({ error: msg('must be a whole number') })
    .min(min, { error: msg(`must be at least ${min}`) })
    .max(max, { error: msg(`must be at most ${max}`) });
}

const bool = () => z.boolean({ error: msg('must be true or false (without quotes)') });

const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

export const RadiusServerSchema = strict({
  host: z
    .string({ error: msg('must be the RADIUS server as a host name or IPv4 address in quotes') })
    .refine((s) => (/^[\d.]+$/.test(s) ? isIpv4(s) : HOSTNAME.test(s)), {
      error: msg('is not a host name or IPv4 address'),
    }),
  authPort: int(1, 65535).default(RADIUS_DEFAULTS.authPort),
  acctPort: int(1, 65535).default(RADIUS_DEFAULTS.acctPort),
  secretFile: z
    .string({ error: msg('must be the path of the file holding the shared secret') })
    .min(1, { error: msg('must not be empty') })
    .refine((s) => s.startsWith('/'), {
      error: msg('must be an absolute path (the shared-secret file, mode 0600)'),
    }),
});

export const RadiusConfigSchema = strict({
  servers: z
    .array(RadiusServerSchema, { error: msg('must be a list of RADIUS servers') })
    .min(1, { error: msg('must list at least one server') })
    .max(8, { error: msg('must list at most 8 servers') }),
  /** Seconds to wait for each reply. */
  timeout: int(1, 60).default(RADIUS_DEFAULTS.timeout),
  /** Retransmissions to one server before trying the next. */
  retries: int(0, 10).default(RADIUS_DEFAULTS.retries),
  /** Seconds a server that did not answer is skipped. */
  deadTime: int(0, 86400).default(RADIUS_DEFAULTS.deadTime),
  /** NAS-Identifier; default the top-level `name`. */
  nasIdentifier: z
    .string({ error: msg('must be a string (the NAS-Identifier)') })
    .min(1, { error: msg('must not be empty') })
    .max(253, { error: msg('must be at most 253 characters') })
    .refine((s) => !CONTROL.test(s), { error: msg('must not contain control characters') })
    .optional(),
  nasIpAddress: z
    .string({ error: msg('must be an IPv4 address in quotes, like "192.0.2.10"') })
    .refine(isIpv4, { error: msg('is not an IPv4 address like "192.0.2.10"') })
    .optional(),
  /** Seconds between Interim-Updates; 0 turns them off. */
  interimInterval: int(0, 86400)
    .refine((n) => n === 0 || n >= 60, {
      error: msg('must be 0 (off) or at least 60 seconds (RFC 2869 §5.16)'),
    })
    .default(RADIUS_DEFAULTS.interimInterval),
  /** What to do when no server answers: refuse ('none') or check the local secrets file. */
  fallback: z.enum(['none', 'local'], { error: msg('must be "none" or "local"') }).default('none'),
  /** Send accounting (Start/Interim-Update/Stop) to the servers' acctPort. */
  accounting: bool().default(true),
  /** Drop Access-Accept/Reject replies without a Message-Authenticator (RFC 3579). */
  requireMessageAuthenticator: bool().default(true),
});

export type RadiusServerConfig = z.output<typeof RadiusServerSchema>;
export type RadiusConfig = z.output<typeof RadiusConfigSchema>;
export type RadiusConfigInput = z.input<typeof RadiusConfigSchema>;

/** RFC 2865 §3 puts no bound on the secret; a longer line than this is surely a wrong file. */
const MAX_SECRET_BYTES = 1024;

/**
 * Reads a shared-secret file: permissions as for the secrets store (0600, our owner, a
 * directory others cannot write), then the content minus one trailing newline. Problems are
 * one line each and never contain the secret.
 */
export async function readSharedSecret(
  file: string,
  options: PermissionOptions = {},
): Promise<{ ok: true; value: Buffer } | { ok: false; error: string }> {
  const perm = await checkSecretsPermissions(file, options);
  if (!perm.ok) {
    return { ok: false, error: `RADIUS shared secret: ${perm.error.reason}` };
  }
  let data: Buffer;
  try {
    data = await fsp.readFile(file);
  } catch (e) {
    return {
      ok: false,
      error: `RADIUS shared secret: ${file} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
    };
  }
  let end = data.length;
  if (end > 0 && data[end - 1] === 0x0a) end--;
  if (end > 0 && data[end - 1] === 0x0d) end--;
  const secret = data.subarray(0, end);
  if (secret.length === 0) return { ok: false, error: `RADIUS shared secret: ${file} is empty` };
  if (secret.length > MAX_SECRET_BYTES) {
    return { ok: false, error: `RADIUS shared secret: ${file} is longer than 1024 bytes` };
  }
  if (secret.includes(0x0a)) {
    return { ok: false, error: `RADIUS shared secret: ${file} holds more than one line` };
  }
  return { ok: true, value: Buffer.from(secret) };
}
