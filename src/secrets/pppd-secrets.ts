/**
 * Import and export of pppd's `chap-secrets` / `pap-secrets` files, so a technician can
 * bring an existing pppd router's users across.
 *
 * Reading follows pppd's own reader (options.c getword(), auth.c scan_authfile()):
 *  - words are separated by white space; `"` and `'` quote (white space and `#` inside
 *    quotes are literal); quoted and unquoted parts join into one word (`ab"c d"` = `abc d`);
 *  - `\` escapes anywhere, also inside quotes: \a \b \f \n \r \t, \s (space), \ooo (octal,
 *    up to three digits), \xhh (hex, up to two), \<newline> is a line continuation, and any
 *    other character stands for itself;
 *  - `#` starts a comment where a word could start, and ends an unquoted word
 *    (`pass#1` reads as `pass`: such secrets must be quoted);
 *  - an entry is `client server secret [address...] [-- option...]` starting on a new line;
 *    `*` as client or server is the wildcard; an address list of `-` (or no address at all)
 *    allows no IP address, `*` allows any.
 *
 * Writing quotes every word that needs it with double quotes and backslash escapes, which
 * pppd reads back to the same bytes.
 */
import { err, ok, type Result } from '../ppp/result.js';
import { isIpv4OrCidr } from './address-spec.js';
import type { ConfigError } from './file-errors.js';
import type { SecretRecord } from './schema.js';

export type PppdSecretsFormat = 'chap' | 'pap';

/** pppd MAXWORDLEN: longer words are truncated by pppd, so we refuse them instead. */
const MAX_WORD = 1023;

export interface PppdWord {
  readonly bytes: Buffer;
  /** Line where the word starts (1-based). */
  readonly line: number;
  /** The word is the first on its line (pppd's `newline` flag). */
  readonly newline: boolean;
}

const isSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);
const isOctal = (c: number): boolean => c >= 0x30 && c <= 0x37;
const isHex = (c: number): boolean =>
  (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
const hexValue = (c: number): number => (c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x61 + 10);

/** Splits a secrets file into words exactly as pppd's getword() does. Never throws. */
export function tokenizePppdSecrets(input: Buffer): PppdWord[] {
  const words: PppdWord[] = [];
  let i = 0;
  let line = 1;
  const EOF = -1;
  const next = (): number => {
    if (i >= input.length) {
      i = input.length + 1; // remember we read past the end, so unget stays consistent
      return EOF;
    }
    const c = input[i++]!;
    if (c === 0x0a) line++;
    return c;
  };
  const unget = (c: number): void => {
    if (c === EOF) return;
    i--;
    if (c === 0x0a) line--;
  };
  for (;;) {
    let newline = false;
    let escaped = false;
    let comment = false;
    let quoted = 0;
    let c: number;
    // Skip white space and comments.
    for (;;) {
      c = next();
      if (c === EOF) break;
      if (c === 0x0a) {
        if (!escaped) {
          newline = true;
          comment = false;
        } else escaped = false;
        continue;
      }
      if (comment) continue;
      if (escaped) break;
      if (c === 0x5c) {
        escaped = true;
        continue;
      }
      if (c === 0x23) {
        comment = true;
        continue;
      }
      if (!isSpace(c)) break;
    }
    const startLine = line;
    const out: number[] = [];
    while (c !== EOF) {
      if (escaped) {
        escaped = false;
        if (c === 0x0a) {
          c = next();
          continue;
        }
        let value: number;
        let got = false;
        switch (c) {
          case 0x61: // a
            value = 0x07;
            break;
          case 0x62: // b
            value = 0x08;
            break;
          case 0x66: // f
            value = 0x0c;
            break;
          case 0x6e: // n
            value = 0x0a;
            break;
          case 0x72: // r
            value = 0x0d;
            break;
          case 0x73: // s
            value = 0x20;
            break;
          case 0x74: // t
            value = 0x09;
            break;
          default:
            if (isOctal(c)) {
              value = 0;
              for (let n = 0; n < 3 && isOctal(c); n++) {
                value = (value << 3) + (c & 7);
                c = next();
              }
              got = true;
            } else if (c === 0x78) {
              value = 0;
              c = next();
              for (let n = 0; n < 2 && isHex(c); n++) {
                value = (value << 4) + hexValue(c);
                c = next();
              }
              got = true;
            } else value = c;
        }
        out.push(value & 0xff);
        if (!got) c = next();
        continue;
      }
      if (c === 0x5c) {
        escaped = true;
        c = next();
        continue;
      }
      if (quoted !== 0) {
        if (c === quoted) {
          quoted = 0;
          c = next();
          continue;
        }
      } else if (c === 0x22 || c === 0x27) {
        quoted = c;
        c = next();
        continue;
      } else if (isSpace(c) || c === 0x23) {
        unget(c);
        break;
      }
      out.push(c);
      c = next();
    }
    if (c === EOF && out.length === 0) return words;
    words.push({ bytes: Buffer.from(out), line: startLine, newline });
    if (c === EOF) return words;
  }
}

export interface PppdEntry {
  readonly line: number;
  readonly words: readonly Buffer[];
}

/** Groups words into entries the way scan_authfile() does: an entry starts on a new line. */
export function pppdEntries(words: readonly PppdWord[]): PppdEntry[] {
  const entries: { line: number; words: Buffer[] }[] = [];
  words.forEach((w, idx) => {
    // The first word of the file starts an entry even without a preceding newline.
    if (w.newline || idx === 0) entries.push({ line: w.line, words: [w.bytes] });
    else entries[entries.length - 1]!.words.push(w.bytes);
  });
  return entries;
}

export interface PppdImportResult {
  readonly records: SecretRecord[];
  /** Lines skipped or changed on the way in, each naming file and line. */
  readonly warnings: ConfigError[];
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decode(bytes: Buffer): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;
const CRYPT_HASH = /^\$(1|2[abxy]?|5|6|7|y|gy|sha1|md5)\$/;
const NOTE_LINE = /^[ \t]*#[ \t]*note:[ \t]?(.*)$/;

/**
 * Parses a chap-secrets or pap-secrets file into records. Entries branchlink cannot
 * represent (secrets read from another file, crypt(3) hashes, address exclusions, host
 * names) are skipped with a warning naming the line; nothing is silently changed.
 * A `# note: text` comment on the line just before an entry becomes its note.
 * Errors (the whole import is refused): none today besides unreadable input, kept in the
 * type for callers.
 */
export function parsePppdSecrets(
  content: Buffer | string,
  file: string,
  format: PppdSecretsFormat = 'chap',
): Result<PppdImportResult, ConfigError[]> {
  const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  if (bytes.length > 16 * 1024 * 1024) {
    return {
      ok: false,
      error: [{ file, path: '', message: 'larger than 16 MiB; not a secrets file' }],
    };
  }
  const notes = new Map<number, string>();
  bytes
    .toString('utf8')
    .split('\n')
    .forEach((text, idx) => {
      const m = NOTE_LINE.exec(text);
      if (m) notes.set(idx + 1, m[1]!.replace(/\r$/, ''));
    });

  const warnings: ConfigError[] = [];
  const records: SecretRecord[] = [];
  const seen = new Map<string, number>();
  const warn = (line: number, message: string): void => {
    warnings.push({ file, path: `line ${line}`, message });
  };

  for (const entry of pppdEntries(tokenizePppdSecrets(bytes))) {
    const { line } = entry;
    if (entry.words.length < 3) {
      warn(
        line,
        'skipped: an entry needs at least client, server and secret (pppd ignores it too)',
      );
      continue;
    }
    if (entry.words.some((w) => w.length > MAX_WORD)) {
      warn(line, `skipped: a word is longer than ${MAX_WORD} bytes (pppd would truncate it)`);
      continue;
    }
    const texts = entry.words.map(decode);
    if (texts.some((t) => t === undefined)) {
      warn(line, 'skipped: not valid UTF-8 (re-enter this user with "branchlink secrets add")');
      continue;
    }
    const [client, server, secret, ...rest] = texts as string[];
    if (client === '' || server === '') {
      warn(line, 'skipped: empty client or server name');
      continue;
    }
    if (CONTROL.test(client!) || CONTROL.test(server!)) {
      warn(line, 'skipped: the client or server name contains control characters');
      continue;
    }
    if (client!.length > 255 || server!.length > 255) {
      warn(line, 'skipped: the client or server name is longer than 255 characters');
      continue;
    }
    const who = `client '${client}'`;
    if (secret!.startsWith('@/')) {
      warn(
        line,
        `skipped ${who}: the secret is read from another file (@/...); add it with "branchlink secrets add"`,
      );
      continue;
    }
    if (secret === '') {
      warn(
        line,
        format === 'pap'
          ? `skipped ${who}: an empty PAP secret means "check the system password" (pppd 'login'), which branchlink does not do`
          : `skipped ${who}: empty secret`,
      );
      continue;
    }
    if (format === 'pap' && CRYPT_HASH.test(secret!)) {
      warn(
        line,
        `skipped ${who}: the secret is a crypt(3) hash, not a password; add it with "branchlink secrets add"`,
      );
      continue;
    }
    if (secret!.length > 256) {
      warn(line, `skipped ${who}: the secret is longer than 256 characters`);
      continue;
    }
    // Address words up to "--"; anything after "--" is per-user pppd options.
    const dashdash = rest.indexOf('--');
    const addrWords = dashdash >= 0 ? rest.slice(0, dashdash) : rest;
    if (dashdash >= 0 && rest.length > dashdash + 1) {
      warn(line, `${who}: per-user pppd options after "--" are not supported and were dropped`);
    }
    const addresses = convertAddresses(addrWords);
    if (!addresses.ok) {
      warn(line, `skipped ${who}: ${addresses.error.reason}`);
      continue;
    }
    const pairKey = JSON.stringify([client, server]);
    const first = seen.get(pairKey);
    if (first !== undefined) {
      // pppd uses the first of equally good matches, so the later one never applied.
      warn(
        line,
        `skipped ${who}: same client and server as line ${first}, which pppd would use instead`,
      );
      continue;
    }
    seen.set(pairKey, line);
    const rec: SecretRecord = {
      client: client!,
      server: server!,
      secret: secret!,
      addresses: addresses.value,
    };
    const note = notes.get(line - 1);
    if (note !== undefined && note !== '') rec.note = note.slice(0, 1000);
    records.push(rec);
  }
  return ok({ records, warnings });
}

/** pppd auth.c set_allowed_addrs, restricted to what a branchlink record can say. */
function convertAddresses(words: readonly string[]): Result<SecretRecord['addresses']> {
  const list: string[] = [];
  for (const w of words) {
    if (w === '-') break; // "-": no (further) addresses
    if (w === '*') return ok('*'); // any address; earlier entries could only be permits
    if (w.startsWith('!'))
      return err('unsupported', 'address exclusions (!address) are not supported');
    if (/\/\d+\+$/.test(w))
      return err('unsupported', 'per-unit addresses (net/bits+) are not supported');
    if (!isIpv4OrCidr(w)) {
      return err(
        'unsupported',
        'an address is not an IPv4 address or CIDR block (host and network names are not supported)',
      );
    }
    list.push(w);
  }
  if (list.length > 64) return err('unsupported', 'more than 64 addresses');
  // No address at all: pppd (with authentication required) allows none.
  return ok(list.length === 0 ? '-' : list);
}

/** True when pppd would read the word back unchanged without quotes. */
function isPlainWord(word: string): boolean {
  return word !== '' && /^[\x21\x24-\x26\x28-\x5b\x5d-\x7e]+$/.test(word);
}

/**
 * Quotes a word so pppd's getword() reads it back to the same bytes: double quotes, with
 * `\` and `"` escaped and control characters as three-digit octal escapes.
 */
export function quotePppdWord(word: string): string {
  if (isPlainWord(word)) return word;
  let out = '"';
  for (const ch of word) {
    const code = ch.codePointAt(0)!;
    if (ch === '\\' || ch === '"') out += `\\${ch}`;
    else if (code < 0x20 || code === 0x7f) out += `\\${code.toString(8).padStart(3, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

export interface PppdExportResult {
  readonly text: string;
  /** Records that could not be written, and why (no secret value in the reason). */
  readonly skipped: { client: string; server: string; reason: string }[];
}

/** Writes records as a chap-secrets / pap-secrets file. */
export function formatPppdSecrets(
  records: readonly SecretRecord[],
  format: PppdSecretsFormat = 'chap',
  header?: string,
): PppdExportResult {
  const skipped: PppdExportResult['skipped'] = [];
  const lines: string[] = [
    `# Secrets for authentication using ${format === 'chap' ? 'CHAP' : 'PAP'}`,
    ...(header ? header.split('\n').map((l) => `# ${l}`) : []),
    '# client\tserver\tsecret\t\t\tIP addresses',
  ];
  for (const r of records) {
    if (r.secret === undefined) {
      skipped.push({
        client: r.client,
        server: r.server,
        reason: 'holds only an NT hash; pppd secrets files need the password',
      });
      continue;
    }
    if (r.secret.startsWith('@/')) {
      skipped.push({
        client: r.client,
        server: r.server,
        reason: 'the secret starts with "@/", which pppd would read as a file name',
      });
      continue;
    }
    if (r.note !== undefined && r.note !== '') {
      // biome-ignore lint/suspicious/noControlCharactersInRegex: flattening a note to one line
      lines.push(`# note: ${r.note.replace(/[\u0000-\u001f\u007f]+/g, ' ')}`);
    }
    const addrs = r.addresses === '*' ? '*' : r.addresses === '-' ? '-' : r.addresses.join(' ');
    lines.push(
      [quotePppdWord(r.client), quotePppdWord(r.server), quotePppdWord(r.secret), addrs].join('\t'),
    );
  }
  return { text: `${lines.join('\n')}\n`, skipped };
}
