import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatConfigError, validateConfig } from '../../../src/daemon/config.js';
import { RadiusConfigSchema, readSharedSecret } from '../../../src/secrets/radius/config.js';
import { createRadius } from '../../../src/secrets/radius/setup.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'branchlink-radius-config-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function secretFile(name: string, content: string, mode = 0o600): string {
  const file = path.join(dir, name);
  writeFileSync(file, content);
  chmodSync(file, mode);
  return file;
}

const errors = (input: unknown): string[] => {
  const r = validateConfig(input, 'config.json');
  return r.ok ? [] : r.error.map(formatConfigError);
};

describe('radius config section', () => {
  it('fills in the defaults', () => {
    const c = RadiusConfigSchema.parse({ servers: [{ host: 'radius.example', secretFile: '/s' }] });
    expect(c).toEqual({
      servers: [{ host: 'radius.example', authPort: 1812, acctPort: 1813, secretFile: '/s' }],
      timeout: 3,
      retries: 2,
      deadTime: 60,
      interimInterval: 300,
      fallback: 'none',
      accounting: true,
      requireMessageAuthenticator: true,
    });
  });

  it('is optional in config.json and validated there with paths in messages', () => {
    expect(errors({})).toEqual([]);
    expect(
      errors({
        radius: {
          servers: [{ host: '10.0.0.300', secretFile: 'relative', authport: 1 }],
          fallback: 'lowdb',
          interimInterval: 30,
        },
      }).sort(),
    ).toEqual(
      [
        'config.json: radius.servers[0].authport: unknown key "authport" (did you mean "authPort"?)',
        'config.json: radius.servers[0].host: is not a host name or IPv4 address',
        'config.json: radius.servers[0].secretFile: must be an absolute path (the shared-secret file, mode 0600)',
        'config.json: radius.interimInterval: must be 0 (off) or at least 60 seconds (RFC 2869 §5.16)',
        'config.json: radius.fallback: must be "none" or "local"',
      ].sort(),
    );
    expect(errors({ radius: { servers: [] } })).toEqual([
      'config.json: radius.servers: must list at least one server',
    ]);
  });
});

describe('shared secret file', () => {
  it('reads a 0600 file without its trailing newline', async () => {
    const r = await readSharedSecret(secretFile('ok.secret', 'testing123\n'));
    expect(r.ok && r.value.toString()).toBe('testing123');
  });

  it('refuses a file group or others can read, saying how to fix it', async () => {
    const r = await readSharedSecret(secretFile('loose.secret', 'hunter2', 0o640));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toContain('chmod 600');
    expect(r.error).not.toContain('hunter2');
  });

  it('refuses an empty, a multi-line and a missing file', async () => {
    expect((await readSharedSecret(secretFile('empty.secret', '\n'))).ok).toBe(false);
    const two = await readSharedSecret(secretFile('two.secret', 'a\nb\n'));
    expect(!two.ok && two.error).toContain('more than one line');
    expect(!two.ok && two.error).not.toContain('a\nb');
    expect((await readSharedSecret(path.join(dir, 'absent'))).ok).toBe(false);
  });

  it('createRadius reports every unreadable secret and a local fallback with no store', async () => {
    const config = RadiusConfigSchema.parse({
      servers: [
        { host: '127.0.0.1', secretFile: path.join(dir, 'nope1') },
        { host: '127.0.0.2', secretFile: path.join(dir, 'nope2') },
      ],
      fallback: 'local',
    });
    const r = await createRadius(config, { defaultNasIdentifier: 'branch1' });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error.length).toBe(3);
  });

  it('createRadius builds the authenticator and accounting from a valid config', async () => {
    const file = secretFile('good.secret', 's3cret\n');
    const config = RadiusConfigSchema.parse({
      servers: [{ host: '127.0.0.1', secretFile: file }],
      accounting: false,
    });
    const r = await createRadius(config, { defaultNasIdentifier: 'branch1' });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.accounting).toBeUndefined();
    expect(r.value.authClient.serverStates()).toEqual([{ label: '127.0.0.1:1812', dead: false }]);
    r.value.close();
  });
});
