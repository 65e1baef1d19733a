/**
 * Issue 8, the default demo (`npm start`), as root: it reaches Network on both links of
 * the branch router within 30 s, pings across each, and leaves nothing behind when
 * stopped. Plus the compiled entry point that `npm start` runs after its build.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommandError, isRoot, nodeCommand, run } from '../../src/net/netns.js';
import { MAIN, REPO, statusJson, waitUntil } from './fixtures/branchlink.js';

const NETWORK_BOUND_MS = 30_000;

function netnsList(): string {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
}

describe.skipIf(!isRoot())('the default demo (npm start), headless', () => {
  let dir: string;
  let demo: ChildProcess | undefined;
  let output = '';
  let startedAt = 0;
  let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  let upAfterMs = 0;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'bl-demo-test-'));
    const [file, argv] = nodeCommand(MAIN, ['demo', '--headless', '--dir', dir, '--seconds', '60']);
    startedAt = Date.now();
    demo = spawn(file, argv, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    demo.stdout?.setEncoding('utf8').on('data', (d: string) => {
      output += d;
    });
    demo.stderr?.setEncoding('utf8').on('data', (d: string) => {
      output += d;
    });
    exited = new Promise((resolve) =>
      demo!.once('exit', (code, signal) => resolve({ code, signal })),
    );
  });

  afterAll(async () => {
    if (demo && demo.exitCode === null && demo.signalCode === null) {
      demo.kill('SIGTERM');
      const timer = setTimeout(() => demo?.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }
    // If the demo died without its own cleanup, remove what it named.
    for (const ns of /namespaces (\S+) and (\S+),/.exec(output)?.slice(1) ?? []) {
      if (netnsList().includes(ns)) await run('ip', ['netns', 'delete', ns]).catch(() => {});
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('reaches Network on both links of the branch router within 30 s (status --json)', async () => {
    const socket = join(dir, 'branch.sock');
    const report = await waitUntil(
      'both branch links in network',
      async () => {
        const s = await statusJson(socket);
        // Network begins before IPCP has agreed the addresses: those are part of "up".
        const up = s.links.every((l) => l.phase === 'network' && l.remoteIp !== null);
        return s.links.length === 2 && up ? s : undefined;
      },
      NETWORK_BOUND_MS - (Date.now() - startedAt),
      250,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n--- demo output ---\n${output}`);
    });
    upAfterMs = Date.now() - startedAt;
    console.log(`demo: both links in network ${(upAfterMs / 1000).toFixed(1)} s after start`);
    expect(upAfterMs).toBeLessThanOrEqual(NETWORK_BOUND_MS);
    expect(report.links.map((l) => [l.name, l.type, l.role])).toEqual([
      ['backup-modem', 'dialup', 'dial'],
      ['hq-vpn', 'pptp', 'client'],
    ]);
    for (const l of report.links) {
      expect(l.authMethod).toBe('mschap-v2');
      expect(l.mppe).toMatch(/128/);
      expect(l.localIp).not.toBeNull();
      expect(l.remoteIp).not.toBeNull();
    }
  });

  it('pings successfully across both links', async () => {
    await waitUntil('the demo to say ready', () => output.includes('demo: ready'), 30_000);
    for (const name of ['backup-modem', 'hq-vpn']) {
      const line = output.split('\n').find((l) => l.includes(`across ${name}:`));
      expect(line, output).toMatch(/(\d+) packets transmitted, \1 received, 0% packet loss/);
    }
  });

  it('stops on SIGTERM and leaves no namespace, TUN device or process behind', async () => {
    const names = /namespaces (\S+) and (\S+),/.exec(output)?.slice(1) ?? [];
    expect(names).toHaveLength(2);
    const simDir = /modem lines: 100 → (\S+)\/line-100/.exec(output)?.[1];
    expect(simDir).toBeDefined();
    for (const ns of names) expect(netnsList()).toContain(ns);
    demo!.kill('SIGTERM');
    const timer = setTimeout(() => demo?.kill('SIGKILL'), 30_000);
    const result = await exited;
    clearTimeout(timer);
    expect(result, output).toEqual({ code: 0, signal: null });
    expect(output).toContain('demo: stopping');
    const after = netnsList();
    for (const ns of names) expect(after).not.toContain(ns);
    // The routers ran in the namespaces, so their TUN devices went with them; none
    // was ever made in this namespace.
    const { stdout } = await run('ip', ['-j', 'link']);
    const tuns = (JSON.parse(stdout) as { ifname: string; link_type: string }[]).filter(
      (l) => l.link_type === 'none' && /^bl\d+$/.test(l.ifname),
    );
    expect(tuns).toEqual([]);
    const ps = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
    expect(ps).not.toContain(dir);
    expect(ps).not.toContain(simDir!);
  });
});

describe('the compiled entry point of npm start', () => {
  it('builds with npm run build and answers --help from dist/', async () => {
    const build = await run('npm', ['run', '--silent', 'build'], { timeoutMs: 120_000 });
    expect(build.stderr).toBe('');
    const help = await run(process.execPath, [join(REPO, 'dist/src/cli/main.js'), '--help']);
    expect(help.stdout).toMatch(/^Usage: branchlink/);
    for (const command of ['run', 'demo', 'status', 'dial', 'hangup', 'capture'])
      expect(help.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
    const noService = await run(process.execPath, [
      join(REPO, 'dist/src/cli/main.js'),
      'status',
      '--socket',
      join(tmpdir(), 'bl-no-such-service.sock'),
    ]).catch((e: unknown) => e);
    expect(noService).toBeInstanceOf(CommandError);
    expect((noService as CommandError).exitCode).toBe(1);
    expect((noService as CommandError).stderr).toMatch(/^branchlink: branchlink is not running/);
  }, 120_000);
});
