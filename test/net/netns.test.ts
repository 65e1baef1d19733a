import { describe, expect, it } from 'vitest';
import { CommandError, nodeCommand, run, uniqueName } from '../../src/net/netns.js';

describe('uniqueName', () => {
  it('gives distinct names that fit an interface name', () => {
    const names = Array.from({ length: 500 }, () => uniqueName('branchlinkprefix'));
    expect(new Set(names).size).toBe(500);
    for (const n of names) expect(n.length).toBeLessThanOrEqual(15);
  });

  it('keeps the prefix when there is room and embeds the pid', () => {
    const n = uniqueName('blns', 32);
    expect(n.startsWith(`blns${process.pid.toString(36)}x`)).toBe(true);
  });
});

describe('nodeCommand', () => {
  it('runs TypeScript through the tsx loader and JavaScript directly', () => {
    const [node, tsArgs] = nodeCommand('/x/agent.ts', ['a']);
    expect(node).toBe(process.execPath);
    expect(tsArgs[0]).toBe('--import');
    expect(tsArgs[1]).toMatch(/^file:.*tsx/);
    expect(tsArgs.slice(2)).toEqual(['/x/agent.ts', 'a']);
    expect(nodeCommand('/x/agent.js')).toEqual([process.execPath, ['/x/agent.js']]);
  });
});

describe('run', () => {
  it('resolves with stdout and stderr', async () => {
    await expect(run('sh', ['-c', 'echo out; echo err >&2'])).resolves.toEqual({
      stdout: 'out\n',
      stderr: 'err\n',
    });
  });

  it('rejects with the exit status and stderr of a failing command', async () => {
    const failure = run('sh', ['-c', 'echo broken >&2; exit 3']);
    await expect(failure).rejects.toBeInstanceOf(CommandError);
    await expect(failure).rejects.toMatchObject({ exitCode: 3, stderr: 'broken\n' });
    await expect(failure).rejects.toThrow('sh -c echo broken >&2; exit 3: exit status 3: broken');
  });

  it('kills a command that outlives its timeout', async () => {
    await expect(run('sleep', ['5'], { timeoutMs: 100 })).rejects.toThrow(/timed out/);
  });
});
