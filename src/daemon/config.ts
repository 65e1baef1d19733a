/**
 * The configuration file (`/etc/branchlink/config.json`): board and LEDs, secrets,
 * control socket, logging and the links. Validated with zod: unknown keys are errors (a
 * typo must not be silently ignored), and every error reads `FILE: path.to.field: what is
 * wrong`. Values from the file are never quoted in messages (a chat script may hold an
 * ISP password).
 *
 * Parsing runs in three steps so each error is as precise as possible:
 *  1. JSON syntax (line and column);
 *  2. the top level, then each link by its (type, role), so a PPTP server's keys are
 *     checked against the PPTP server schema and not against a union of everything;
 *  3. cross-field rules (unique names, backupFor targets, pools, MPPE policy, ...).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { AuthMethod } from '../ppp/events.js';
import { MPPE_POLICY_TOKENS } from '../ppp/mppe-option.js';
import { ok, type Result } from '../ppp/result.js';
import { isIpv4, parseCidr, parseIpv4, parsePool } from '../secrets/address-spec.js';
import {
  type ConfigError,
  jsonSyntaxError,
  labelledPathRenderer,
  msg,
  parseJsonText,
  printable,
  renderIssues,
} from '../secrets/file-errors.js';
import { RadiusConfigSchema } from '../secrets/radius/config.js';
import { strict } from '../secrets/schema.js';

export type { ConfigError } from '../secrets/file-errors.js';
export { formatConfigError } from '../secrets/file-errors.js';

export const DEFAULT_CONFIG_PATH = '/etc/branchlink/config.json';

// ---------------------------------------------------------------------------------------
// Building blocks

export const AUTH_METHODS = [
  'mschap-v2',
  'mschap',
  'chap-md5',
  'pap',
] as const satisfies readonly AuthMethod[];

/** pppd 2.4.9 spellings (MEASURED.md: it rejects `mppe required,stateless`). */
export const MPPE_TOKENS = MPPE_POLICY_TOKENS;
export type MppeToken = (typeof MPPE_TOKENS)[number];

/** Methods we accept when a peer authenticates us, unless configured: all but cleartext PAP. */
export const DEFAULT_ALLOW: readonly AuthMethod[] = ['mschap-v2', 'mschap', 'chap-md5'];

export const DEFAULT_FAILOVER = { downSeconds: 30, upSeconds: 60 } as const;

function int(min: number, max: number) {
  return z
    .number()
    .int({ error: msg('must be a whole number') })
    .min(min, { error: msg(`must be at least ${min}`) })
    .max(max, { error: msg(`must be at most ${max}`) });
}

const bool = () => z.boolean({ error: msg('must be true or false (without quotes)') });

const ipv4 = () =>
  z
    .string({ error: msg('must be an IPv4 address in quotes, like "10.9.0.1"') })
    .refine(isIpv4, { error: msg('is not an IPv4 address like "10.9.0.1"') });

const cidr = () =>
  z
    .string({ error: msg('must be a CIDR block in quotes, like "192.168.10.0/24"') })
    .refine((s) => s.includes('/') && parseCidr(s) !== undefined, {
      error: msg('is not a CIDR block like "192.168.10.0/24"'),
    });

const absPath = (what: string) =>
  z
    .string({ error: msg(`must be ${what} as a string`) })
    .min(1, { error: msg('must not be empty') })
    .refine((s) => s.startsWith('/'), { error: msg(`must be an absolute path (${what})`) });

// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

const pppNameText = (what: string) =>
  z
    .string({ error: msg(`must be a string (${what})`) })
    .min(1, { error: msg('must not be empty') })
    .max(255, { error: msg('must be at most 255 characters') })
    .refine((s) => !CONTROL.test(s), { error: msg('must not contain control characters') });

const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

const host = () =>
  z
    .string({ error: msg('must be a host name or IPv4 address in quotes') })
    .refine((s) => (/^[\d.]+$/.test(s) ? isIpv4(s) : HOSTNAME.test(s)), {
      error: msg('is not a host name or IPv4 address'),
    });

const methods = () =>
  z
    .array(
      z.enum(AUTH_METHODS, {
        error: msg('must be one of "mschap-v2", "mschap", "chap-md5", "pap"'),
      }),
      { error: msg('must be a list like ["mschap-v2"] ([] for none)') },
    )
    .refine((list) => new Set(list).size === list.length, { error: msg('lists a method twice') });

export const LINK_NAME = /^[a-z0-9-]{1,32}$/;
const linkName = () =>
  z
    .string({ error: msg('must be a link name as a string') })
    .regex(LINK_NAME, { error: msg('must be 1 to 32 characters of a-z, 0-9 and "-"') });

const port = () => int(1, 65535);

// ---------------------------------------------------------------------------------------
// PPP options (pppd's names where pppd has one)

interface PppDefaults {
  readonly mru: number;
  readonly require: readonly AuthMethod[];
}

function pppSchema(d: PppDefaults) {
  return strict({
    /** pppd `user`: our name when the peer authenticates us. */
    user: pppNameText('our name when authenticated').optional(),
    /** pppd `remotename`: the peer's name, to pick the secret. */
    remotename: pppNameText("the peer's name").optional(),
    require: methods().default([...d.require]),
    allow: methods().default([...DEFAULT_ALLOW]),
    mppe: z
      .array(
        z.enum(MPPE_TOKENS, {
          error: msg(`must be one of ${MPPE_TOKENS.map((t) => `"${t}"`).join(', ')}`),
        }),
        { error: msg('must be a list of pppd MPPE options like ["require-mppe-128"]') },
      )
      .optional(),
    mru: int(128, 16384).default(d.mru),
    mtu: int(128, 16384).optional(),
    asyncmap: int(0, 0xffffffff).default(0),
    localAddress: ipv4().optional(),
    remoteAddress: ipv4().optional(),
    dns: z
      .array(ipv4(), { error: msg('must be a list of up to two IPv4 addresses') })
      .max(2, { error: msg('must list at most two servers (ms-dns 1 and 2)') })
      .default([]),
    usepeerdns: bool().default(false),
    defaultroute: bool().default(false),
    routes: z.array(cidr(), { error: msg('must be a list of CIDR blocks') }).default([]),
    lcpEchoInterval: int(0, 3600).default(30),
    lcpEchoFailure: int(0, 1000).default(4),
    chapInterval: int(0, 86400).default(0),
    lcpRestart: int(1, 60).default(3),
    lcpMaxConfigure: int(1, 1000).default(10),
    lcpMaxTerminate: int(1, 1000).default(3),
    lcpMaxFailure: int(1, 1000).default(5),
    debug: bool().default(false),
    capture: absPath('a path for the pcap capture file').optional(),
  })
    .prefault({})
    .transform((p) => ({
      ...p,
      // Default MPPE policy: 128-bit required when MS-CHAPv2 (which yields the keys) is
      // demanded or accepted; nothing otherwise.
      mppe:
        p.mppe ??
        (p.require.includes('mschap-v2') || p.allow.includes('mschap-v2')
          ? (['require-mppe-128'] as MppeToken[])
          : ([] as MppeToken[])),
    }));
}

function commonShape(d: PppDefaults) {
  return {
    name: linkName(),
    enabled: bool().default(true),
    ppp: pppSchema(d),
    persist: bool().default(true),
    holdoff: int(0, 3600).default(5),
    maxfail: int(0, 1_000_000).default(0),
    backoffMax: int(0, 86400).default(300),
    backupFor: linkName().optional(),
    failover: strict({
      downSeconds: int(1, 86400).default(DEFAULT_FAILOVER.downSeconds),
      upSeconds: int(1, 86400).default(DEFAULT_FAILOVER.upSeconds),
    }).optional(),
  };
}

const DIAL_NUMBER = /^[0-9*#,+ ()WwPpTt!@-]{1,64}$/;

export const DialLinkSchema = strict({
  type: z.literal('dialup'),
  role: z.literal('dial'),
  ...commonShape({ mru: 1500, require: [] }),
  device: absPath('the serial device, like "/dev/ttyUSB0"'),
  speed: int(300, 4_000_000).default(115200),
  modem: bool().default(true),
  number: z
    .string({ error: msg("is required for role 'dial': the number to dial, in quotes") })
    .regex(DIAL_NUMBER, {
      error: msg('may contain only digits, spaces and the dial modifiers * # , + ( ) - W P T ! @'),
    })
    .optional(),
  init: z
    .array(z.string({ error: msg('must be an AT command string') }).max(256), {
      error: msg('must be a list of AT command strings'),
    })
    .optional(),
  chat: z
    .string({ error: msg('must be a chat(8) script as one string') })
    .max(65536)
    .optional(),
  dialPrefix: z
    .enum(['ATDT', 'ATDP'], { error: msg('must be "ATDT" (tone) or "ATDP" (pulse)') })
    .default('ATDT'),
}).superRefine((link, ctx) => {
  // A direct serial line (null-modem cable) dials nothing.
  if (link.modem && link.number === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['number'],
      message: msg(
        'is required for role \'dial\': the number to dial, in quotes (or "modem": false for a direct line)',
      ),
    });
  }
});

export const AnswerLinkSchema = strict({
  type: z.literal('dialup'),
  role: z.literal('answer'),
  ...commonShape({ mru: 1500, require: ['mschap-v2'] }),
  modem: bool().default(true),
  device: absPath('the serial device, like "/dev/ttyUSB0"'),
  speed: int(300, 4_000_000).default(115200),
  init: z
    .array(z.string({ error: msg('must be an AT command string') }).max(256), {
      error: msg('must be a list of AT command strings'),
    })
    .optional(),
  chat: z
    .string({ error: msg('must be a chat(8) script as one string') })
    .max(65536)
    .optional(),
  answer: strict({
    mode: z
      .enum(['ring', 'auto'], {
        error: msg('must be "ring" (ATA after rings) or "auto" (modem auto-answer, ATS0)'),
      })
      .default('ring'),
    rings: int(1, 255).default(1),
  }).prefault({}),
});

export const PptpClientLinkSchema = strict({
  type: z.literal('pptp'),
  role: z.literal('client'),
  ...commonShape({ mru: 1400, require: [] }),
  server: host(),
  port: port().default(1723),
});

export const PptpServerLinkSchema = strict({
  type: z.literal('pptp'),
  role: z.literal('server'),
  ...commonShape({ mru: 1400, require: ['mschap-v2'] }),
  listen: ipv4().default('0.0.0.0'),
  port: port().default(1723),
  pool: z
    .string({
      error: msg(
        'is required for a PPTP server: the client address range, like "10.9.0.10-10.9.0.100" or "10.9.0.0/24"',
      ),
    })
    .superRefine((s, ctx) => {
      const p = parsePool(s);
      if (!p.ok) ctx.addIssue({ code: 'custom', message: msg(p.reason) });
    }),
  maxConnections: int(1, 10000).default(100),
  maxCallsPerConnection: int(1, 1000).default(1),
  maxHalfOpen: int(1, 10000).default(16),
  handshakeTimeout: int(1, 600).default(30),
});

export type PppOptions = z.output<ReturnType<typeof pppSchema>>;
export type DialLinkConfig = z.output<typeof DialLinkSchema>;
export type AnswerLinkConfig = z.output<typeof AnswerLinkSchema>;
export type PptpClientLinkConfig = z.output<typeof PptpClientLinkSchema>;
export type PptpServerLinkConfig = z.output<typeof PptpServerLinkSchema>;
export type DialupLinkConfig = DialLinkConfig | AnswerLinkConfig;
export type PptpLinkConfig = PptpClientLinkConfig | PptpServerLinkConfig;
export type LinkConfig = DialupLinkConfig | PptpLinkConfig;
export type LinkType = LinkConfig['type'];
export type LinkRole = LinkConfig['role'];
export type FailoverConfig = NonNullable<LinkConfig['failover']>;

const LINK_SCHEMAS = {
  dialup: { dial: DialLinkSchema, answer: AnswerLinkSchema },
  pptp: { client: PptpClientLinkSchema, server: PptpServerLinkSchema },
} as const;

/** Keys that belong to one role only: a clear message instead of "unknown key". */
const ROLE_ONLY_KEYS: Record<string, { type: LinkType; role: LinkRole }> = {
  number: { type: 'dialup', role: 'dial' },
  dialPrefix: { type: 'dialup', role: 'dial' },
  answer: { type: 'dialup', role: 'answer' },
  device: { type: 'dialup', role: 'dial' },
  speed: { type: 'dialup', role: 'dial' },
  init: { type: 'dialup', role: 'dial' },
  chat: { type: 'dialup', role: 'dial' },
  server: { type: 'pptp', role: 'client' },
  listen: { type: 'pptp', role: 'server' },
  pool: { type: 'pptp', role: 'server' },
  maxConnections: { type: 'pptp', role: 'server' },
  maxCallsPerConnection: { type: 'pptp', role: 'server' },
  maxHalfOpen: { type: 'pptp', role: 'server' },
  handshakeTimeout: { type: 'pptp', role: 'server' },
};

const pin = () => int(0, 27);

export const ConfigFileSchema = strict({
  name: pppNameText('our CHAP name').default('branchlink'),
  board: strict({
    profile: z
      .enum(['virtual', 'rpi'], { error: msg('must be "virtual" or "rpi"') })
      .default('virtual'),
    chip: absPath('the GPIO character device, like "/dev/gpiochip0"').default('/dev/gpiochip0'),
    leds: strict({
      power: pin().default(17),
      dialup: pin().default(27),
      vpn: pin().default(22),
      auth: pin().default(23),
    }).prefault({}),
    render: bool().optional(),
  }).prefault({}),
  secrets: strict({
    file: absPath('the secrets file').default('/etc/branchlink/secrets.json'),
    lockout: strict({
      failures: int(1, 1000).default(5),
      seconds: int(1, 86400).default(300),
    }).prefault({}),
  }).prefault({}),
  control: strict({
    socket: absPath('the control socket path').default('/run/branchlink/control.sock'),
    group: z
      .string({ error: msg('must be a group name as a string') })
      .regex(/^[a-z_][a-z0-9_-]{0,31}$/, { error: msg('is not a valid group name') })
      .optional(),
  }).prefault({}),
  log: strict({
    level: z
      .enum(['debug', 'info', 'warn', 'error'], {
        error: msg('must be "debug", "info", "warn" or "error"'),
      })
      .default('info'),
    format: z
      .enum(['json', 'pretty', 'auto'], { error: msg('must be "json", "pretty" or "auto"') })
      .default('auto'),
  }).prefault({}),
  links: z.array(z.unknown(), { error: msg('must be a list of links') }).default([]),
  /** RADIUS authentication and accounting (src/secrets/radius); absent = local secrets only. */
  radius: RadiusConfigSchema.optional(),
});

export type Config = Omit<z.output<typeof ConfigFileSchema>, 'links'> & { links: LinkConfig[] };
export type BoardConfig = Config['board'];
export type LedPins = BoardConfig['leds'];
export type SecretsConfig = Config['secrets'];
export type ControlConfig = Config['control'];
export type LogConfig = Config['log'];

// ---------------------------------------------------------------------------------------
// Parsing

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function linkLabel(input: unknown, index: number): string | undefined {
  if (!isObject(input) || !Array.isArray(input.links)) return undefined;
  const link: unknown = input.links[index];
  if (!isObject(link) || typeof link.name !== 'string' || !LINK_NAME.test(link.name))
    return undefined;
  return link.name;
}

/** `links[2] (link 'hq').ppp.mru` */
function configPathRenderer(input: unknown) {
  return labelledPathRenderer('links', 'link', (index) => linkLabel(input, index));
}

function parseLink(
  raw: unknown,
  index: number,
  file: string,
  root: unknown,
  render: (p: readonly PropertyKey[]) => string,
): Result<LinkConfig, ConfigError[]> {
  const at = (...rest: PropertyKey[]): string => render(['links', index, ...rest]);
  const fail = (errors: ConfigError[]): { ok: false; error: ConfigError[] } => ({
    ok: false,
    error: errors,
  });
  if (!isObject(raw))
    return fail([{ file, path: at(), message: 'must be an object describing one link' }]);
  const type = raw.type;
  if (type === undefined)
    return fail([{ file, path: at('type'), message: 'is required: "dialup" or "pptp"' }]);
  if (type !== 'dialup' && type !== 'pptp')
    return fail([{ file, path: at('type'), message: 'must be "dialup" or "pptp"' }]);
  const roles = type === 'dialup' ? ['dial', 'answer'] : ['client', 'server'];
  const role = raw.role;
  if (role === undefined || typeof role !== 'string' || !roles.includes(role)) {
    return fail([
      {
        file,
        path: at('role'),
        message: `${role === undefined ? 'is required' : 'is not valid'} for a ${type} link: "${roles[0]}" or "${roles[1]}"`,
      },
    ]);
  }
  const schema = (LINK_SCHEMAS[type] as Record<string, z.ZodType>)[role]!;
  const shapeKeys = Object.keys((schema as unknown as { shape: Record<string, unknown> }).shape);

  // Keys of another role get a message that says whose they are.
  const errors: ConfigError[] = [];
  const copy: Record<string, unknown> = { ...raw };
  for (const key of Object.keys(raw)) {
    const owner = ROLE_ONLY_KEYS[key];
    if (!owner || shapeKeys.includes(key)) continue;
    const whose = owner.type === type ? `role '${owner.role}'` : `${owner.type} links`;
    errors.push({
      file,
      path: at(key),
      message: `is only used by ${whose}, not by a ${type} ${role} link`,
    });
    delete copy[key];
  }
  const parsed = schema.safeParse(copy);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((iss) => ({
      ...iss,
      path: ['links', index, ...iss.path],
    }));
    errors.push(...renderIssues(issues, { file, input: root, render }));
  }
  if (errors.length > 0) return fail(errors);
  return ok(parsed.data as LinkConfig);
}

/** Parses and validates config text. `file` is used in every message. */
export function parseConfig(text: string, file: string): Result<Config, ConfigError[]> {
  const json = parseJsonText(text);
  if (!json.ok) return { ok: false, error: [jsonSyntaxError(file, json.problem)] };
  return validateConfig(json.value, file);
}

/** Validates an already-parsed value (e.g. built by a test or the demo). */
export function validateConfig(input: unknown, file: string): Result<Config, ConfigError[]> {
  const render = configPathRenderer(input);
  const top = ConfigFileSchema.safeParse(input);
  const errors: ConfigError[] = [];
  if (!top.success) errors.push(...renderIssues(top.error.issues, { file, input, render }));
  const rawLinks = isObject(input) && Array.isArray(input.links) ? input.links : [];
  const links: LinkConfig[] = [];
  rawLinks.forEach((raw, i) => {
    const r = parseLink(raw, i, file, input, render);
    if (r.ok) links.push(r.value);
    else errors.push(...r.error);
  });
  if (errors.length > 0 || !top.success) return { ok: false, error: errors };
  const config: Config = { ...top.data, links };
  const cross = crossCheck(config, file, render);
  return cross.length > 0 ? { ok: false, error: cross } : ok(config);
}

/** Reads and validates a config file. A missing or unreadable file is an error too. */
export function loadConfig(path: string): Result<Config, ConfigError[]> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const message =
      code === 'ENOENT'
        ? 'does not exist'
        : code === 'EACCES'
          ? 'cannot be read (permission denied)'
          : `cannot be read (${code ?? 'error'})`;
    return { ok: false, error: [{ file: path, path: '', message }] };
  }
  return parseConfig(text, path);
}

// ---------------------------------------------------------------------------------------
// Cross-field rules

function mppeProblems(ppp: PppOptions): string[] {
  const out: string[] = [];
  const t = ppp.mppe;
  const has = (x: MppeToken): boolean => t.includes(x);
  const seen = new Set<string>();
  for (const x of t) {
    if (seen.has(x)) out.push(`lists "${x}" twice`);
    seen.add(x);
  }
  const requires = t.filter((x) => x.startsWith('require-mppe'));
  if (requires.length > 0 && has('nomppe')) out.push(`"${requires[0]}" contradicts "nomppe"`);
  for (const bits of ['40', '56', '128'] as const) {
    if (has(`require-mppe-${bits}`) && has(`nomppe-${bits}`)) {
      out.push(`"require-mppe-${bits}" contradicts "nomppe-${bits}"`);
    }
  }
  if (has('mppe-stateful') && has('nomppe-stateful'))
    out.push('"mppe-stateful" contradicts "nomppe-stateful"');
  if (requires.length > 0 && has('nomppe-40') && has('nomppe-56') && has('nomppe-128')) {
    out.push('requires MPPE but forbids every key length (40, 56 and 128)');
  }
  if (requires.length > 0) {
    const ms = [...ppp.require, ...ppp.allow].some((m) => m === 'mschap' || m === 'mschap-v2');
    if (!ms) {
      out.push(
        'requires MPPE, whose keys come from MS-CHAP, but neither "require" nor "allow" lists "mschap-v2" or "mschap" (add one, or set "mppe": [])',
      );
    }
  }
  return out;
}

function crossCheck(
  config: Config,
  file: string,
  render: (p: readonly PropertyKey[]) => string,
): ConfigError[] {
  const errors: ConfigError[] = [];
  const e = (path: PropertyKey[], message: string): void => {
    errors.push({ file, path: render(path), message });
  };

  // LED pins: two LEDs on one pin would fight.
  const pins = new Map<number, string>();
  for (const [led, p] of Object.entries(config.board.leds)) {
    const other = pins.get(p);
    if (other) e(['board', 'leds', led], `pin ${p} is already used by board.leds.${other}`);
    else pins.set(p, led);
  }

  const byName = new Map<string, number>();
  config.links.forEach((link, i) => {
    const first = byName.get(link.name);
    if (first !== undefined)
      e(['links', i, 'name'], `duplicate of links[${first}]: link names must be unique`);
    else byName.set(link.name, i);
  });

  const backedUp = new Map<string, number>();
  const devices = new Map<string, number>();
  const listeners: { i: number; listen: string; port: number }[] = [];

  config.links.forEach((link, i) => {
    const ppp = link.ppp;
    for (const problem of mppeProblems(ppp)) e(['links', i, 'ppp', 'mppe'], problem);

    if (link.backoffMax < link.holdoff) {
      e(
        ['links', i, 'backoffMax'],
        `must be at least holdoff (${link.holdoff} s): the backoff starts at holdoff and grows to backoffMax`,
      );
    }

    if (link.backupFor !== undefined) {
      if (link.type !== 'dialup' || link.role !== 'dial') {
        e(
          ['links', i, 'backupFor'],
          "only a dial-up link with role 'dial' can back up a PPTP client link",
        );
      } else if (link.backupFor === link.name) {
        e(['links', i, 'backupFor'], 'a link cannot back itself up');
      } else {
        const ti = byName.get(link.backupFor);
        const target = ti === undefined ? undefined : config.links[ti];
        if (!target) {
          const names = config.links.map((l) => l.name).join(', ');
          e(['links', i, 'backupFor'], `names no link (the links are: ${names})`);
        } else if (target.type !== 'pptp' || target.role !== 'client') {
          e(
            ['links', i, 'backupFor'],
            `link '${target.name}' is not a PPTP client link; only those can have a dial-up backup`,
          );
        } else {
          const prev = backedUp.get(link.backupFor);
          if (prev !== undefined) {
            e(
              ['links', i, 'backupFor'],
              `link '${link.backupFor}' already has a backup (links[${prev}]); one backup per link`,
            );
          } else backedUp.set(link.backupFor, i);
        }
      }
    } else if (link.failover !== undefined) {
      e(['links', i, 'failover'], 'is only used together with backupFor');
    }

    if (link.type === 'pptp' && link.role === 'server') {
      if (ppp.localAddress === undefined) {
        e(
          ['links', i, 'ppp', 'localAddress'],
          "is required for a PPTP server: this router's address inside the tunnels",
        );
      }
      if (ppp.remoteAddress !== undefined) {
        e(
          ['links', i, 'ppp', 'remoteAddress'],
          'is not used by a PPTP server: each client gets an address from "pool" (or from its secret)',
        );
      }
      const pool = parsePool(link.pool);
      if (pool.ok && ppp.localAddress !== undefined) {
        const local = parseIpv4(ppp.localAddress)!;
        if (local >= pool.value.first && local <= pool.value.last) {
          e(
            ['links', i, 'pool'],
            "contains ppp.localAddress; the router's own address must lie outside the client pool",
          );
        }
      }
      if (link.enabled) listeners.push({ i, listen: link.listen, port: link.port });
    }

    if (link.type === 'dialup' && link.enabled) {
      const prev = devices.get(link.device);
      if (prev !== undefined)
        e(['links', i, 'device'], `is already used by links[${prev}]; one link per serial port`);
      else devices.set(link.device, i);
    }
  });

  for (let a = 0; a < listeners.length; a++) {
    for (let b = 0; b < a; b++) {
      const x = listeners[a]!;
      const y = listeners[b]!;
      if (
        x.port === y.port &&
        (x.listen === y.listen || x.listen === '0.0.0.0' || y.listen === '0.0.0.0')
      ) {
        e(['links', x.i, 'port'], `links[${y.i}] already listens on port ${y.port} at ${y.listen}`);
      }
    }
  }
  return errors;
}

// ---------------------------------------------------------------------------------------
// Reload support

export interface ConfigDiff {
  readonly added: string[];
  readonly removed: string[];
  /** Links whose settings changed: restart them. */
  readonly changed: string[];
  /** Links that stay up untouched. */
  readonly unchanged: string[];
  /** Top-level sections that changed ('name' affects every link's CHAP name). */
  readonly sections: ('name' | 'board' | 'secrets' | 'control' | 'log')[];
}

/** What a SIGHUP reload must do: compare two validated configs link by link. */
export function diffConfigs(previous: Config, next: Config): ConfigDiff {
  const before = new Map(previous.links.map((l) => [l.name, JSON.stringify(l)]));
  const after = new Map(next.links.map((l) => [l.name, JSON.stringify(l)]));
  const added = [...after.keys()].filter((n) => !before.has(n));
  const removed = [...before.keys()].filter((n) => !after.has(n));
  const changed: string[] = [];
  const unchanged: string[] = [];
  for (const [n, json] of after) {
    if (!before.has(n)) continue;
    (before.get(n) === json ? unchanged : changed).push(n);
  }
  const sections = (['name', 'board', 'secrets', 'control', 'log'] as const).filter(
    (k) => JSON.stringify(previous[k]) !== JSON.stringify(next[k]),
  );
  return { added, removed, changed, unchanged, sections };
}

/** Describes a link in one line for logs and `config check` (no secrets in a config). */
export function describeLink(link: LinkConfig): string {
  const state = link.enabled ? '' : ' (disabled)';
  switch (link.role) {
    case 'dial':
      return `${link.name}: dial-up, dials out on ${link.device}${link.backupFor ? `, backup for ${link.backupFor}` : ''}${state}`;
    case 'answer':
      return `${link.name}: dial-up, answers on ${link.device}${state}`;
    case 'client':
      return `${link.name}: PPTP client to ${printable(link.server, 64)}:${link.port}${state}`;
    case 'server':
      return `${link.name}: PPTP server on ${link.listen}:${link.port}, pool ${link.pool}${state}`;
  }
}
