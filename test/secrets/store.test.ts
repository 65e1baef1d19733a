import { createHash } from 'node:crypto';
import {
  chmodSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AuthRequest } from '../../src/ppp/auth/authenticator.js';
import { formatConfigError } from '../../src/secrets/file-errors.js';
import { LocalAuthenticator } from '../../src/secrets/local-authenticator.js';
import type { SecretRecord } from '../../src/secrets/schema.js';
import { lookupSecret, SecretStore, type SecretStoreEvent } from '../../src/secrets/store.js';

const dirs: string[] = [];
const stores: SecretStore[] = [];
afterAll(() => {
  for (const s of stores) s.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function setup(content?: unknown): { dir: string; file: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'branchlink-store-'));
  dirs.push(dir);
  const file = path.join(dir, 'secrets.json');
  if (content !== undefined) {
    writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
    chmodSync(file, 0o600);
  }
  return { dir, file };
}

async function open(file: string, watch = false): Promise<SecretStore> {
  const r = await SecretStore.open(file, { watch, debounceMs: 40 });
  if (!r.ok) throw new Error(r.error.map(formatConfigError).join('\n'));
  stores.push(r.value);
  return r.value;
}

function nextEvent(store: SecretStore, timeoutMs = 5000): Promise<SecretStoreEvent> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      off();
      reject(new Error('no store event'));
    }, timeoutMs);
    const off = store.on((e) => {
      clearTimeout(t);
      off();
      resolve(e);
    });
  });
}

function chapMd5(peerName: string, secret: string): AuthRequest {
  const challenge = Buffer.alloc(16, 9);
  const response = createHash('md5')
    .update(Buffer.from([7]))
    .update(secret)
    .update(challenge)
    .digest();
  return {
    method: 'chap-md5',
    peerName,
    ourName: 'branch1',
    source: '10.0.0.9',
    identifier: 7,
    challenge,
    response,
  };
}

const initial = {
  version: 1,
  secrets: [
    { client: 'alice', server: '*', secret: 'alice-old', addresses: '*' },
    { client: 'bob', server: 'branch1', secret: 'bob-pw', addresses: ['10.9.0.20'] },
  ],
};

describe('lookupSecret (pppd scan_authfile rules)', () => {
  const recs: SecretRecord[] = [
    { client: '*', server: '*', secret: 'any', addresses: '*' },
    { client: '*', server: 'hq', secret: 'any-on-hq', addresses: '*' },
    { client: 'alice', server: '*', secret: 'alice-any', addresses: '*' },
    { client: 'alice', server: 'hq', secret: 'alice-hq', addresses: '*' },
  ];
  it('prefers exact client and server, then exact client, then exact server, then wildcards', () => {
    expect(lookupSecret(recs, 'alice', 'hq')?.secret).toBe('alice-hq');
    expect(lookupSecret(recs, 'alice', 'other')?.secret).toBe('alice-any');
    expect(lookupSecret(recs, 'bob', 'hq')?.secret).toBe('any-on-hq');
    expect(lookupSecret(recs, 'bob', 'other')?.secret).toBe('any');
    expect(lookupSecret(recs.slice(2), 'bob', 'hq')).toBeUndefined();
  });
  it('with an unknown server name, matches any server and takes the first best', () => {
    expect(lookupSecret(recs, 'alice', undefined)?.secret).toBe('alice-hq');
    expect(lookupSecret([recs[1]!, recs[0]!], 'carol', undefined)?.secret).toBe('any-on-hq');
  });
});

describe('SecretStore', () => {
  it('opens a valid file and looks records up', async () => {
    const { file } = setup(initial);
    const store = await open(file);
    expect(store.size).toBe(2);
    expect(store.lookup('bob', 'branch1')?.addresses).toEqual(['10.9.0.20']);
    expect(store.lookup('bob', 'elsewhere')).toBeUndefined();
  });

  it('refuses to open a file others can read, with the chmod that fixes it', async () => {
    const { file } = setup(initial);
    chmodSync(file, 0o644);
    const r = await SecretStore.open(file);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(formatConfigError(r.error[0]!)).toContain(`Fix it with: chmod 600 ${file}`);
  });

  it('refuses to open an invalid file, naming the place', async () => {
    const { file } = setup({
      version: 1,
      secrets: [{ client: 'alice', secret: 'x', addresses: ['10.0.0.256'] }],
    });
    const r = await SecretStore.open(file);
    expect(!r.ok && r.error.map(formatConfigError)).toEqual([
      `${file}: secrets[0] (client 'alice').addresses[0]: is not an IPv4 address or CIDR block like "10.9.0.20" or "10.9.0.0/24"`,
    ]);
  });

  it('opens a missing file as an empty set, and the first add creates it 0600', async () => {
    const { file } = setup();
    const store = await open(file);
    expect(store.size).toBe(0);
    const old = process.umask(0o022);
    try {
      const r = await store.add({ client: 'alice', secret: 'pw' });
      expect(r.ok).toBe(true);
    } finally {
      process.umask(old);
    }
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({
      version: 1,
      secrets: [{ client: 'alice', server: '*', secret: 'pw', addresses: '*' }],
    });
  });

  it('refuses to watch a directory that does not exist, saying so', async () => {
    const { dir } = setup();
    const file = path.join(dir, 'missing-dir', 'secrets.json');
    const r = await SecretStore.open(file, { watch: true });
    expect(!r.ok && r.error[0]!.message).toContain('create the directory first');
  });

  it('removes a stale temp file at open', async () => {
    const { dir, file } = setup(initial);
    writeFileSync(path.join(dir, '.secrets.json.tmp-1-deadbeef'), '{"version":');
    await open(file);
    expect(readdirSync(dir).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('add refuses a duplicate unless asked to replace; remove takes records out', async () => {
    const { file } = setup(initial);
    const store = await open(file);
    const dup = await store.add({ client: 'alice', secret: 'new' });
    expect(!dup.ok && dup.error[0]!.message).toContain(
      "a record for client 'alice' and server '*' exists already",
    );
    const rep = await store.add({ client: 'alice', secret: 'new' }, { replace: true });
    expect(rep.ok && rep.value.replaced).toBe(true);
    expect(store.lookup('alice', 'x')?.secret).toBe('new');
    const rm = await store.remove('bob');
    expect(rm.ok && rm.value.map((r) => r.server)).toEqual(['branch1']);
    const again = await store.remove('bob');
    expect(!again.ok && again.error[0]!.message).toBe("no record for client 'bob'");
    expect(
      JSON.parse(readFileSync(file, 'utf8')).secrets.map((r: SecretRecord) => r.client),
    ).toEqual(['alice']);
  });

  it('add validates the record like the file does', async () => {
    const { file } = setup(initial);
    const store = await open(file);
    const r = await store.add({ client: 'x', secret: 's', addresses: ['nope'] });
    expect(!r.ok && r.error[0]!.path).toBe('addresses[0]');
  });

  it('never overwrites a file that is invalid on disk (the hand edit stays to be fixed)', async () => {
    const { file } = setup(initial);
    const store = await open(file);
    const broken = '{ "version": 1, "secrets": [ { "client": "alice" "secret": "x" } ] }';
    writeFileSync(file, broken);
    const r = await store.add({ client: 'carol', secret: 'c' });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error[0]!.message).toContain('is invalid on disk');
      expect(formatConfigError(r.error[1]!)).toMatch(/line 1, column \d+: invalid JSON/);
    }
    expect(readFileSync(file, 'utf8')).toBe(broken);
  });

  it('importRecords adds new ones, leaves identical ones, refuses conflicts unless replace', async () => {
    const { file } = setup(initial);
    const store = await open(file);
    const conflict = await store.importRecords([
      { client: 'carol', server: '*', secret: 'c', addresses: '*' },
      { client: 'alice', server: '*', secret: 'different', addresses: '*' },
    ]);
    expect(!conflict.ok && conflict.error.map((e) => e.message)).toEqual([
      "client 'alice' (server '*') exists already with a different secret or addresses",
    ]);
    expect(store.size).toBe(2);
    const ok = await store.importRecords(
      [
        { client: 'carol', server: '*', secret: 'c', addresses: '*' },
        { client: 'alice', server: '*', secret: 'alice-old', addresses: '*' },
      ],
      {},
    );
    expect(ok.ok && ok.value).toEqual({ added: 1, replaced: 0, unchanged: 1 });
  });

  it('hot reload: a bad hand edit is refused with its place, the last good set keeps authenticating', async () => {
    const { file } = setup(initial);
    const store = await open(file, true);
    const auth = new LocalAuthenticator(store);
    expect((await auth.authenticate(chapMd5('alice', 'alice-old'))).ok).toBe(true);

    // A technician's typo: unknown key and a duplicate client, written in place like an editor.
    let ev = nextEvent(store);
    writeFileSync(
      file,
      JSON.stringify({
        version: 1,
        secrets: [
          { client: 'alice', server: '*', secret: 'alice-new', addresess: '*' },
          { client: 'alice', server: '*', secret: 'again' },
        ],
      }),
    );
    const refused = await ev;
    expect(refused.type).toBe('reload-refused');
    if (refused.type === 'reload-refused') {
      expect(refused.errors.map(formatConfigError)).toContain(
        `${file}: secrets[0] (client 'alice').addresess: unknown key "addresess" (did you mean "addresses"?)`,
      );
      expect(refused.errors.map(formatConfigError).join('\n')).not.toContain('alice-new');
    }
    expect((await auth.authenticate(chapMd5('alice', 'alice-old'))).ok).toBe(true);
    expect((await auth.authenticate(chapMd5('alice', 'alice-new'))).ok).toBe(false);

    // Bad JSON too.
    ev = nextEvent(store);
    writeFileSync(file, '{"version": 1, "secrets": [');
    const bad = await ev;
    expect(bad.type === 'reload-refused' && formatConfigError(bad.errors[0]!)).toMatch(
      new RegExp(`^${file.replace(/[.]/g, '\\.')}: line 1, column 28: invalid JSON`),
    );
    expect((await auth.authenticate(chapMd5('alice', 'alice-old'))).ok).toBe(true);

    // The fix takes effect without a restart.
    ev = nextEvent(store);
    writeFileSync(
      file,
      JSON.stringify({ version: 1, secrets: [{ client: 'alice', secret: 'alice-new' }] }),
    );
    expect(await ev).toEqual({ type: 'reloaded', count: 1 });
    expect((await auth.authenticate(chapMd5('alice', 'alice-new'))).ok).toBe(true);
    expect((await auth.authenticate(chapMd5('bob', 'bob-pw'))).ok).toBe(false);
  });

  it('hot reload sees rename-based writes (the CLI in another store) and keeps watching after them', async () => {
    const { file } = setup(initial);
    const service = await open(file, true);
    const cli = await open(file);
    for (const name of ['carol', 'dave', 'erin']) {
      const ev = nextEvent(service);
      expect((await cli.add({ client: name, secret: `${name}-pw` })).ok).toBe(true);
      expect(await ev).toEqual({ type: 'reloaded', count: service.size });
      expect(service.lookup(name, 'branch1')?.secret).toBe(`${name}-pw`);
    }
    expect(service.size).toBe(5);
  });

  it('hot reload refuses a chmod to 0644 and a deleted file, keeping the last good set', async () => {
    const { file } = setup(initial);
    const store = await open(file, true);
    let ev = nextEvent(store);
    chmodSync(file, 0o644);
    const loose = await ev;
    expect(loose.type === 'reload-refused' && loose.errors[0]!.message).toContain('chmod 600');
    chmodSync(file, 0o600);
    await new Promise((r) => setTimeout(r, 150));
    ev = nextEvent(store);
    unlinkSync(file);
    const gone = await ev;
    expect(gone.type === 'reload-refused' && gone.errors[0]!.message).toContain(
      'still using the last 2 secrets',
    );
    expect(store.lookup('alice', 'x')?.secret).toBe('alice-old');
  });
});
