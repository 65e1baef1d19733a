import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkSecretsPermissions, shellQuote, userName } from '../../src/secrets/permissions.js';

const base = mkdtempSync(path.join(tmpdir(), 'branchlink-perm-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

let n = 0;
function fileWithMode(mode: number, dirMode = 0o700): string {
  const dir = path.join(base, `d${n++}`);
  mkdirSync(dir);
  chmodSync(dir, dirMode);
  const file = path.join(dir, 'secrets.json');
  writeFileSync(file, '{}');
  chmodSync(file, mode);
  return file;
}

const me = process.geteuid!();

describe('checkSecretsPermissions', () => {
  it('accepts a 0600 file owned by the service user', async () => {
    const r = await checkSecretsPermissions(fileWithMode(0o600));
    expect(r.ok).toBe(true);
  });

  it('accepts 0400 too (stricter is fine)', async () => {
    expect((await checkSecretsPermissions(fileWithMode(0o400))).ok).toBe(true);
  });

  it.each([0o644, 0o640, 0o604, 0o660, 0o666])(
    'refuses mode %o with the exact chmod that fixes it',
    async (mode) => {
      const file = fileWithMode(mode);
      const r = await checkSecretsPermissions(file);
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.error.kind).toBe('too-open');
      expect(r.error.reason).toContain(
        `Permissions 0${mode.toString(8)} for '${file}' are too open`,
      );
      expect(r.error.reason).toMatch(
        new RegExp(`Fix it with: chmod 600 ${file.replace(/[.]/g, '\\.')}$`),
      );
    },
  );

  it('refuses a file owned by another user and says which chown fixes it', async () => {
    const file = fileWithMode(0o600);
    // Pretend the service runs as another uid: the file (ours) is then "someone else's".
    const r = await checkSecretsPermissions(file, { uid: me + 1000, gid: 0 });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.kind).toBe('wrong-owner');
    expect(r.error.reason).toContain(`is owned by uid ${me}`);
    expect(r.error.reason).toMatch(/Fix it with: chown \S+:\S+ /);
    expect(r.error.reason.endsWith(file)).toBe(true);
  });

  it('names root as root in the chown advice', async () => {
    const file = fileWithMode(0o600);
    const r = await checkSecretsPermissions(file, { uid: 0, gid: 0 });
    if (me === 0) {
      expect(r.ok).toBe(true);
    } else {
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.reason).toContain(`chown ${userName(0) ?? 0}:`);
    }
  });

  it('refuses a directory others can write into (they could replace the file)', async () => {
    const file = fileWithMode(0o600, 0o777);
    const r = await checkSecretsPermissions(file);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.kind).toBe('directory-writable');
      expect(r.error.reason).toContain(`Fix it with: chmod go-w ${path.dirname(file)}`);
    }
  });

  it('accepts a sticky world-writable directory (others cannot replace our file)', async () => {
    const file = fileWithMode(0o600, 0o1777);
    expect((await checkSecretsPermissions(file)).ok).toBe(true);
  });

  it('reports a missing file as its own kind and refuses a non-file', async () => {
    const r = await checkSecretsPermissions(path.join(base, 'nope.json'));
    expect(!r.ok && r.error.kind).toBe('missing');
    const dir = path.join(base, 'adir');
    mkdirSync(dir);
    const link = path.join(base, 'link.json');
    symlinkSync(dir, link);
    const d = await checkSecretsPermissions(link);
    expect(!d.ok && d.error.kind).toBe('not-a-file');
  });

  it('quotes paths for the shell only when needed', () => {
    expect(shellQuote('/etc/branchlink/secrets.json')).toBe('/etc/branchlink/secrets.json');
    expect(shellQuote("/tmp/it's here")).toBe(`'/tmp/it'\\''s here'`);
  });
});
