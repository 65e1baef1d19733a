import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CommandError,
  createVethPair,
  isRoot,
  NetNamespace,
  run,
  uniqueName,
  type VethPair,
} from '../../../src/net/netns.js';

const skipReason = isRoot() ? undefined : 'needs root (network namespaces)';
const suffix = skipReason === undefined ? '' : ` [skipped: ${skipReason}]`;

describe.skipIf(skipReason !== undefined)(`network namespaces and veth pairs${suffix}`, () => {
  let a: NetNamespace;
  let b: NetNamespace;
  let pair: VethPair;
  const dir = mkdtempSync(join(tmpdir(), 'blnetns-'));

  beforeAll(async () => {
    a = await NetNamespace.create(uniqueName('blnsa', 32));
    b = await NetNamespace.create(uniqueName('blnsb', 32));
    pair = await createVethPair(
      { name: uniqueName('blva'), ns: a, address: '10.202.0.1/30' },
      { name: uniqueName('blvb'), ns: b, address: '10.202.0.2/30' },
    );
  });

  afterAll(async () => {
    await pair?.delete();
    await a?.delete();
    await b?.delete();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates namespaces that ip netns lists, with loopback up', async () => {
    const { stdout } = await run('ip', ['netns', 'list']);
    expect(stdout).toContain(a.name);
    expect(stdout).toContain(b.name);
    const lo = await a.ipJson<{ flags: string[] }[]>(['link', 'show', 'dev', 'lo']);
    expect(lo[0]?.flags).toContain('UP');
  });

  it('connects the two namespaces with an addressed veth pair that carries ping', async () => {
    const addrs = await a.ipJson<{ addr_info: { local: string; prefixlen: number }[] }[]>([
      'addr',
      'show',
      'dev',
      pair.a.name,
    ]);
    expect(addrs[0]?.addr_info).toContainEqual(
      expect.objectContaining({ local: '10.202.0.1', prefixlen: 30 }),
    );
    const { stdout } = await a.exec('ping', [
      '-n',
      '-c',
      '2',
      '-i',
      '0.2',
      '-W',
      '2',
      '10.202.0.2',
    ]);
    expect(stdout).toMatch(/2 packets transmitted, 2 received/);
  });

  it('keeps the host namespace out of it: the veth ends are not visible on the host', async () => {
    await expect(run('ip', ['link', 'show', 'dev', pair.a.name])).rejects.toBeInstanceOf(
      CommandError,
    );
  });

  it('runs a TypeScript Node process inside a namespace', async () => {
    const script = join(dir, 'where.ts');
    writeFileSync(
      script,
      "import { networkInterfaces } from 'node:os';\n" +
        'const names: string[] = Object.keys(networkInterfaces());\n' +
        'process.stdout.write(JSON.stringify(names));\n',
    );
    const child = b.spawnNode(script, [], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(0);
    expect(JSON.parse(out)).toEqual(expect.arrayContaining(['lo', pair.b.name]));
  });

  it('reports a failing command with its stderr', async () => {
    const failure = a.ip(['link', 'show', 'dev', 'blnosuchdev0']);
    await expect(failure).rejects.toBeInstanceOf(CommandError);
    await expect(failure).rejects.toThrow(/exit status \d+: Device "blnosuchdev0" does not exist/);
  });

  it('tears down idempotently and kills the children it started', async () => {
    const c = await NetNamespace.create(uniqueName('blnsc', 32));
    const sleeper = c.spawn('sleep', ['60']);
    const exited = new Promise((resolve) => sleeper.once('exit', resolve));
    await c.delete();
    await exited;
    expect(sleeper.signalCode ?? sleeper.exitCode).not.toBeNull();
    await c.delete();
    const { stdout } = await run('ip', ['netns', 'list']);
    expect(stdout).not.toContain(c.name);
    expect(() => c.spawn('true', [])).toThrow(/is deleted/);
    await pair.delete();
    await pair.delete();
  });
});
