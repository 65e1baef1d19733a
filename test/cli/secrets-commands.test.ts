import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CliStreams,
  configCheck,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  secretsAdd,
  secretsExport,
  secretsImport,
  secretsList,
  secretsRemove,
} from '../../src/cli/secrets-commands.js';
import { ntPasswordHash } from '../../src/secrets/schema.js';
import { bundleForNode } from '../secrets/helpers/bundle.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function secretsFile(content?: unknown): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'branchlink-cli-'));
  dirs.push(dir);
  const file = path.join(dir, 'secrets.json');
  if (content !== undefined) {
    writeFileSync(file, JSON.stringify(content));
    chmodSync(file, 0o600);
  }
  return file;
}

interface Captured extends CliStreams {
  out(): string;
  err(): string;
}

function io(stdinText = ''): Captured {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  stderr.on('data', (c: Buffer) => {
    err += c.toString();
  });
  return {
    stdin: Readable.from([Buffer.from(stdinText)]),
    stdout,
    stderr,
    out: () => out,
    err: () => err,
  };
}

const initial = {
  version: 1,
  secrets: [
    { client: 'alice', server: '*', secret: 'alice-secret-1', addresses: '*', note: 'laptop' },
    {
      client: 'bob',
      server: 'branch1',
      ntHash: ntPasswordHash('bob-pw').toString('hex'),
      addresses: ['10.9.0.20'],
    },
  ],
};

describe('secrets list', () => {
  it('shows names, servers, addresses and the kind of secret, never the secret', async () => {
    const file = secretsFile(initial);
    const c = io();
    expect(await secretsList({ file }, c)).toBe(EXIT_OK);
    expect(c.out()).toContain('alice');
    expect(c.out()).toContain('10.9.0.20');
    expect(c.out()).toContain('nt-hash (MS-CHAP only)');
    expect(c.out()).toContain('laptop');
    expect(c.out()).not.toContain('alice-secret-1');
    expect(c.out()).not.toContain(initial.secrets[1]!.ntHash!);
  });

  it('shows the secrets with --show-secrets', async () => {
    const file = secretsFile(initial);
    const c = io();
    await secretsList({ file, showSecrets: true }, c);
    expect(c.out()).toContain('alice-secret-1');
    expect(c.out()).toContain(initial.secrets[1]!.ntHash!);
  });

  it('refuses a loose file with the fix, exit 1', async () => {
    const file = secretsFile(initial);
    chmodSync(file, 0o640);
    const c = io();
    expect(await secretsList({ file }, c)).toBe(EXIT_FAILURE);
    expect(c.err()).toContain(`chmod 600 ${file}`);
  });
});

describe('secrets add / remove', () => {
  it('reads the secret from stdin when it is not a terminal (one trailing newline dropped)', async () => {
    const file = secretsFile(initial);
    const c = io('carol pass phrase\n');
    expect(await secretsAdd({ file, client: 'carol', addresses: ['10.9.0.30'] }, c)).toBe(EXIT_OK);
    expect(c.out()).toBe(`${file}: added client 'carol' (server '*', addresses 10.9.0.30)\n`);
    const data = JSON.parse(readFileSync(file, 'utf8'));
    expect(data.secrets[2]).toEqual({
      client: 'carol',
      server: '*',
      secret: 'carol pass phrase',
      addresses: ['10.9.0.30'],
    });
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('--nt-hash stores only the NT hash of the secret', async () => {
    const file = secretsFile(initial);
    const c = io('dave-pw\r\n');
    expect(await secretsAdd({ file, client: 'dave', server: 'branch1', ntHash: true }, c)).toBe(
      EXIT_OK,
    );
    const rec = JSON.parse(readFileSync(file, 'utf8')).secrets[2];
    expect(rec).toEqual({
      client: 'dave',
      server: 'branch1',
      ntHash: ntPasswordHash('dave-pw').toString('hex'),
      addresses: '*',
    });
    expect(readFileSync(file, 'utf8')).not.toContain('dave-pw');
  });

  it('refuses an existing client (unless --replace), an empty secret, a bad address', async () => {
    const file = secretsFile(initial);
    let c = io('x\n');
    expect(await secretsAdd({ file, client: 'alice' }, c)).toBe(EXIT_FAILURE);
    expect(c.err()).toContain("a record for client 'alice' and server '*' exists already");
    c = io('new-alice\n');
    expect(await secretsAdd({ file, client: 'alice', replace: true }, c)).toBe(EXIT_OK);
    expect(c.out()).toContain('replaced');
    c = io('\n');
    expect(await secretsAdd({ file, client: 'erin' }, c)).toBe(EXIT_FAILURE);
    c = io('x\n');
    expect(await secretsAdd({ file, client: 'erin', addresses: ['10.0.0.1', '*'] }, c)).toBe(
      EXIT_USAGE,
    );
    c = io('x\n');
    expect(await secretsAdd({ file, client: 'erin', addresses: ['host.example'] }, c)).toBe(
      EXIT_USAGE,
    );
    c = io('two\nlines\n');
    expect(await secretsAdd({ file, client: 'erin' }, c)).toBe(EXIT_FAILURE);
    expect(c.err()).toContain('single line');
  });

  it('removes a client', async () => {
    const file = secretsFile(initial);
    const c = io();
    expect(await secretsRemove({ file, client: 'bob' }, c)).toBe(EXIT_OK);
    expect(c.out()).toBe(`${file}: removed 1 record of client 'bob' (server 'branch1')\n`);
    expect(await secretsRemove({ file, client: 'bob' }, io())).toBe(EXIT_FAILURE);
  });
});

describe('secrets add on a real terminal', () => {
  let child: string;
  beforeAll(async () => {
    child = await bundleForNode(path.join(import.meta.dirname, 'helpers/add-child.ts'), 'cli-add');
  }, 60_000);
  afterAll(() => {
    if (child) rmSync(path.dirname(child), { recursive: true, force: true });
  });

  const haveSocat = spawnSync('socat', ['-V']).status === 0;

  it.runIf(haveSocat)(
    'asks twice without echoing the secret, then stores it',
    async () => {
      const file = secretsFile(initial);
      const SECRET = 'pty-Secret-4711';
      const p = spawn(
        'socat',
        ['-', `EXEC:${process.execPath} ${child} ${file} frank,pty,stderr,setsid,ctty`],
        {
          stdio: ['pipe', 'pipe', 'pipe'],
        },
      );
      let seen = '';
      const waitFor = (text: string): Promise<void> =>
        new Promise((resolve, reject) => {
          const t = setTimeout(
            () => reject(new Error(`timeout waiting for ${text}; saw ${JSON.stringify(seen)}`)),
            15_000,
          );
          const check = (): void => {
            if (seen.includes(text)) {
              clearTimeout(t);
              p.stdout.off('data', check);
              resolve();
            }
          };
          p.stdout.on('data', check);
          check();
        });
      p.stdout.on('data', (c: Buffer) => {
        seen += c.toString();
      });
      await waitFor('Secret for frank: ');
      p.stdin.write(`${SECRET}\r`);
      await waitFor('Again: ');
      p.stdin.write(`${SECRET}\r`);
      await waitFor('added client');
      const code = await new Promise<number | null>((resolve) => p.on('close', resolve));
      p.stdin.end();
      expect(code).toBe(0);
      expect(seen).not.toContain(SECRET);
      const rec = JSON.parse(readFileSync(file, 'utf8')).secrets.find(
        (r: { client: string }) => r.client === 'frank',
      );
      expect(rec.secret).toBe(SECRET);
    },
    30_000,
  );
});

describe('secrets import / export', () => {
  const CHAP = [
    '# Secrets for authentication using CHAP',
    '# client\tserver\tsecret\tIP addresses',
    'carol\t*\t"carol pw"\t*',
    "'dave x'\tpptpd\td\\\\pw\t10.9.0.40",
    'eve * @/etc/ppp/eve.secret *',
    '',
  ].join('\n');

  it('imports a chap-secrets file, reports skipped lines, exports it back', async () => {
    const file = secretsFile(initial);
    const from = path.join(path.dirname(file), 'chap-secrets');
    writeFileSync(from, CHAP);
    const c = io();
    expect(await secretsImport({ file, from }, c)).toBe(EXIT_OK);
    expect(c.out()).toContain('2 added, 0 replaced, 0 unchanged; 1 entry skipped');
    expect(c.err()).toContain(`${from}: line 5: skipped client 'eve'`);
    const e = io();
    expect(await secretsExport({ file }, e)).toBe(EXIT_OK);
    expect(e.out()).toContain('carol\t*\t"carol pw"\t*\n');
    expect(e.out()).toContain('"dave x"\tpptpd\t"d\\\\pw"\t10.9.0.40\n');
    expect(e.out()).toContain('alice\t*\talice-secret-1\t*\n');
    expect(e.err()).toBe(
      "skipped client 'bob' (server 'branch1'): holds only an NT hash; pppd secrets files need the password\n",
    );
    // Importing the export again changes nothing.
    const again = path.join(path.dirname(file), 'again');
    writeFileSync(again, e.out());
    const c2 = io();
    expect(await secretsImport({ file, from: again }, c2)).toBe(EXIT_OK);
    expect(c2.out()).toContain('0 added, 0 replaced, 3 unchanged');
  });

  it('refuses conflicting records unless --replace', async () => {
    const file = secretsFile(initial);
    const from = path.join(path.dirname(file), 'chap-secrets');
    writeFileSync(from, 'alice * other-secret *\n');
    const c = io();
    expect(await secretsImport({ file, from }, c)).toBe(EXIT_FAILURE);
    expect(c.err()).toContain('nothing was imported');
    expect(await secretsImport({ file, from, replace: true }, io())).toBe(EXIT_OK);
    expect(JSON.parse(readFileSync(file, 'utf8')).secrets[0].secret).toBe('other-secret');
  });
});

describe('config check', () => {
  it('prints every error with its place and exits 1; prints a summary and exits 0 when valid', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'branchlink-cli-config-'));
    dirs.push(dir);
    const bad = path.join(dir, 'bad.json');
    writeFileSync(
      bad,
      JSON.stringify({
        links: [{ type: 'dialup', role: 'dial', name: 'm', device: '/dev/ttyUSB0', numbr: '1' }],
      }),
    );
    let c = io();
    expect(configCheck({ path: bad }, c)).toBe(EXIT_FAILURE);
    expect(c.err()).toContain(
      `${bad}: links[0] (link 'm').numbr: unknown key "numbr" (did you mean "number"?)`,
    );
    expect(c.err()).toContain(`${bad}: links[0] (link 'm').number: is required for role 'dial'`);
    expect(c.err()).toContain(`${bad}: 2 errors`);
    const good = path.join(dir, 'good.json');
    writeFileSync(
      good,
      JSON.stringify({
        links: [{ type: 'pptp', role: 'client', name: 'hq', server: '203.0.113.5' }],
      }),
    );
    c = io();
    expect(configCheck({ path: good }, c)).toBe(EXIT_OK);
    expect(c.out()).toContain(`${good}: OK`);
    expect(c.out()).toContain('hq: PPTP client to 203.0.113.5:1723');
  });
});
