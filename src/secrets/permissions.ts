/**
 * The service refuses a secrets file others could read or change, the way ssh refuses a
 * private key with loose permissions, and says exactly how to fix it.
 */
import { constants, promises as fsp, readFileSync, type Stats } from 'node:fs';
import path from 'node:path';
import { ok, type Result } from '../ppp/result.js';

export type PermissionProblemKind =
  | 'missing'
  | 'not-a-file'
  | 'too-open'
  | 'wrong-owner'
  | 'unreadable'
  | 'directory-writable'
  | 'directory-owner';

export interface PermissionProblem {
  readonly kind: PermissionProblemKind;
  /** Says what is wrong and ends with the command that fixes it. */
  readonly reason: string;
}

function problem(
  kind: PermissionProblemKind,
  reason: string,
): { ok: false; error: PermissionProblem } {
  return { ok: false, error: { kind, reason } };
}

export interface PermissionOptions {
  /** The uid the service runs as; default the effective uid of this process. */
  readonly uid?: number;
  /** The gid for the `chown` advice; default the effective gid of this process. */
  readonly gid?: number;
}

/** Quotes a path for a shell command only when it needs it. */
export function shellQuote(text: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

function nameFromDb(file: string, id: number): string | undefined {
  try {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const f = line.split(':');
      if (f.length >= 3 && Number(f[2]) === id && f[0]) return f[0];
    }
  } catch {
    // No database: fall back to the number.
  }
  return undefined;
}

export function userName(uid: number): string | undefined {
  return nameFromDb('/etc/passwd', uid);
}

export function groupName(gid: number): string | undefined {
  return nameFromDb('/etc/group', gid);
}

function who(uid: number): string {
  const n = userName(uid);
  return n ? `uid ${uid} (${n})` : `uid ${uid}`;
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

/**
 * Checks the secrets file and its directory. On success returns the file's stat.
 * `missing` is its own kind so a caller may treat an absent file as "no secrets yet".
 */
export async function checkSecretsPermissions(
  file: string,
  options: PermissionOptions = {},
): Promise<Result<Stats, PermissionProblem>> {
  const uid = options.uid ?? process.geteuid?.() ?? 0;
  const gid = options.gid ?? process.getegid?.() ?? 0;
  const q = shellQuote(file);
  let st: Stats;
  try {
    st = await fsp.stat(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return problem('missing', `${file} does not exist`);
    if (code === 'EACCES')
      return problem(
        'unreadable',
        `${file} cannot be read by ${who(uid)} (permission denied on the file or a directory above it)`,
      );
    return problem('unreadable', `${file} cannot be examined: ${code ?? 'error'}`);
  }
  if (!st.isFile()) return problem('not-a-file', `${file} is not a regular file`);
  if (st.uid !== uid) {
    const fix = `chown ${userName(uid) ?? uid}:${groupName(gid) ?? gid} ${q}`;
    return problem(
      'wrong-owner',
      `${file} is owned by ${who(st.uid)}, but branchlink runs as ${who(uid)}: another user could change the secrets, so the file is ignored. Fix it with: ${fix}`,
    );
  }
  if ((st.mode & 0o077) !== 0) {
    return problem(
      'too-open',
      `Permissions ${octal(st.mode)} for '${file}' are too open: the secrets file must not be accessible by group or others, so it is ignored. Fix it with: chmod 600 ${q}`,
    );
  }
  const dir = path.dirname(path.resolve(file));
  try {
    const ds = await fsp.stat(dir);
    // Whoever can write the directory can replace the file. A sticky directory (like /tmp)
    // forbids replacing someone else's file, so only plain group/other write is refused.
    const sticky = (ds.mode & 0o1000) !== 0; // S_ISVTX
    if ((ds.mode & 0o022) !== 0 && !sticky) {
      return problem(
        'directory-writable',
        `Directory '${dir}' is writable by group or others (mode ${octal(ds.mode)}): another user could replace the secrets file. Fix it with: chmod go-w ${shellQuote(dir)}`,
      );
    }
    if (ds.uid !== uid && ds.uid !== 0) {
      return problem(
        'directory-owner',
        `Directory '${dir}' is owned by ${who(ds.uid)}, who could replace the secrets file. Fix it with: chown ${userName(uid) ?? uid} ${shellQuote(dir)}`,
      );
    }
  } catch (e) {
    return problem(
      'unreadable',
      `${dir} cannot be examined: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
  try {
    await fsp.access(file, constants.R_OK);
  } catch {
    return problem('unreadable', `${file} cannot be read by ${who(uid)}`);
  }
  return ok(st);
}
