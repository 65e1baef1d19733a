/**
 * The server and client roles over real TCP on loopback, with GRE carried by an in-memory
 * network (the raw-socket path runs in test/system/pptp as root).
 */
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { PptpCallInfo, PptpCallLink } from '../../src/pptp/call-link.js';
import { encodeControlMessage } from '../../src/pptp/control.js';
import type { PptpLogger } from '../../src/pptp/control-socket.js';
import { GreTransport } from '../../src/pptp/gre-transport.js';
import { dialPptp, PptpDialError } from '../../src/pptp/pac.js';
import { PptpServer, type PptpServerOptions } from '../../src/pptp/pns.js';
import { MemoryGreNetwork } from './memory-gre.js';

const SERVER = '127.0.0.1';
const CLIENT = '127.0.0.2';

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

class Logs implements PptpLogger {
  lines: string[] = [];
  debug(m: string) {
    this.lines.push(`debug ${m}`);
  }
  info(m: string) {
    this.lines.push(`info ${m}`);
  }
  warn(m: string) {
    this.lines.push(`warn ${m}`);
  }
}

interface Harness {
  server: PptpServer;
  port: number;
  serverGre: GreTransport;
  clientGre: GreTransport;
  net: MemoryGreNetwork;
  calls: { link: PptpCallLink; info: PptpCallInfo }[];
  logs: Logs;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function harness(options: Partial<PptpServerOptions> = {}): Promise<Harness> {
  const net = new MemoryGreNetwork();
  const serverGre = new GreTransport(net.socket(SERVER));
  const clientGre = new GreTransport(net.socket(CLIENT));
  const calls: Harness['calls'] = [];
  const logs = new Logs();
  const server = new PptpServer({
    listenAddress: SERVER,
    port: 0,
    transport: serverGre,
    log: logs,
    trace: true,
    onCall: (link, info) => calls.push({ link, info }),
    ...options,
  });
  const { port } = await server.listen();
  cleanups.push(() => server.close());
  return { server, port, serverGre, clientGre, net, calls, logs };
}

async function dial(
  h: Harness,
  extra: Partial<Parameters<typeof dialPptp>[0]> = {},
): Promise<PptpCallLink> {
  const link = await dialPptp({
    server: SERVER,
    port: h.port,
    localAddress: CLIENT,
    transport: h.clientGre,
    hostName: 'branch-7',
    ...extra,
  });
  cleanups.push(async () => {
    await link.close('test over');
  });
  return link;
}

function collect(link: PptpCallLink) {
  const frames: Buffer[] = [];
  const downs: string[] = [];
  link.attach({ onFrame: (f) => frames.push(f), onDown: (r) => downs.push(r) });
  return { frames, downs };
}

describe('PPTP server and client over loopback', () => {
  it('establishes a call and exposes it as a PppLink on both sides', async () => {
    const h = await harness();
    const link = await dial(h, { phoneNumber: 'head-office' });
    await until(() => h.calls.length === 1, 'server call');
    const served = h.calls[0]!;
    expect(link.maxFrame).toBe(1464);
    expect(served.link.maxFrame).toBe(1464);
    expect(link.source).toBe(SERVER);
    expect(served.link.source).toBe(CLIENT);
    expect(served.info.peerHostName).toBe('branch-7');
    expect(served.info.call.phoneNumber).toBe('head-office');
    expect(served.info.call.peerCallId).toBe(link.callId);
    expect(link.info.call.peerCallId).toBe(served.link.callId);
    expect(link.description).toBe(`pptp ${SERVER} call ${link.callId}`);
    expect(h.server.stats).toMatchObject({ controlConnections: 1, calls: 1, halfOpen: 0 });
    expect(h.logs.lines.some((l) => l.includes('rcvd [PPTP Outgoing-Call-Request'))).toBe(true);
  });

  it('carries PPP-frame-sized payloads both ways intact and in order', async () => {
    const h = await harness();
    const link = await dial(h);
    await until(() => h.calls.length === 1, 'server call');
    const served = h.calls[0]!.link;
    const atServer = collect(served);
    const atClient = collect(link);
    const up = Array.from({ length: 300 }, (_, i) => randomBytes(1 + ((i * 97) % 1464)));
    const down = Array.from({ length: 300 }, (_, i) => randomBytes(1 + ((i * 31) % 1464)));
    // Bursts of 40 with a turn of the event loop between them, as a session sends.
    for (let i = 0; i < 300; i++) {
      link.send(up[i]!);
      served.send(down[i]!);
      if (i % 40 === 39) await new Promise((r) => setImmediate(r));
    }
    await until(() => atServer.frames.length === 300 && atClient.frames.length === 300, 'frames');
    expect(atServer.frames.every((f, i) => f.equals(up[i]!))).toBe(true);
    expect(atClient.frames.every((f, i) => f.equals(down[i]!))).toBe(true);
    expect(link.greCounters.rxDelivered).toBe(300);
    expect(served.greCounters.txWindowDropped).toBe(0);
  });

  it('client hang-up clears the call and stops the control connection', async () => {
    const h = await harness();
    const link = await dial(h);
    await until(() => h.calls.length === 1, 'server call');
    const atServer = collect(h.calls[0]!.link);
    const atClient = collect(link);
    await link.close('user hung up');
    expect(atClient.downs).toEqual(['user hung up']);
    await until(() => atServer.downs.length === 1, 'server down');
    expect(atServer.downs[0]).toBe('peer cleared the call (Call-Clear-Request)');
    await until(() => h.server.stats.controlConnections === 0, 'server connection gone');
    expect(await link.whenDown()).toBe('user hung up');
  });

  it('server hang-up reports the call down at the client', async () => {
    const h = await harness();
    const link = await dial(h);
    await until(() => h.calls.length === 1, 'server call');
    const atClient = collect(link);
    await h.calls[0]!.link.close('session terminated');
    await until(() => atClient.downs.length === 1, 'client down');
    expect(atClient.downs[0]).toBe('peer disconnected the call (result Admin-Shutdown)');
    await until(() => h.server.stats.controlConnections === 0, 'server connection gone');
  });

  it('an RST of the control connection takes the call down on both sides', async () => {
    const h = await harness();
    const link = await dial(h);
    await until(() => h.calls.length === 1, 'server call');
    const atServer = collect(h.calls[0]!.link);
    const atClient = collect(link);
    expect(h.server.resetConnections('test kill', CLIENT)).toBe(1);
    await until(() => atServer.downs.length === 1 && atClient.downs.length === 1, 'both down');
    expect(atServer.downs[0]).toBe('control connection closed: test kill');
    expect(atClient.downs[0]).toMatch(
      /control connection closed: TCP (connection reset by peer|connection closed)/,
    );
    // A frame sent on a dead link is dropped and counted, never thrown.
    link.send(Buffer.from([0xff, 0x03, 0xc0, 0x21]));
    expect(link.counters.droppedDown).toBe(1);
  });

  it('drops and counts GRE for a live call from a third address', async () => {
    const h = await harness();
    const link = await dial(h);
    await until(() => h.calls.length === 1, 'server call');
    const atServer = collect(h.calls[0]!.link);
    const intruder = new GreTransport(h.net.socket('127.0.0.3'));
    // Right Call ID, right everything, wrong source.
    intruder.send(
      Buffer.from(
        `3001880b0004${h.calls[0]!.link.callId.toString(16).padStart(4, '0')}00000000ff03c021`,
        'hex',
      ),
      SERVER,
    );
    link.send(Buffer.from('legit'));
    await until(
      () => atServer.frames.length === 1 && h.serverGre.counters.rxWrongSource === 1,
      'drop',
    );
    expect(atServer.frames[0]!.toString()).toBe('legit');
  });

  it('holds the first frames that arrive before the session attaches and drops the rest', async () => {
    const h = await harness();
    const link = await dial(h);
    await until(() => h.calls.length === 1, 'server call');
    for (let i = 0; i < 10; i++) link.send(Buffer.from(`early ${i}`));
    const served = h.calls[0]!.link;
    await until(() => served.counters.droppedBeforeAttach === 2, 'frames beyond 8 dropped');
    const atServer = collect(served);
    // Handed over right after attach() returns, so the attaching session has opened first.
    expect(atServer.frames).toEqual([]);
    await Promise.resolve();
    expect(atServer.frames.map(String)).toEqual(Array.from({ length: 8 }, (_, i) => `early ${i}`));
    link.send(Buffer.from('after attach'));
    await until(() => atServer.frames.length === 9, 'a later frame');
    expect(String(atServer.frames[8])).toBe('after attach');
  });

  it('keeps GRE of its call that arrives before the Outgoing-Call-Reply is read', async () => {
    // The server starts PPP the moment it answers: its first frame leaves on the GRE path
    // before the client has read the Reply from TCP (the in-memory network delivers it on
    // the next turn of the event loop, ahead of the loopback TCP data).
    const h = await harness({
      onCall: (link, info) => {
        h.calls.push({ link, info });
        link.send(Buffer.from('first LCP Configure-Request'));
      },
    });
    const link = await dial(h);
    const atClient = collect(link);
    await Promise.resolve();
    expect(atClient.frames.map(String)).toEqual(['first LCP Configure-Request']);
    expect(h.clientGre.counters.rxUnknownCall).toBe(0);
    expect(h.clientGre.registeredCalls).toBe(1);
  });

  it('refuses control connections beyond the limit', async () => {
    const h = await harness({ maxControlConnections: 1 });
    await dial(h);
    // The server resets the accepted connection: the client sees it during or just after connect.
    const err = await dial(h).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PptpDialError);
    expect(['connect', 'start']).toContain((err as PptpDialError).stage);
    expect(h.server.stats.refusedConnections).toBe(1);
  });

  it('closes a half-open connection after the start timeout', async () => {
    const h = await harness({ startTimeoutMs: 150 });
    const s = connect({ host: SERVER, port: h.port });
    await new Promise((r) => s.once('connect', r));
    await until(() => h.server.stats.halfOpen === 1, 'half-open counted');
    await new Promise((r) => s.once('close', r));
    expect(h.server.stats.halfOpen).toBe(0);
    expect(
      h.logs.lines.some((l) => l.includes('no Start-Control-Connection-Request within 0.15 s')),
    ).toBe(true);
  });

  it('limits half-open connections', async () => {
    const h = await harness({ maxHalfOpen: 1 });
    const a = connect({ host: SERVER, port: h.port });
    await new Promise((r) => a.once('connect', r));
    await until(() => h.server.stats.halfOpen === 1, 'first half-open');
    const b = connect({ host: SERVER, port: h.port });
    b.on('error', () => {});
    await new Promise((r) => b.once('close', r));
    expect(h.server.stats.refusedConnections).toBe(1);
    a.destroy();
  });

  it('closes a connection that sends a bad Magic Cookie, with a logged reason', async () => {
    const h = await harness();
    const s = connect({ host: SERVER, port: h.port });
    await new Promise((r) => s.once('connect', r));
    const bad = encodeControlMessage({ type: 'Echo-Request', identifier: 1 });
    bad.writeUInt32BE(0x12345678, 4);
    s.write(bad);
    await new Promise((r) => s.once('close', r));
    expect(h.logs.lines.some((l) => l.includes('bad-cookie'))).toBe(true);
    expect(h.server.stats.controlConnections).toBe(0);
  });

  it('rejects a dial to a closed port at the connect stage', async () => {
    const h = await harness();
    await h.server.close();
    const err = await dialPptp({ server: SERVER, port: h.port, transport: h.clientGre }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(PptpDialError);
    expect(err.stage).toBe('connect');
  });

  it('without a GRE socket still runs the control connection, then refuses the call saying why', async () => {
    const h = await harness();
    h.clientGre.unavailable = 'cannot open the raw GRE socket: needs CAP_NET_RAW';
    const err = await dialPptp({ server: SERVER, port: h.port, transport: h.clientGre }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(PptpDialError);
    expect(err.stage).toBe('gre');
    expect(err.message).toContain('needs CAP_NET_RAW');
    // The server saw a whole control connection and call before the client cleared it.
    await until(() => h.server.stats.controlConnections === 0, 'connection closed');
    expect(
      h.logs.lines.some((l) => l.includes('control connection from') && l.includes(' up ')),
    ).toBe(true);
    expect(h.calls).toHaveLength(1);
  });

  it('a server without a GRE socket clears each call at once, saying why in its log', async () => {
    const h = await harness();
    h.serverGre.unavailable = 'cannot open the raw GRE socket: needs CAP_NET_RAW';
    const link = await dialPptp({ server: SERVER, port: h.port, transport: h.clientGre });
    const reason = await link.whenDown();
    expect(reason).toMatch(/disconnected|cleared|closed/);
    expect(h.calls).toHaveLength(0);
    expect(h.logs.lines.some((l) => l.startsWith('warn') && l.includes('needs CAP_NET_RAW'))).toBe(
      true,
    );
  });

  it('closes every connection politely on server shutdown', async () => {
    const h = await harness();
    const link = await dial(h);
    const atClient = collect(link);
    await h.server.close('maintenance');
    await until(() => atClient.downs.length === 1, 'client down');
    expect(atClient.downs[0]).toBe('peer disconnected the call (result Admin-Shutdown)');
  });

  it('aborts a dial in progress', async () => {
    const h = await harness();
    const controller = new AbortController();
    const p = dialPptp({
      server: SERVER,
      port: h.port,
      transport: h.clientGre,
      signal: controller.signal,
    });
    controller.abort();
    await expect(p).rejects.toMatchObject({ stage: 'aborted' });
  });
});
