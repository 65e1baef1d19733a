/**
 * PPTP over real TCP and real GRE (raw IP protocol 47 sockets) between two network
 * namespaces joined by a veth pair: a server in one, a client in the other, each a child
 * process started with `ip netns exec`. Needs root. Names are unique to this file and
 * run, and torn down in afterAll even on failure.
 */
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const isRoot = process.getuid?.() === 0;
const tag = `${process.pid % 100000}`;
const NS_SERVER = `blpptp-s-${tag}`;
const NS_CLIENT = `blpptp-c-${tag}`;
const VETH_SERVER = `vpps${tag}`; // interface names stay under 15 characters
const VETH_CLIENT = `vppc${tag}`;
const SUBNET = `10.213.${(process.pid % 200) + 20}`;
const SERVER_IP = `${SUBNET}.1`;
const CLIENT_IP = `${SUBNET}.2`;
const THIRD_IP = `${SUBNET}.3`;
const PORT = 1723;
const FIXTURE = fileURLToPath(new URL('./fixtures/pptp-node.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../../../', import.meta.url));

function sh(...args: string[]): void {
  execFileSync(args[0]!, args.slice(1), { stdio: 'pipe' });
}

function shQuiet(...args: string[]): void {
  try {
    sh(...args);
  } catch {
    // teardown: already gone
  }
}

type Event = Record<string, unknown> & { event: string };

class Node {
  readonly events: Event[] = [];
  readonly stderr: string[] = [];
  readonly child: ChildProcessWithoutNullStreams;
  private buffer = '';

  constructor(ns: string, args: string[]) {
    this.child = spawn(
      'ip',
      ['netns', 'exec', ns, process.execPath, '--import', 'tsx', FIXTURE, ...args],
      {
        cwd: REPO,
      },
    );
    this.child.stdout.on('data', (d: Buffer) => {
      this.buffer += d.toString();
      for (let i = this.buffer.indexOf('\n'); i >= 0; i = this.buffer.indexOf('\n')) {
        const line = this.buffer.slice(0, i);
        this.buffer = this.buffer.slice(i + 1);
        if (line.trim() !== '') this.events.push(JSON.parse(line) as Event);
      }
    });
    this.child.stderr.on('data', (d: Buffer) => this.stderr.push(d.toString()));
  }

  command(c: Record<string, unknown>): void {
    this.child.stdin.write(`${JSON.stringify(c)}\n`);
  }

  async waitFor(
    name: string,
    ms = 15_000,
    pred: (e: Event) => boolean = () => true,
  ): Promise<Event> {
    const end = Date.now() + ms;
    for (;;) {
      const e = this.events.find((x) => x.event === name && pred(x));
      if (e !== undefined) return e;
      const error = this.events.find((x) => x.event === 'error');
      if (error !== undefined) throw new Error(`child error: ${String(error.message)}`);
      if (Date.now() > end) {
        throw new Error(
          `timed out waiting for ${name}; events ${JSON.stringify(this.events)} stderr ${this.stderr.join('')}`,
        );
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async stats(): Promise<Event> {
    const before = this.events.length;
    this.command({ cmd: 'stats' });
    for (;;) {
      const e = this.events.slice(before).find((x) => x.event === 'stats');
      if (e !== undefined) return e;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.pid !== undefined) this.child.kill('SIGKILL');
  }
}

describe.skipIf(!isRoot)('PPTP between two network namespaces (real GRE)', () => {
  let server: Node | undefined;
  let client: Node | undefined;

  beforeAll(() => {
    sh('ip', 'netns', 'add', NS_SERVER);
    sh('ip', 'netns', 'add', NS_CLIENT);
    sh('ip', 'link', 'add', VETH_SERVER, 'type', 'veth', 'peer', 'name', VETH_CLIENT);
    sh('ip', 'link', 'set', VETH_SERVER, 'netns', NS_SERVER);
    sh('ip', 'link', 'set', VETH_CLIENT, 'netns', NS_CLIENT);
    sh('ip', '-n', NS_SERVER, 'addr', 'add', `${SERVER_IP}/24`, 'dev', VETH_SERVER);
    sh('ip', '-n', NS_CLIENT, 'addr', 'add', `${CLIENT_IP}/24`, 'dev', VETH_CLIENT);
    // A second address on the client side: the "third address" GRE is forged from.
    sh('ip', '-n', NS_CLIENT, 'addr', 'add', `${THIRD_IP}/24`, 'dev', VETH_CLIENT);
    for (const [ns, dev] of [
      [NS_SERVER, VETH_SERVER],
      [NS_CLIENT, VETH_CLIENT],
    ] as const) {
      sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
      sh('ip', '-n', ns, 'link', 'set', dev, 'up');
    }
  });

  afterAll(() => {
    server?.kill();
    client?.kill();
    // Deleting a namespace deletes the veth end inside it, and with it the pair.
    shQuiet('ip', 'netns', 'del', NS_SERVER);
    shQuiet('ip', 'netns', 'del', NS_CLIENT);
  });

  it('establishes a control connection and a call, and moves frames both ways intact', async () => {
    server = new Node(NS_SERVER, ['server', SERVER_IP, String(PORT)]);
    await server.waitFor('listening');
    client = new Node(NS_CLIENT, ['client', SERVER_IP, String(PORT)]);
    const clientUp = await client.waitFor('call-up');
    const serverUp = await server.waitFor('call-up');
    expect(clientUp.peerCallId).toBe(serverUp.callId);
    expect(serverUp.peerCallId).toBe(clientUp.callId);
    expect(clientUp.maxFrame).toBe(1464);

    client.command({ cmd: 'send', count: 500 });
    server.command({ cmd: 'send', count: 500 });
    const sentUp = await client.waitFor('sent');
    const sentDown = await server.waitFor('sent');
    let atServer = await server.stats();
    let atClient = await client.stats();
    const end = Date.now() + 15_000;
    while ((atServer.received !== 500 || atClient.received !== 500) && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 100));
      atServer = await server.stats();
      atClient = await client.stats();
    }
    expect(atServer.received).toBe(500);
    expect(atClient.received).toBe(500);
    expect(atServer.digest).toBe(sentUp.digest);
    expect(atClient.digest).toBe(sentDown.digest);
  });

  it('drops and counts GRE for the call that comes from a third address', async () => {
    const s = server!;
    const c = client!;
    const serverCall = await s.waitFor('call-up');
    const before = (await s.stats()) as Event & {
      transport: { rxWrongSource: number };
      received: number;
    };
    c.command({ cmd: 'spoof', from: THIRD_IP, to: SERVER_IP, callId: serverCall.callId });
    const spoofed = await c.waitFor('spoofed');
    expect(spoofed.error).toBeNull();
    const end = Date.now() + 5_000;
    let after = before;
    while (after.transport.rxWrongSource === before.transport.rxWrongSource && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 50));
      after = (await s.stats()) as typeof before;
    }
    expect(after.transport.rxWrongSource).toBe(before.transport.rxWrongSource + 1);
    expect(after.received).toBe(before.received);
  });

  it('reports the call down on both sides when the control connection is reset', async () => {
    const s = server!;
    const c = client!;
    s.command({ cmd: 'rst' });
    const reset = await s.waitFor('reset');
    expect(reset.connections).toBe(1);
    const serverDown = await s.waitFor('down');
    const clientDown = await c.waitFor('down');
    expect(serverDown.reason).toBe('control connection closed: test RST');
    expect(String(clientDown.reason)).toMatch(
      /^control connection closed: TCP connection reset by peer/,
    );
  });
});
