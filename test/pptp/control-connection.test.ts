import { describe, expect, it } from 'vitest';
import { SequentialCallIdAllocator } from '../../src/pptp/call.js';
import { type ControlMessage, encodeControlMessage, STOP_REASON } from '../../src/pptp/control.js';
import {
  CollisionDomain,
  ControlConnection,
  type ControlConnectionOptions,
  type ControlEvent,
  ipv4ToNumber,
  startCollisionWinner,
} from '../../src/pptp/control-connection.js';

/** A machine plus everything it has said and emitted. */
class Side {
  readonly sent: ControlMessage[] = [];
  readonly events: ControlEvent[] = [];
  constructor(readonly c: ControlConnection) {}

  drainEvents(): ControlEvent[] {
    for (let e = this.c.pollEvent(); e !== undefined; e = this.c.pollEvent()) this.events.push(e);
    return this.events;
  }

  types(): string[] {
    return this.drainEvents()
      .filter((e) => e.type !== 'packet' && e.type !== 'warning')
      .map((e) => e.type);
  }

  last<T extends ControlEvent['type']>(type: T): Extract<ControlEvent, { type: T }> | undefined {
    const es = this.drainEvents().filter((e) => e.type === type);
    return es[es.length - 1] as Extract<ControlEvent, { type: T }> | undefined;
  }
}

/** A client and a server machine joined through the codec, on virtual time. */
class Pair {
  now = 0;
  readonly client: Side;
  readonly server: Side;
  /** When false, messages are queued but not delivered (a dead peer). */
  linkUp = true;

  constructor(
    client: Partial<ControlConnectionOptions> = {},
    server: Partial<ControlConnectionOptions> = {},
  ) {
    const callIds = new SequentialCallIdAllocator(100);
    this.client = new Side(
      new ControlConnection(
        { role: 'client', localAddress: '10.0.0.1', peerAddress: '10.0.0.2', callIds, ...client },
        0,
      ),
    );
    this.server = new Side(
      new ControlConnection(
        { role: 'server', localAddress: '10.0.0.2', peerAddress: '10.0.0.1', callIds, ...server },
        0,
      ),
    );
  }

  /** Moves messages both ways (through encode + handleFrame) until both are quiet. */
  flush(): void {
    for (let moved = true; moved; ) {
      moved = false;
      for (const [from, to] of [
        [this.client, this.server],
        [this.server, this.client],
      ] as const) {
        for (let m = from.c.pollTransmit(); m !== undefined; m = from.c.pollTransmit()) {
          from.sent.push(m);
          moved = true;
          if (this.linkUp) to.c.handleFrame(encodeControlMessage(m), this.now);
        }
      }
    }
    this.client.drainEvents();
    this.server.drainEvents();
  }

  /** Advances virtual time to `t`, firing every deadline on the way. */
  advance(t: number): void {
    for (;;) {
      const due = [this.client.c.pollTimeout(), this.server.c.pollTimeout()].filter(
        (x): x is number => x !== undefined && x <= t,
      );
      if (due.length === 0) break;
      this.now = Math.max(this.now, Math.min(...due));
      this.client.c.handleTimeout(this.now);
      this.server.c.handleTimeout(this.now);
      this.flush();
    }
    this.now = t;
  }

  establish(): void {
    this.client.c.start(this.now);
    this.flush();
  }

  call(): { clientCallId: number; serverCallId: number } {
    const r = this.client.c.placeCall(this.now, { phoneNumber: '1234' });
    if (!r.ok) throw new Error(r.error.reason);
    this.flush();
    const up = this.server.last('call-up');
    if (up === undefined) throw new Error('no call-up at server');
    return { clientCallId: r.value, serverCallId: up.call.callId };
  }
}

describe('control connection establishment (RFC 2637 §3.1.1)', () => {
  it('establishes with Start-Control-Connection-Request / Reply', () => {
    const p = new Pair({ hostName: 'branch-7' }, { hostName: 'head-office', maxCalls: 4 });
    expect(p.client.c.state).toBe('idle');
    expect(p.server.c.state).toBe('wait-ctl-request');
    p.establish();
    expect(p.client.c.state).toBe('established');
    expect(p.server.c.state).toBe('established');
    expect(p.client.sent.map((m) => m.type)).toEqual(['Start-Control-Connection-Request']);
    expect(p.server.sent[0]).toMatchObject({
      type: 'Start-Control-Connection-Reply',
      protocolVersion: 0x100,
      resultCode: 1,
      maximumChannels: 4,
    });
    expect(p.client.last('established')?.peer.hostName).toBe('head-office');
    expect(p.server.last('established')?.peer.hostName).toBe('branch-7');
  });

  it('closes the client when no Start-Control-Connection-Reply comes in time', () => {
    const p = new Pair({ startTimeoutMs: 30_000 });
    p.linkUp = false;
    p.establish();
    p.advance(29_999);
    expect(p.client.c.state).toBe('wait-ctl-reply');
    p.advance(30_000);
    expect(p.client.c.state).toBe('closed');
    expect(p.client.last('closed')?.reason).toMatch(
      /no Start-Control-Connection-Reply within 30 s/,
    );
  });

  it('closes a half-open server connection that never sends its request', () => {
    const p = new Pair({}, { startTimeoutMs: 30_000 });
    p.advance(30_000);
    expect(p.server.c.state).toBe('closed');
    expect(p.server.last('closed')?.reason).toMatch(/no Start-Control-Connection-Request/);
  });

  it('refuses a request of another protocol version with result 5', () => {
    const p = new Pair();
    p.server.c.handleMessage(
      {
        type: 'Start-Control-Connection-Request',
        protocolVersion: 0x200,
        framingCapabilities: 1,
        bearerCapabilities: 1,
        maximumChannels: 0,
        firmwareRevision: 0,
        hostName: '',
        vendor: '',
      },
      0,
    );
    expect(p.server.c.pollTransmit()).toMatchObject({
      type: 'Start-Control-Connection-Reply',
      resultCode: 5,
      protocolVersion: 0x100,
    });
    expect(p.server.c.state).toBe('closed');
  });

  it('closes the client with the reason when the server refuses', () => {
    const p = new Pair();
    p.client.c.start(0);
    p.client.c.pollTransmit();
    p.client.c.handleMessage(
      {
        type: 'Start-Control-Connection-Reply',
        protocolVersion: 0x100,
        resultCode: 4,
        errorCode: 0,
        framingCapabilities: 0,
        bearerCapabilities: 0,
        maximumChannels: 0,
        firmwareRevision: 0,
        hostName: '',
        vendor: '',
      },
      0,
    );
    expect(p.client.last('closed')?.reason).toBe(
      'peer refused the control connection (result Not-Authorized)',
    );
  });

  it('closes on a malformed message but skips one of an unknown type', () => {
    const p = new Pair();
    p.establish();
    const unknown = encodeControlMessage({ type: 'Echo-Request', identifier: 1 });
    unknown.writeUInt16BE(99, 8);
    p.server.c.handleFrame(unknown, 1);
    expect(p.server.c.state).toBe('established');
    expect(p.server.c.counters.ignored).toBe(1);
    const bad = Buffer.concat([
      encodeControlMessage({ type: 'Echo-Request', identifier: 1 }),
      Buffer.alloc(4),
    ]);
    bad.writeUInt16BE(20, 0);
    p.server.c.handleFrame(bad, 2);
    expect(p.server.c.state).toBe('closed');
    expect(p.server.last('closed')?.reason).toMatch(/bad control message \(bad-length\)/);
  });
});

describe('echo keepalive (RFC 2637 §3.1.4)', () => {
  it('sends an Echo-Request after 60 s of silence and is satisfied by the reply', () => {
    const p = new Pair({}, { idleTimeoutMs: 0 });
    p.establish();
    p.advance(59_999);
    expect(p.client.sent.filter((m) => m.type === 'Echo-Request')).toHaveLength(0);
    p.advance(60_000);
    const echoes = p.client.sent.filter((m) => m.type === 'Echo-Request');
    expect(echoes.length).toBeGreaterThanOrEqual(1);
    expect(p.server.sent.some((m) => m.type === 'Echo-Reply')).toBe(true);
    p.advance(600_000);
    expect(p.client.c.state).toBe('established');
    expect(p.server.c.state).toBe('established');
  });

  it('counts any control message as a sign of life', () => {
    const p = new Pair();
    p.establish();
    p.advance(50_000);
    p.server.c.pollTransmit();
    p.client.c.handleMessage({ type: 'Echo-Request', identifier: 5 }, p.now);
    p.flush();
    p.advance(109_999);
    expect(p.client.sent.filter((m) => m.type === 'Echo-Request')).toHaveLength(0);
  });

  it('closes when no Echo-Reply comes within 60 s, taking the calls down', () => {
    const p = new Pair();
    p.establish();
    const { clientCallId } = p.call();
    p.linkUp = false;
    p.advance(p.now + 60_000);
    expect(p.client.sent.filter((m) => m.type === 'Echo-Request')).toHaveLength(1);
    p.advance(p.now + 59_999);
    expect(p.client.c.state).toBe('established');
    p.advance(p.now + 1);
    expect(p.client.c.state).toBe('closed');
    expect(p.client.last('closed')?.reason).toMatch(/no Echo-Reply within 60 s/);
    expect(p.client.last('call-down')).toMatchObject({ callId: clientCallId, established: true });
  });

  it('ignores an Echo-Reply with the wrong identifier', () => {
    const p = new Pair();
    p.establish();
    p.linkUp = false;
    p.advance(60_000);
    p.client.c.handleMessage(
      { type: 'Echo-Reply', identifier: 12345, resultCode: 1, errorCode: 0 },
      60_001,
    );
    p.advance(120_000);
    expect(p.client.c.state).toBe('closed');
  });
});

describe('calls (RFC 2637 §3.2)', () => {
  it('places an outgoing call: OCRQ → OCRP, IDs and windows exchanged', () => {
    const p = new Pair({ receiveWindow: 32 }, { receiveWindow: 16, processingDelay: 2 });
    p.establish();
    const { clientCallId, serverCallId } = p.call();
    expect(p.client.sent[1]).toMatchObject({
      type: 'Outgoing-Call-Request',
      callId: clientCallId,
      receiveWindowSize: 32,
      phoneNumber: '1234',
      phoneNumberLength: 4,
    });
    expect(p.server.sent[1]).toMatchObject({
      type: 'Outgoing-Call-Reply',
      callId: serverCallId,
      peerCallId: clientCallId,
      resultCode: 1,
      receiveWindowSize: 16,
      processingDelay: 2,
    });
    expect(p.client.last('call-up')?.call).toMatchObject({
      callId: clientCallId,
      peerCallId: serverCallId,
      peerReceiveWindow: 16,
      peerProcessingDelay: 2,
      direction: 'outgoing',
    });
    expect(p.server.last('call-up')?.call).toMatchObject({
      callId: serverCallId,
      peerCallId: clientCallId,
      peerReceiveWindow: 32,
      direction: 'incoming',
      phoneNumber: '1234',
    });
    expect(clientCallId).not.toBe(serverCallId);
  });

  it('refuses calls beyond the per-connection limit with General-Error / No-Resource', () => {
    const p = new Pair({ maxCalls: 5 }, { maxCalls: 1 });
    p.establish();
    p.call();
    const r = p.client.c.placeCall(p.now);
    expect(r.ok).toBe(true);
    p.flush();
    expect(p.server.sent[p.server.sent.length - 1]).toMatchObject({
      type: 'Outgoing-Call-Reply',
      resultCode: 2,
      errorCode: 4,
    });
    expect(p.client.last('call-down')).toMatchObject({
      established: false,
      reason: 'peer refused the call (result General-Error, error No-Resource)',
    });
    expect(p.server.c.counters.callsRefused).toBe(1);
  });

  it('clears the call after no Outgoing-Call-Reply within the timeout', () => {
    const p = new Pair({ callReplyTimeoutMs: 60_000 });
    p.establish();
    p.linkUp = false;
    const r = p.client.c.placeCall(0);
    expect(r.ok).toBe(true);
    p.advance(60_000);
    expect(p.client.sent.map((m) => m.type)).toContain('Call-Clear-Request');
    expect(p.client.last('call-down')).toMatchObject({
      established: false,
      reason: 'no Outgoing-Call-Reply within 60 s',
    });
    expect(p.client.c.callCount).toBe(0);
  });

  it('client clears: Call-Clear-Request → Call-Disconnect-Notify, down on both sides', () => {
    const p = new Pair();
    p.establish();
    const { clientCallId, serverCallId } = p.call();
    p.client.c.clearCall(clientCallId, p.now, 'user hung up');
    expect(p.client.c.callRecord(clientCallId)?.state).toBe('wait-disconnect');
    p.flush();
    expect(p.client.sent[p.client.sent.length - 1]).toEqual({
      type: 'Call-Clear-Request',
      callId: clientCallId,
    });
    expect(p.server.sent[p.server.sent.length - 1]).toMatchObject({
      type: 'Call-Disconnect-Notify',
      callId: serverCallId,
      resultCode: 4,
    });
    expect(p.server.last('call-down')).toMatchObject({
      callId: serverCallId,
      reason: 'peer cleared the call (Call-Clear-Request)',
    });
    expect(p.client.last('call-down')).toMatchObject({
      callId: clientCallId,
      reason: 'user hung up',
    });
    expect(p.client.c.callCount).toBe(0);
    expect(p.server.c.callCount).toBe(0);
  });

  it('client clear times out without a Call-Disconnect-Notify', () => {
    const p = new Pair({ callClearTimeoutMs: 10_000 });
    p.establish();
    const { clientCallId } = p.call();
    p.linkUp = false;
    p.client.c.clearCall(clientCallId, p.now, 'bye');
    p.flush();
    p.advance(p.now + 10_000);
    expect(p.client.last('call-down')?.reason).toBe('bye (no Call-Disconnect-Notify within 10 s)');
  });

  it('server clears: Call-Disconnect-Notify with Admin-Shutdown, down on both sides', () => {
    const p = new Pair();
    p.establish();
    const { clientCallId, serverCallId } = p.call();
    p.server.c.clearCall(serverCallId, p.now, 'session terminated');
    p.flush();
    expect(p.server.sent[p.server.sent.length - 1]).toMatchObject({
      type: 'Call-Disconnect-Notify',
      callId: serverCallId,
      resultCode: 3,
    });
    expect(p.server.last('call-down')).toMatchObject({
      callId: serverCallId,
      reason: 'session terminated',
    });
    expect(p.client.last('call-down')).toMatchObject({
      callId: clientCallId,
      reason: 'peer disconnected the call (result Admin-Shutdown)',
    });
  });

  it('matches a Call-Disconnect-Notify that arrives during call setup', () => {
    const p = new Pair();
    p.establish();
    const r = p.client.c.placeCall(p.now);
    expect(r.ok).toBe(true);
    p.client.c.pollTransmit();
    p.client.c.handleMessage(
      {
        type: 'Call-Disconnect-Notify',
        callId: 999,
        resultCode: 1,
        errorCode: 0,
        causeCode: 16,
        callStatistics: '',
      },
      p.now,
    );
    expect(p.client.last('call-down')).toMatchObject({
      established: false,
      reason: 'peer disconnected the call (result Lost-Carrier, cause 16)',
    });
  });

  it('records Set-Link-Info ACCMs and counts WAN-Error-Notify', () => {
    const p = new Pair();
    p.establish();
    const { clientCallId, serverCallId } = p.call();
    p.server.c.handleMessage(
      { type: 'Set-Link-Info', peerCallId: serverCallId, sendAccm: 0, receiveAccm: 0xa0000 },
      1,
    );
    expect(p.server.last('link-info')).toEqual({
      type: 'link-info',
      callId: serverCallId,
      sendAccm: 0,
      receiveAccm: 0xa0000,
    });
    expect(p.server.c.callRecord(serverCallId)?.receiveAccm).toBe(0xa0000);
    const wen = {
      type: 'WAN-Error-Notify' as const,
      peerCallId: clientCallId,
      crcErrors: 2,
      framingErrors: 1,
      hardwareOverruns: 0,
      bufferOverruns: 0,
      timeoutErrors: 3,
      alignmentErrors: 0,
    };
    p.client.c.handleMessage(wen, 2);
    p.client.c.handleMessage(wen, 3);
    expect(p.client.last('wan-error')?.counts).toMatchObject({
      notifications: 2,
      crcErrors: 4,
      timeoutErrors: 6,
    });
  });

  it('refuses an Incoming-Call-Request with Do-Not-Accept', () => {
    const p = new Pair();
    p.establish();
    p.client.c.handleMessage(
      {
        type: 'Incoming-Call-Request',
        callId: 77,
        callSerialNumber: 1,
        bearerType: 1,
        physicalChannelId: 0,
        dialedNumberLength: 0,
        dialingNumberLength: 0,
        dialedNumber: '',
        dialingNumber: '',
        subaddress: '',
      },
      1,
    );
    expect(p.client.c.pollTransmit()).toMatchObject({
      type: 'Incoming-Call-Reply',
      peerCallId: 77,
      resultCode: 3,
    });
  });

  it('refuses to place a call before the connection is established', () => {
    const p = new Pair();
    expect(p.client.c.placeCall(0)).toMatchObject({
      ok: false,
      error: { kind: 'not-established' },
    });
  });

  it('releases Call IDs when calls end', () => {
    const ids = new SequentialCallIdAllocator(1);
    const p = new Pair({ callIds: ids }, { callIds: ids });
    p.establish();
    const { clientCallId } = p.call();
    expect(ids.size).toBe(2);
    p.client.c.clearCall(clientCallId, p.now, 'bye');
    p.flush();
    expect(ids.size).toBe(0);
  });
});

describe('stopping the control connection (RFC 2637 §2.3, §2.4)', () => {
  it('clears calls, sends Stop-Control-Connection-Request and closes on the reply', () => {
    const p = new Pair();
    p.establish();
    const { clientCallId, serverCallId } = p.call();
    p.server.c.stop(p.now, 'shutting down', STOP_REASON['Stop-Local-Shutdown']);
    expect(p.server.c.state).toBe('wait-stop-reply');
    p.flush();
    expect(p.server.sent.slice(-2).map((m) => m.type)).toEqual([
      'Call-Disconnect-Notify',
      'Stop-Control-Connection-Request',
    ]);
    expect(p.client.sent[p.client.sent.length - 1]).toMatchObject({
      type: 'Stop-Control-Connection-Reply',
      resultCode: 1,
    });
    expect(p.server.c.state).toBe('closed');
    expect(p.client.c.state).toBe('closed');
    expect(p.server.last('call-down')).toMatchObject({
      callId: serverCallId,
      reason: 'shutting down',
    });
    expect(p.client.last('call-down')?.callId).toBe(clientCallId);
    expect(p.client.last('closed')?.reason).toBe(
      'peer stopped the control connection (reason Stop-Local-Shutdown)',
    );
    expect(p.server.last('closed')?.reason).toBe('shutting down');
  });

  it('closes after the Stop-Control-Connection-Reply timeout', () => {
    const p = new Pair({ stopReplyTimeoutMs: 10_000 });
    p.establish();
    p.linkUp = false;
    p.client.c.stop(p.now, 'bye');
    p.flush();
    p.advance(p.now + 9_999);
    expect(p.client.c.state).toBe('wait-stop-reply');
    p.advance(p.now + 1);
    expect(p.client.last('closed')?.reason).toBe(
      'bye (no Stop-Control-Connection-Reply within 10 s)',
    );
  });

  it('stops a server connection that carries no call for the idle timeout', () => {
    const p = new Pair({}, { idleTimeoutMs: 60_000 });
    p.establish();
    p.advance(60_000);
    expect(p.server.c.state).toBe('closed');
    expect(p.server.last('closed')?.reason).toBe('no call for 60 s');
  });

  it('takes every call down when TCP goes away', () => {
    const p = new Pair();
    p.establish();
    const { clientCallId } = p.call();
    p.client.c.transportClosed('TCP connection reset by peer');
    expect(p.client.last('call-down')).toMatchObject({
      callId: clientCallId,
      reason: 'control connection closed: TCP connection reset by peer',
    });
    expect(p.client.types()).toContain('closed');
    expect(p.client.c.pollTimeout()).toBeUndefined();
  });
});

describe('start collision (RFC 2637 §3.1.3)', () => {
  it('compares addresses as 32-bit unsigned numbers', () => {
    // The RFC's own example: 192.33.45.89 wins over 192.33.45.17.
    expect(startCollisionWinner('192.33.45.89', '192.33.45.17')).toBe('local');
    expect(startCollisionWinner('192.33.45.17', '192.33.45.89')).toBe('peer');
    expect(startCollisionWinner('::ffff:10.0.0.2', '9.255.255.255')).toBe('local');
    expect(startCollisionWinner('fe80::1', '10.0.0.1')).toBeUndefined();
    expect(ipv4ToNumber('255.255.255.255')).toBe(0xffffffff);
    expect(ipv4ToNumber('1.2.3.256')).toBeUndefined();
  });

  /**
   * Two routers at `a` and `b` each open a connection to the other at the same time: each
   * has an originating (client) connection and an accepted (server) one.
   */
  function collide(a: string, b: string) {
    const domainA = new CollisionDomain();
    const domainB = new CollisionDomain();
    const mk = (
      role: 'client' | 'server',
      local: string,
      peer: string,
      collision: CollisionDomain,
    ) =>
      new Side(
        new ControlConnection({ role, localAddress: local, peerAddress: peer, collision }, 0),
      );
    const aOut = mk('client', a, b, domainA);
    const aIn = mk('server', a, b, domainA);
    const bOut = mk('client', b, a, domainB);
    const bIn = mk('server', b, a, domainB);
    aOut.c.start(0);
    bOut.c.start(0);
    // Connection 1: aOut → bIn; connection 2: bOut → aIn. Deliver both requests.
    const pipe = (from: Side, to: Side) => {
      for (let m = from.c.pollTransmit(); m !== undefined; m = from.c.pollTransmit()) {
        from.sent.push(m);
        to.c.handleFrame(encodeControlMessage(m), 1);
      }
    };
    pipe(aOut, bIn);
    pipe(bOut, aIn);
    pipe(bIn, aOut);
    pipe(aIn, bOut);
    return { aOut, aIn, bOut, bIn };
  }

  it('the lower address yields: it closes its own connection and answers the winner', () => {
    const { aOut, aIn, bOut, bIn } = collide('192.33.45.17', '192.33.45.89');
    // a (lower) yields: its originated connection closes silently…
    expect(aOut.c.state).toBe('closed');
    expect(aOut.last('closed')?.reason).toMatch(/start collision .* yielded/);
    // …and it answers b's request on the connection b opened.
    expect(aIn.c.state).toBe('established');
    expect(aIn.sent.map((m) => m.type)).toEqual(['Start-Control-Connection-Reply']);
    expect(bOut.c.state).toBe('established');
    // b (higher) says nothing on the connection a opened and waits for it to close.
    expect(bIn.c.state).toBe('collision-silent');
    expect(bIn.sent).toEqual([]);
  });

  it('the winner drops the silent connection if the loser never closes it', () => {
    const { bIn } = collide('192.33.45.17', '192.33.45.89');
    bIn.c.handleTimeout(30_001);
    expect(bIn.c.state).toBe('closed');
    expect(bIn.sent).toEqual([]);
  });

  it('answers normally when there is no rival connection', () => {
    const domain = new CollisionDomain();
    const s = new Side(
      new ControlConnection(
        { role: 'server', localAddress: '10.0.0.9', peerAddress: '10.0.0.1', collision: domain },
        0,
      ),
    );
    s.c.handleMessage(
      {
        type: 'Start-Control-Connection-Request',
        protocolVersion: 0x100,
        framingCapabilities: 3,
        bearerCapabilities: 3,
        maximumChannels: 0,
        firmwareRevision: 0,
        hostName: '',
        vendor: '',
      },
      0,
    );
    expect(s.c.state).toBe('established');
  });
});
