/**
 * Cross-check oracle: runs Node's own OpenSSL MD4 / RC4 / DES-ECB in a child process started
 * with --openssl-legacy-provider. The flag stays inside that child; branchlink never sets it.
 */
import { execFileSync } from 'node:child_process';

export type LegacyJob =
  | { op: 'md4'; data: string }
  | { op: 'rc4'; key: string; data: string }
  | { op: 'des-ecb'; key: string; data: string };

const SCRIPT = `
const c = require('node:crypto');
const jobs = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
const H = (s) => Buffer.from(s, 'hex');
const out = jobs.map((j) => {
  if (j.op === 'md4') return c.createHash('md4').update(H(j.data)).digest('hex');
  const alg = j.op === 'rc4' ? 'rc4' : 'des-ecb';
  const ci = c.createCipheriv(alg, H(j.key), null);
  ci.setAutoPadding(false);
  return Buffer.concat([ci.update(H(j.data)), ci.final()]).toString('hex');
});
process.stdout.write(JSON.stringify(out));
`;

/** Runs all jobs in one child process; returns hex outputs in order. */
export function legacyOpenssl(jobs: readonly LegacyJob[]): string[] {
  const stdout = execFileSync(process.execPath, ['--openssl-legacy-provider', '-e', SCRIPT], {
    input: JSON.stringify(jobs),
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(stdout.toString('utf8')) as string[];
}
