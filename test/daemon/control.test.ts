import { mkdtempSync, statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { callService, ServiceNotRunning } from '../../src/cli/control-client.js';
import type { ControlCommand } from '../../src/daemon/control-protocol.js';
import { ControlServer } from '../../src/daemon/control-server.js';

const servers: ControlServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function serve(handler: (c: ControlCommand) => Promise<unknown>): Promise<string> {
  const path = join(mkdtempSync(join(tmpdir(), 'bl-ctl-')), 'run', 'control.sock');
  const server = new ControlServer(path, handler);
  servers.push(server);
  await server.listen();
  return path;
}

describe('control socket', () => {
  it('answers commands and is root-only (0600)', async () => {
    const seen: ControlCommand[] = [];
    const path = await serve(async (c) => {
      seen.push(c);
      if (c.command === 'hangup' && c.link === 'nope') throw new Error("no link named 'nope'");
      return { links: [] };
    });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(await callService(path, { command: 'status' })).toEqual({ links: [] });
    await expect(callService(path, { command: 'hangup', link: 'nope' })).rejects.toThrow(
      "no link named 'nope'",
    );
    expect(seen).toEqual([{ command: 'status' }, { command: 'hangup', link: 'nope' }]);
  });

  it('says in one line that the service is not running', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'bl-ctl-')), 'control.sock');
    const call = callService(path, { command: 'status' });
    await expect(call).rejects.toBeInstanceOf(ServiceNotRunning);
    await expect(call).rejects.toThrow(`branchlink is not running (no service on ${path})`);
  });

  it('replies with an error to garbage and to unknown commands, and survives', async () => {
    const path = await serve(async () => 'fine');
    const reply = await new Promise<string>((resolve) => {
      const s = createConnection(path);
      let got = '';
      s.setEncoding('utf8');
      s.on('data', (d: string) => {
        got += d;
        if (got.split('\n').length > 2) {
          s.end();
          resolve(got);
        }
      });
      s.write('{not json\n{"id":2,"command":"format-disk"}\n');
    });
    expect(
      reply
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual([
      { id: -1, ok: false, error: 'request is not JSON' },
      { id: -1, ok: false, error: 'unknown command "format-disk"' },
    ]);
    expect(await callService(path, { command: 'status' })).toBe('fine');
  });

  it('refuses to start when another service owns the socket', async () => {
    const path = await serve(async () => 1);
    await expect(new ControlServer(path, async () => 2).listen()).rejects.toThrow(
      'already listening',
    );
  });
});
