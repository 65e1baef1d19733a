import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatPppdSecrets,
  parsePppdSecrets,
  quotePppdWord,
  tokenizePppdSecrets,
} from '../../src/secrets/pppd-secrets.js';
import { type SecretRecord, validateSecretsData } from '../../src/secrets/schema.js';

const words = (text: string): string[] =>
  tokenizePppdSecrets(Buffer.from(text, 'latin1')).map((w) => w.bytes.toString('latin1'));

function records(text: string, format: 'chap' | 'pap' = 'chap') {
  const r = parsePppdSecrets(text, '/etc/ppp/chap-secrets', format);
  if (!r.ok) throw new Error('unexpected errors');
  return r.value;
}

// A file in the style pppd installations have: header comments, tabs, quotes, wildcards,
// addresses, a `-`, escapes, a continuation line and a trailing comment.
const SAMPLE = [
  '# Secrets for authentication using CHAP',
  '# client\tserver\tsecret\t\t\tIP addresses',
  'alice\t*\t"correct horse"\t*',
  "bob pptpd 'it''s'\t10.9.0.20 10.9.0.21",
  '# note: head office router',
  'hq\tbranch1\t"p\\"q\\\\r#s"\t-',
  '"carol smith"  *  plain#comment-after',
  'dave * a\\sb\\x41\\101 \\',
  '   192.168.7.0/24',
  '*\tbranch1\tshared-secret\t*   # any client on branch1',
  '',
].join('\n');

describe('pppd secrets reader (getword rules)', () => {
  it('splits words on white space and joins quoted parts', () => {
    expect(words('a  b\t"c d"e \'f g\'')).toEqual(['a', 'b', 'c de', 'f g']);
  });

  it('treats # as a comment where a word starts, and as the end of an unquoted word', () => {
    expect(words('a #b c\nd e#f\n"g#h"')).toEqual(['a', 'd', 'e', 'g#h']);
  });

  it('reads backslash escapes like pppd, inside and outside quotes', () => {
    expect(words('\\s\\t\\n\\a\\b\\f\\r')).toEqual([' \t\n\x07\x08\x0c\r']);
    expect(words('\\101\\x41\\x4a\\0a \\q')).toEqual(['AAJ\x00a', 'q']);
    expect(words('"a\\"b" \'c\\\'d\'')).toEqual(['a"b', "c'd"]);
    // Octal takes at most three digits; hex at most two.
    expect(words('\\1012 \\x414')).toEqual(['A2', 'A4']);
  });

  it('joins lines ending in a backslash and keeps quoted newlines', () => {
    const t = tokenizePppdSecrets(Buffer.from('a b \\\nc\nd "e\nf"'));
    expect(t.map((w) => [w.bytes.toString(), w.newline])).toEqual([
      ['a', false],
      ['b', false],
      ['c', false],
      ['d', true],
      ['e\nf', false],
    ]);
  });

  it('yields an empty word for "" except at the end of the file', () => {
    expect(words('a "" b')).toEqual(['a', '', 'b']);
    expect(words('a ""')).toEqual(['a']);
  });

  it('never throws and never loops on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const w = tokenizePppdSecrets(Buffer.from(bytes));
        expect(w.length).toBeLessThanOrEqual(bytes.length);
        parsePppdSecrets(Buffer.from(bytes), 'x', 'chap');
      }),
      { numRuns: 1000 },
    );
  });
});

describe('chap-secrets import', () => {
  it('imports the sample with quotes, escapes, wildcards, addresses and notes', () => {
    const r = records(SAMPLE);
    expect(r.warnings).toEqual([]);
    expect(r.records).toEqual([
      { client: 'alice', server: '*', secret: 'correct horse', addresses: '*' },
      { client: 'bob', server: 'pptpd', secret: 'its', addresses: ['10.9.0.20', '10.9.0.21'] },
      {
        client: 'hq',
        server: 'branch1',
        secret: 'p"q\\r#s',
        addresses: '-',
        note: 'head office router',
      },
      { client: 'carol smith', server: '*', secret: 'plain', addresses: '-' },
      { client: 'dave', server: '*', secret: 'a bAA', addresses: ['192.168.7.0/24'] },
      { client: '*', server: 'branch1', secret: 'shared-secret', addresses: '*' },
    ]);
    // What the import produces is a valid secrets file.
    expect(validateSecretsData({ version: 1, secrets: r.records }, 'x').ok).toBe(true);
  });

  it('round-trips: import → export → import gives the same records', () => {
    const first = records(SAMPLE).records;
    const exported = formatPppdSecrets(first, 'chap');
    expect(exported.skipped).toEqual([]);
    expect(records(exported.text).records).toEqual(first);
  });

  it('round-trips random records through export and import (property)', () => {
    const name = fc
      .string({ minLength: 1, maxLength: 20 })
      .filter((s) => ![...s].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f));
    const secret = fc
      .string({ minLength: 1, maxLength: 40, unit: 'binary' })
      .filter((s) => !s.startsWith('@/') && !s.includes('\u0000'));
    const addr = fc.oneof(
      fc.constant<'*'>('*'),
      fc.constant<'-'>('-'),
      fc.array(fc.ipV4(), { minLength: 1, maxLength: 3 }),
    );
    const rec = fc.record({ client: name, server: name, secret, addresses: addr });
    fc.assert(
      fc.property(
        fc.uniqueArray(rec, { selector: (r) => `${r.client}\u0000${r.server}`, maxLength: 6 }),
        (recs) => {
          const valid: SecretRecord[] = recs;
          const out = formatPppdSecrets(valid, 'chap');
          const back = parsePppdSecrets(out.text, 'x', 'chap');
          expect(back.ok && back.value.warnings).toEqual([]);
          expect(back.ok && back.value.records).toEqual(valid);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('quotes exactly the words that need it', () => {
    expect(quotePppdWord('plain-Secret_1')).toBe('plain-Secret_1');
    expect(quotePppdWord('two words')).toBe('"two words"');
    expect(quotePppdWord('a#b')).toBe('"a#b"');
    expect(quotePppdWord('q"\\')).toBe('"q\\"\\\\"');
    expect(quotePppdWord("it's")).toBe(`"it's"`);
    expect(quotePppdWord('')).toBe('""');
    expect(quotePppdWord('tab\there\n')).toBe('"tab\\011here\\012"');
  });

  it('skips what branchlink cannot represent, naming the line, and keeps the rest', () => {
    const text = [
      'a * @/etc/ppp/a.secret *',
      'b * pw !10.0.0.1 *',
      'c * pw host.example.com',
      'd * pw 10.0.0.0/24+',
      'e * pw * -- ms-dns 10.0.0.1',
      'f *',
      'g * pw *',
      'g * other *',
      'h * "" *',
    ].join('\n');
    const r = records(text);
    expect(r.records.map((x) => x.client)).toEqual(['e', 'g']);
    const w = r.warnings.map((x) => `${x.path}: ${x.message}`);
    expect(w).toEqual([
      `line 1: skipped client 'a': the secret is read from another file (@/...); add it with "branchlink secrets add"`,
      "line 2: skipped client 'b': address exclusions (!address) are not supported",
      "line 3: skipped client 'c': an address is not an IPv4 address or CIDR block (host and network names are not supported)",
      "line 4: skipped client 'd': per-unit addresses (net/bits+) are not supported",
      `line 5: client 'e': per-user pppd options after "--" are not supported and were dropped`,
      'line 6: skipped: an entry needs at least client, server and secret (pppd ignores it too)',
      "line 8: skipped client 'g': same client and server as line 7, which pppd would use instead",
      "line 9: skipped client 'h': empty secret",
    ]);
    expect(r.warnings.every((x) => x.file === '/etc/ppp/chap-secrets')).toBe(true);
  });

  it('reads "no address" and a list cut by "-" the way pppd does', () => {
    expect(records('a * pw').records[0]!.addresses).toBe('-');
    expect(records('a * pw 10.0.0.1 - 10.0.0.2').records[0]!.addresses).toEqual(['10.0.0.1']);
    expect(records('a * pw 10.0.0.1 *').records[0]!.addresses).toBe('*');
  });
});

describe('pap-secrets import', () => {
  it('skips crypt(3) hashes and "use the system password" entries', () => {
    const r = records(
      ['alice * $6$salt$abcdef *', 'bob * "" *', 'carol * carols-pw 10.0.0.5'].join('\n'),
      'pap',
    );
    expect(r.records).toEqual([
      { client: 'carol', server: '*', secret: 'carols-pw', addresses: ['10.0.0.5'] },
    ]);
    expect(r.warnings.map((w) => w.path)).toEqual(['line 1', 'line 2']);
    expect(r.warnings[0]!.message).toContain('crypt(3) hash');
    expect(r.warnings[0]!.message).not.toContain('$6$salt');
  });
});

describe('export', () => {
  it('skips NT-hash-only records and secrets pppd would read as a file name', () => {
    const out = formatPppdSecrets(
      [
        { client: 'a', server: '*', ntHash: '0'.repeat(32), addresses: '*' },
        { client: 'b', server: '*', secret: '@/etc/x', addresses: '*' },
        {
          client: 'c',
          server: '*',
          secret: 'ok',
          addresses: ['10.0.0.1', '10.1.0.0/16'],
          note: 'two\nlines',
        },
      ],
      'pap',
    );
    expect(out.skipped.map((s) => s.client)).toEqual(['a', 'b']);
    expect(out.text).toContain('# Secrets for authentication using PAP');
    expect(out.text).toContain('# note: two lines\nc\t*\tok\t10.0.0.1 10.1.0.0/16\n');
  });
});
