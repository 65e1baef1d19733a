/**
 * Two PPP sessions joined by an in-memory link on virtual time. The link can lose,
 * duplicate and reorder frames from a seeded generator, so every run is repeatable.
 */
import type { AuthDecision, AuthRequest } from '../../src/ppp/auth/authenticator.js';
import type { SessionEvent } from '../../src/ppp/events.js';
import type { PppSession } from '../../src/ppp/session.js';

export interface Faults {
  loss?: number;
  duplicate?: number;
  reorder?: number;
}

export type SyncAuthenticator = (request: AuthRequest) => AuthDecision;

interface InFlight {
  at: number;
  seq: number;
  to: 'a' | 'b';
  frame: Buffer;
}

interface AuthJob {
  at: number;
  side: 'a' | 'b';
  token: number;
  decision: AuthDecision;
}

/** mulberry32: small, seeded, good enough for fault injection. */
export function seeded(seed: number): () => number {
  let t = seed >>> 0;
  return () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let r = Math.imul(t ^ (t >>> 15), 1 | t);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

export class BackToBack {
  now = 0;
  readonly events: { a: SessionEvent[]; b: SessionEvent[] } = { a: [], b: [] };
  readonly received: { a: Buffer[]; b: Buffer[] } = { a: [], b: [] };
  readonly authRequests: { a: AuthRequest[]; b: AuthRequest[] } = { a: [], b: [] };
  private inflight: InFlight[] = [];
  private jobs: AuthJob[] = [];
  private seq = 0;
  private readonly rng: () => number;
  /** When false, frames from this side vanish (a silent or dead peer). */
  readonly alive = { a: true, b: true };

  constructor(
    readonly a: PppSession,
    readonly b: PppSession,
    private readonly options: {
      authA?: SyncAuthenticator;
      authB?: SyncAuthenticator;
      faults?: Faults;
      seed?: number;
      latencyMs?: number;
      /** How long the Authenticator takes to answer (ms). */
      authDelayMs?: number;
      /**
       * Sees every frame when it is sent and again when it arrives: `drop` discards it,
       * `reply` sends a frame back to the sender as if the far side had (to stand in for
       * another peer's rules).
       */
      tamper?: (
        stage: 'send' | 'deliver',
        from: 'a' | 'b',
        frame: Buffer,
      ) => { drop?: boolean; reply?: Buffer } | undefined;
    } = {},
  ) {
    this.rng = seeded(options.seed ?? 1);
  }

  start(): void {
    this.a.open(this.now);
    this.b.open(this.now);
    this.pump();
  }

  session(side: 'a' | 'b'): PppSession {
    return side === 'a' ? this.a : this.b;
  }

  phases(side: 'a' | 'b'): string[] {
    return this.events[side].flatMap((e) => (e.type === 'phase' ? [e.phase] : []));
  }

  eventsOf<T extends SessionEvent['type']>(
    side: 'a' | 'b',
    type: T,
  ): Extract<SessionEvent, { type: T }>[] {
    return this.events[side].filter(
      (e): e is Extract<SessionEvent, { type: T }> => e.type === type,
    );
  }

  /** Send an IP packet from one side; the far side's decoded packets land in `received`. */
  sendIp(from: 'a' | 'b', packet: Buffer): boolean {
    const frame = this.session(from).encapsulateIp(packet);
    if (frame === undefined) return false;
    this.transmit(from, frame);
    return true;
  }

  pump(): void {
    for (const side of ['a', 'b'] as const) {
      const s = this.session(side);
      for (let f = s.pollTransmit(); f !== undefined; f = s.pollTransmit()) this.transmit(side, f);
      for (let e = s.pollEvent(); e !== undefined; e = s.pollEvent()) this.events[side].push(e);
      for (let r = s.pollAuthRequest(); r !== undefined; r = s.pollAuthRequest()) {
        this.authRequests[side].push(r.request);
        const auth = side === 'a' ? this.options.authA : this.options.authB;
        const decision: AuthDecision = auth
          ? auth(r.request)
          : { ok: false, reason: 'no authenticator' };
        this.jobs.push({
          at: this.now + (this.options.authDelayMs ?? 1),
          side,
          token: r.token,
          decision,
        });
      }
    }
  }

  private transmit(from: 'a' | 'b', frame: Buffer): void {
    if (!this.alive[from]) return;
    if (this.tampered('send', from, frame)) return;
    const f = this.options.faults ?? {};
    if (f.loss && this.rng() < f.loss) return;
    const copies = f.duplicate && this.rng() < f.duplicate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      let delay = this.options.latencyMs ?? 5;
      if (f.reorder && this.rng() < f.reorder) delay += 1 + Math.floor(this.rng() * 40);
      this.inflight.push({
        at: this.now + delay,
        seq: this.seq++,
        to: from === 'a' ? 'b' : 'a',
        frame: Buffer.from(frame),
      });
    }
  }

  /** Applies the tamper hook; true when the frame is to be dropped. */
  private tampered(stage: 'send' | 'deliver', from: 'a' | 'b', frame: Buffer): boolean {
    const t = this.options.tamper?.(stage, from, frame);
    if (t?.reply) {
      this.inflight.push({
        at: this.now + (this.options.latencyMs ?? 5),
        seq: this.seq++,
        to: from,
        frame: Buffer.from(t.reply),
      });
    }
    return t?.drop === true;
  }

  /** Advance virtual time, delivering frames and firing timers, until `done` or `limitMs`. */
  runUntil(done: () => boolean, limitMs = 120_000): boolean {
    const end = this.now + limitMs;
    this.pump();
    while (!done()) {
      let next = Number.POSITIVE_INFINITY;
      for (const f of this.inflight) next = Math.min(next, f.at);
      for (const j of this.jobs) next = Math.min(next, j.at);
      for (const s of [this.a, this.b]) {
        const t = s.pollTimeout();
        if (t !== undefined) next = Math.min(next, t);
      }
      if (next === Number.POSITIVE_INFINITY || next > end) {
        this.now = Math.max(this.now, Math.min(end, next));
        return done();
      }
      this.now = Math.max(this.now, next);
      const due = this.inflight
        .filter((f) => f.at <= this.now)
        .sort((x, y) => x.at - y.at || x.seq - y.seq);
      this.inflight = this.inflight.filter((f) => f.at > this.now);
      for (const f of due) {
        if (this.tampered('deliver', f.to === 'a' ? 'b' : 'a', f.frame)) continue;
        const packet = this.session(f.to).handleFrame(f.frame, this.now);
        if (packet !== undefined) this.received[f.to].push(Buffer.from(packet));
      }
      const jobs = this.jobs.filter((j) => j.at <= this.now);
      this.jobs = this.jobs.filter((j) => j.at > this.now);
      for (const j of jobs) this.session(j.side).completeAuth(j.token, j.decision, this.now);
      for (const s of [this.a, this.b]) {
        const t = s.pollTimeout();
        if (t !== undefined && t <= this.now) s.handleTimeout(this.now);
      }
      this.pump();
    }
    return true;
  }

  runFor(ms: number): void {
    const end = this.now + ms;
    this.runUntil(() => this.now >= end, ms);
  }

  bothIn(phase: string): boolean {
    return this.a.phase === phase && this.b.phase === phase;
  }
}
