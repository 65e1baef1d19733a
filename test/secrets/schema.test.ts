import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatConfigError } from '../../src/secrets/file-errors.js';
import {
  ntPasswordHash,
  parseSecretsFile,
  serializeSecretsFile,
  validateSecretsData,
} from '../../src/secrets/schema.js';

const FILE = '/etc/branchlink/secrets.json';
const SECRET = 'Tr0ub4dor&3-hunter2';

function messages(text: string): string[] {
  const r = parseSecretsFile(text, FILE);
  if (r.ok) throw new Error('expected errors');
  return r.error.map(formatConfigError);
}

const good = {
  version: 1,
  secrets: [
    { client: 'alice', server: '*', secret: SECRET, addresses: '*' },
    { client: 'bob', secret: 'bobs-secret', addresses: ['10.9.0.20'], note: 'branch 2' },
    {
      client: 'carol',
      ntHash: ntPasswordHash('carols').toString('hex').toUpperCase(),
      addresses: '-',
    },
  ],
};

describe('secrets file validation', () => {
  it('accepts a valid file and fills defaults (server "*", addresses "*")', () => {
    const r = parseSecretsFile(JSON.stringify(good), FILE);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.secrets[1]).toEqual({
      client: 'bob',
      server: '*',
      secret: 'bobs-secret',
      addresses: ['10.9.0.20'],
      note: 'branch 2',
    });
    // NT hashes are normalised to lower case.
    expect(r.value.secrets[2]!.ntHash).toBe(ntPasswordHash('carols').toString('hex'));
  });

  it('round-trips through serializeSecretsFile', () => {
    const r = parseSecretsFile(JSON.stringify(good), FILE);
    if (!r.ok) throw new Error('invalid');
    const again = parseSecretsFile(serializeSecretsFile(r.value), FILE);
    expect(again).toEqual(r);
  });

  it('refuses bad JSON naming the file, line and column, without quoting the text', () => {
    const text = `{\n  "version": 1,\n  "secrets": [\n    { "client": "alice", "secret": "${SECRET}" "addresses": "*" }\n  ]\n}\n`;
    const m = messages(text);
    expect(m).toHaveLength(1);
    expect(m[0]).toMatch(
      /^\/etc\/branchlink\/secrets\.json: line 4, column \d+: invalid JSON: expected ',' or '}'/,
    );
    expect(m[0]).not.toContain(SECRET);
  });

  it('refuses a secret written without quotes without echoing it', () => {
    const m = messages(`{"version": 1, "secrets": [{"client": "a", "secret": ${SECRET}}]}`);
    expect(m[0]).toContain('line 1');
    expect(m[0]).not.toContain('Tr0ub4dor');
  });

  it('refuses an unknown key and suggests the intended one', () => {
    const m = messages(
      JSON.stringify({ version: 1, secrets: [{ client: 'alice', secert: SECRET, adresses: '*' }] }),
    );
    expect(m).toContain(
      `${FILE}: secrets[0] (client 'alice').secert: unknown key "secert" (did you mean "secret"?)`,
    );
    expect(m).toContain(
      `${FILE}: secrets[0] (client 'alice').adresses: unknown key "adresses" (did you mean "addresses"?)`,
    );
    expect(m.join('\n')).not.toContain(SECRET);
  });

  it('refuses a duplicate (client, server) pair, naming both records', () => {
    const m = messages(
      JSON.stringify({
        version: 1,
        secrets: [
          { client: 'alice', secret: 'one' },
          { client: 'bob', secret: 'two' },
          { client: 'alice', server: '*', secret: 'three' },
        ],
      }),
    );
    expect(m).toEqual([
      `${FILE}: secrets[2] (client 'alice'): duplicate of secrets[0]: client and server are the same pair as that record (which one should apply?)`,
    ]);
  });

  it('allows the same client for different servers', () => {
    const r = validateSecretsData(
      {
        version: 1,
        secrets: [
          { client: 'alice', server: 'hq', secret: 'one' },
          { client: 'alice', server: '*', secret: 'two' },
        ],
      },
      FILE,
    );
    expect(r.ok).toBe(true);
  });

  it('refuses a bad address, naming the record and the list entry but not the value', () => {
    const m = messages(
      JSON.stringify({
        version: 1,
        secrets: [{ client: 'alice', secret: SECRET, addresses: ['10.9.0.20', '10.9.0.300'] }],
      }),
    );
    expect(m).toEqual([
      `${FILE}: secrets[0] (client 'alice').addresses[1]: is not an IPv4 address or CIDR block like "10.9.0.20" or "10.9.0.0/24"`,
    ]);
  });

  it('refuses an address column that is neither "*", "-" nor a list', () => {
    const m = messages(
      JSON.stringify({ version: 1, secrets: [{ client: 'a', secret: 's', addresses: 'any' }] }),
    );
    expect(m[0]).toContain(
      `secrets[0] (client 'a').addresses: must be "*" (any address), "-" (no IP address)`,
    );
    const empty = messages(
      JSON.stringify({ version: 1, secrets: [{ client: 'a', secret: 's', addresses: [] }] }),
    );
    expect(empty[0]).toContain("use '-' for no IP or '*' for any");
  });

  it('requires a secret or an NT hash, and a consistent pair when both are given', () => {
    expect(messages(JSON.stringify({ version: 1, secrets: [{ client: 'a' }] }))).toEqual([
      `${FILE}: secrets[0] (client 'a'): needs "secret" or "ntHash" (or both)`,
    ]);
    const m = messages(
      JSON.stringify({
        version: 1,
        secrets: [{ client: 'a', secret: SECRET, ntHash: '0'.repeat(32) }],
      }),
    );
    expect(m[0]).toBe(
      `${FILE}: secrets[0] (client 'a').ntHash: does not match "secret" (remove one of them, or fix the one that is wrong)`,
    );
    const bad = messages(JSON.stringify({ version: 1, secrets: [{ client: 'a', ntHash: 'xyz' }] }));
    expect(bad[0]).toContain('ntHash: must be 32 hex digits');
  });

  it('says what type was found for a wrong type, never which value', () => {
    const m = messages(
      JSON.stringify({ version: 1, secrets: [{ client: 'a', secret: 12345678 }] }),
    );
    expect(m).toEqual([`${FILE}: secrets[0] (client 'a').secret: must be a string`]);
    const top = messages(JSON.stringify({ version: 2, secrets: {} }));
    expect(top).toContain(`${FILE}: version: must be 1 (the only format version so far)`);
    expect(top).toContain(`${FILE}: secrets: must be a list of secret records`);
  });

  it('refuses control characters and empty names', () => {
    const m = messages(
      JSON.stringify({
        version: 1,
        secrets: [
          { client: 'a\nb', secret: 's' },
          { client: '', secret: 's' },
        ],
      }),
    );
    expect(m).toContain(`${FILE}: secrets[0].client: must not contain control characters`);
    expect(m).toContain(`${FILE}: secrets[1].client: must not be empty (use "*" for any client)`);
  });

  it('never throws on random JSON and never echoes string values from it', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const r = validateSecretsData(value, FILE);
        if (!r.ok) {
          for (const e of r.error) expect(typeof e.message).toBe('string');
        }
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.string(), (text) => {
        parseSecretsFile(text, FILE);
      }),
      { numRuns: 500 },
    );
  });

  it('never quotes any value (other than a client name) from a random, broken file', () => {
    // Every string value carries a marker; keys come from a marker-free alphabet.
    const value = fc.oneof(
      fc.string().map((s) => `V@${s}`),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.array(
        fc.string().map((s) => `V@${s}`),
        { maxLength: 3 },
      ),
    );
    const junk = fc.object({
      key: fc.stringMatching(/^[a-z]{1,8}$/),
      values: [value],
      maxDepth: 1,
    });
    const record = fc
      .tuple(
        fc.record(
          {
            client: fc.constantFrom('alice', 'bob', '*'),
            server: value,
            secret: value,
            ntHash: value,
            addresses: value,
            note: value,
          },
          { requiredKeys: [] },
        ),
        junk,
      )
      .map(([a, b]) => ({ ...b, ...a }));
    fc.assert(
      fc.property(
        fc.array(record, { maxLength: 4 }),
        fc.constantFrom<unknown>(1, 'V@1', 2),
        (secrets, version) => {
          const r = validateSecretsData({ version, secrets }, FILE);
          if (!r.ok) for (const e of r.error) expect(formatConfigError(e)).not.toContain('V@');
        },
      ),
      { numRuns: 500 },
    );
  });

  it('never puts a secret value into an error message (random secrets, broken records)', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 8, maxLength: 40 }).filter((s) => /[A-Za-z0-9]{8}/.test(s)),
        fc.constantFrom<unknown>(['bad addr'], 'nope', 5, null),
        fc.boolean(),
        (secret, addresses, brokenJson) => {
          const rec = { client: 'alice', secret, addresses, extra: true };
          let text = JSON.stringify({ version: 1, secrets: [rec] });
          if (brokenJson) text = text.replace('"addresses"', '"addresses" 1');
          const r = parseSecretsFile(text, FILE);
          expect(r.ok).toBe(false);
          if (!r.ok) for (const e of r.error) expect(formatConfigError(e)).not.toContain(secret);
        },
      ),
      { numRuns: 300 },
    );
  });
});
