/**
 * The RADIUS UDP client: sends a request to the configured servers in order, retransmits on
 * timeout, fails over to the next server, and skips a server that stopped answering for a
 * while (the dead time). Replies are matched by Identifier and source address and port, and
 * verified (Response Authenticator, Message-Authenticator) before anyone sees them. A reply
 * that fails any check is dropped and counted; it never completes a request, so a forged
 * or late packet cannot decide an authentication.
 *
 * Memory is bounded: at most `maxSockets` sockets with 256 Identifiers each are in flight;
 * a request beyond that fails at once with `busy`.
 */
import dgram from 'node:dgram';
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Result } from '../../ppp/result.js';
import { Code, codeName, decodePacket, type RadiusPacket, verifyResponse } from './packet.js';
import { formatPacket } from './packet-log.js';

export interface RadiusLogger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
}

export const silentRadiusLogger: RadiusLogger = { debug() {}, info() {}, warn() {} };

export interface RadiusServer {
  /** IPv4 address or host name. */
  readonly host: string;
  readonly port: number;
  /** The shared secret. Never logged. */
  readonly secret: Buffer;
}

export interface RadiusClientOptions {
  /** Tried in this order; a dead one is skipped until its dead time has passed. */
  readonly servers: readonly RadiusServer[];
  /** Wait for a reply to one transmission, in milliseconds. */
  readonly timeoutMs: number;
  /** Retransmissions to the same server after the first send (RFC 2865 §2.4: same ID). */
  readonly retries: number;
  /** How long a server that did not answer is skipped, in milliseconds. */
  readonly deadTimeMs: number;
  /**
   * Drop Access-Accept/Reject/Challenge replies without a Message-Authenticator (RFC 3579
   * §3.2; the BlastRADIUS defence). Default true.
   */
  readonly requireMessageAuthenticator?: boolean;
  /** Sockets of 256 Identifiers each. Default 4. */
  readonly maxSockets?: number;
  /** Local address to send from (e.g. the NAS-IP-Address). Default any. */
  readonly bindAddress?: string;
  readonly logger?: RadiusLogger;
  /** Wall clock for the dead time; tests inject one. */
  readonly now?: () => number;
  /** Resolves a host name to an IPv4 address. Default dns.lookup. */
  readonly resolve?: (host: string) => Promise<string>;
}

/** What the caller's builder gets for each server tried. */
export interface BuildContext {
  readonly secret: Buffer;
  readonly identifier: number;
  readonly server: RadiusServer;
}

/** The encoded request and its Request Authenticator (needed to verify the reply). */
export interface BuiltRequest {
  readonly bytes: Buffer;
  readonly authenticator: Buffer;
}

export interface RadiusReply {
  readonly packet: RadiusPacket;
  /** The server that answered (its secret decrypts MPPE keys). */
  readonly server: RadiusServer;
  /** `host:port` of that server, for logs. */
  readonly serverLabel: string;
  /** The Request Authenticator of the request this answers. */
  readonly requestAuthenticator: Buffer;
}

export type RadiusFailureKind =
  /** Every server was tried and none answered in time. */
  | 'timeout'
  /** Every server is within its dead time: none was tried. */
  | 'all-dead'
  /** Every Identifier of every socket is in use. */
  | 'busy'
  /** The client was closed. */
  | 'closed'
  /** The request could not be encoded (e.g. a value too long). */
  | 'encode'
  /** No socket could be opened. */
  | 'socket';

export interface RadiusFailure {
  readonly kind: RadiusFailureKind;
  /** One line for logs; never contains a secret. */
  readonly reason: string;
  /** True when no server could be reached (timeouts or all dead): a fallback may apply. */
  readonly unreachable: boolean;
}

/** Counters of what the client sent and dropped. */
export interface RadiusClientStats {
  requests: number;
  transmissions: number;
  replies: number;
  timeouts: number;
  /** From an address/port that is not the server the request is waiting on. */
  droppedUnknownSource: number;
  /** A valid source, but no request waits on that Identifier (late or duplicate). */
  droppedNoRequest: number;
  droppedMalformed: number;
  droppedUnexpectedCode: number;
  droppedBadAuthenticator: number;
  droppedBadMessageAuthenticator: number;
  droppedMissingMessageAuthenticator: number;
}

type Waiter = {
  readonly address: string;
  readonly port: number;
  readonly server: RadiusServer;
  readonly requestCode: number;
  readonly requestAuthenticator: Buffer;
  resolve(reply: RadiusPacket | undefined): void;
};

interface Slot {
  readonly socket: ClientSocket;
  readonly identifier: number;
}

class ClientSocket {
  /** Identifier → the request waiting for it (or null: allocated, not yet sent). */
  readonly pending = new Map<number, Waiter | null>();
  private next: number;

  constructor(readonly socket: dgram.Socket) {
    this.next = Math.floor(Math.random() * 256);
  }

  /** A free Identifier, rotating so a just-released one is not reused at once. */
  allocate(): number | undefined {
    for (let n = 0; n < 256; n++) {
      const id = (this.next + n) & 0xff;
      if (!this.pending.has(id)) {
        this.next = (id + 1) & 0xff;
        this.pending.set(id, null);
        return id;
      }
    }
    return undefined;
  }
}

interface ServerState {
  readonly server: RadiusServer;
  readonly label: string;
  deadUntil: number;
}

const WARN_INTERVAL_MS = 60_000;

const ACCESS_REPLIES: ReadonlySet<number> = new Set([
  Code.AccessAccept,
  Code.AccessReject,
  Code.AccessChallenge,
]);

function expectedReplies(requestCode: number): ReadonlySet<number> {
  return requestCode === Code.AccountingRequest
    ? new Set([Code.AccountingResponse])
    : ACCESS_REPLIES;
}

function label(server: RadiusServer): string {
  return `${server.host}:${server.port}`;
}

export class RadiusClient {
  readonly stats: RadiusClientStats = {
    requests: 0,
    transmissions: 0,
    replies: 0,
    timeouts: 0,
    droppedUnknownSource: 0,
    droppedNoRequest: 0,
    droppedMalformed: 0,
    droppedUnexpectedCode: 0,
    droppedBadAuthenticator: 0,
    droppedBadMessageAuthenticator: 0,
    droppedMissingMessageAuthenticator: 0,
  };

  readonly #servers: ServerState[];
  readonly #options: RadiusClientOptions;
  readonly #log: RadiusLogger;
  readonly #now: () => number;
  readonly #resolve: (host: string) => Promise<string>;
  readonly #maxSockets: number;
  readonly #requireMa: boolean;
  readonly #sockets: ClientSocket[] = [];
  #opening: Promise<ClientSocket | undefined> | undefined;
  /** Last time each drop warning was logged (bounded). */
  readonly #warned = new Map<string, number>();
  #closed = false;

  constructor(options: RadiusClientOptions) {
    if (options.servers.length === 0) throw new RangeError('RADIUS client needs a server');
    this.#options = options;
    this.#servers = options.servers.map((server) => ({
      server,
      label: label(server),
      deadUntil: 0,
    }));
    this.#log = options.logger ?? silentRadiusLogger;
    this.#now = options.now ?? Date.now;
    this.#resolve =
      options.resolve ??
      (async (host) => (isIP(host) ? host : (await dnsLookup(host, { family: 4 })).address));
    this.#maxSockets = Math.max(1, options.maxSockets ?? 4);
    this.#requireMa = options.requireMessageAuthenticator ?? true;
  }

  /** Servers as `host:port` with whether each is currently skipped as dead. */
  serverStates(): { label: string; dead: boolean }[] {
    const now = this.#now();
    return this.#servers.map((s) => ({ label: s.label, dead: s.deadUntil > now }));
  }

  /**
   * Sends a request built by `build` (called once per server tried, with that server's
   * secret and the Identifier) and resolves with the first verified reply.
   */
  async request(
    code: number,
    build: (context: BuildContext) => Result<BuiltRequest>,
  ): Promise<Result<RadiusReply, RadiusFailure>> {
    if (this.#closed) return failure('closed', 'the RADIUS client is closed', false);
    this.stats.requests++;
    const now = this.#now();
    const candidates = this.#servers.filter((s) => s.deadUntil <= now);
    if (candidates.length === 0) {
      return failure(
        'all-dead',
        `every RADIUS server is marked dead (${this.#servers.map((s) => s.label).join(', ')})`,
        true,
      );
    }
    const slot = await this.#allocate();
    if (slot === undefined) {
      return this.#closed
        ? failure('closed', 'the RADIUS client is closed', false)
        : failure('socket', 'no RADIUS socket could be opened', false);
    }
    if (slot === 'busy') {
      return failure('busy', 'too many RADIUS requests in flight', false);
    }
    try {
      const tried: string[] = [];
      for (const state of candidates) {
        if (this.#closed) return failure('closed', 'the RADIUS client is closed', false);
        // Another request may have found this server dead while we waited on an earlier one.
        if (state.deadUntil > this.#now()) {
          tried.push(`${state.label} (dead)`);
          continue;
        }
        let address: string;
        try {
          address = await this.#resolve(state.server.host);
        } catch {
          this.#markDead(state, 'its host name does not resolve');
          tried.push(`${state.label} (no address)`);
          continue;
        }
        const built = build({
          secret: state.server.secret,
          identifier: slot.identifier,
          server: state.server,
        });
        if (!built.ok) return failure('encode', built.error.reason, false);
        const attempts = 1 + Math.max(0, this.#options.retries);
        for (let attempt = 0; attempt < attempts; attempt++) {
          const reply = await this.#transmit(slot, state, address, code, built.value);
          if (reply !== undefined) {
            state.deadUntil = 0;
            this.stats.replies++;
            return {
              ok: true,
              value: {
                packet: reply,
                server: state.server,
                serverLabel: state.label,
                requestAuthenticator: built.value.authenticator,
              },
            };
          }
          if (this.#closed) return failure('closed', 'the RADIUS client is closed', false);
          this.stats.timeouts++;
        }
        this.#markDead(state, `no reply to ${attempts} transmissions`);
        tried.push(state.label);
      }
      return failure('timeout', `no RADIUS server answered (tried ${tried.join(', ')})`, true);
    } finally {
      slot.socket.pending.delete(slot.identifier);
    }
  }

  /** Closes the sockets; requests in flight end with `closed`. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.#sockets) {
      for (const w of s.pending.values()) w?.resolve(undefined);
      s.pending.clear();
      try {
        s.socket.close();
      } catch {
        // Already closed.
      }
    }
    this.#sockets.length = 0;
  }

  /**
   * A verification failure from a server's own address usually means a wrong shared secret:
   * worth a warning, but at most one a minute per message, so forged floods cannot fill
   * the log (each drop is counted in `stats` regardless).
   */
  #warnOnce(message: string): void {
    const now = this.#now();
    const last = this.#warned.get(message);
    if (last !== undefined && now - last < WARN_INTERVAL_MS) {
      this.#log.debug(message);
      return;
    }
    if (this.#warned.size >= 64) this.#warned.clear();
    this.#warned.set(message, now);
    this.#log.warn(message);
  }

  #markDead(state: ServerState, why: string): void {
    state.deadUntil = this.#now() + this.#options.deadTimeMs;
    this.#log.warn(
      `RADIUS server ${state.label} is dead (${why}); skipped for ${Math.round(this.#options.deadTimeMs / 1000)} s`,
    );
  }

  async #allocate(): Promise<Slot | 'busy' | undefined> {
    for (;;) {
      for (const socket of this.#sockets) {
        const identifier = socket.allocate();
        if (identifier !== undefined) return { socket, identifier };
      }
      if (this.#sockets.length >= this.#maxSockets) return 'busy';
      // One socket opens at a time; callers waiting for it then allocate from it.
      this.#opening ??= this.#open().finally(() => {
        this.#opening = undefined;
      });
      const opened = await this.#opening;
      if (opened === undefined || this.#closed) return undefined;
    }
  }

  async #open(): Promise<ClientSocket | undefined> {
    const socket = dgram.createSocket('udp4');
    const client = new ClientSocket(socket);
    socket.on('message', (msg, rinfo) => this.#onMessage(client, msg, rinfo));
    socket.on('error', (e) => this.#log.warn(`RADIUS socket error: ${e.message}`));
    const bound = await new Promise<boolean>((resolve) => {
      const onError = (): void => resolve(false);
      socket.once('error', onError);
      socket.bind(
        { port: 0, ...(this.#options.bindAddress ? { address: this.#options.bindAddress } : {}) },
        () => {
          socket.off('error', onError);
          resolve(true);
        },
      );
    });
    if (!bound || this.#closed) {
      try {
        socket.close();
      } catch {
        // Never opened.
      }
      return undefined;
    }
    // The daemon's life does not depend on this socket; tests and the CLI may exit.
    socket.unref();
    this.#sockets.push(client);
    return client;
  }

  /** One transmission: resolves with a verified reply, or undefined on timeout/close. */
  #transmit(
    slot: Slot,
    state: ServerState,
    address: string,
    code: number,
    built: BuiltRequest,
  ): Promise<RadiusPacket | undefined> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (reply: RadiusPacket | undefined): void => {
        if (timer !== undefined) clearTimeout(timer);
        timer = undefined;
        if (slot.socket.pending.get(slot.identifier) === waiter) {
          slot.socket.pending.set(slot.identifier, null);
        }
        resolve(reply);
      };
      const waiter: Waiter = {
        address,
        port: state.server.port,
        server: state.server,
        requestCode: code,
        requestAuthenticator: built.authenticator,
        resolve: done,
      };
      slot.socket.pending.set(slot.identifier, waiter);
      timer = setTimeout(() => done(undefined), this.#options.timeoutMs);
      this.stats.transmissions++;
      slot.socket.socket.send(built.bytes, state.server.port, address, (e) => {
        // The reply will not come; the timer ends this attempt.
        if (e) this.#log.debug(`RADIUS send to ${state.label} failed: ${e.message}`);
      });
    });
  }

  #onMessage(client: ClientSocket, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const from = `${rinfo.address}:${rinfo.port}`;
    if (msg.length < 20) {
      this.stats.droppedMalformed++;
      this.#log.debug(`RADIUS: dropped ${msg.length} bytes from ${from}: too short`);
      return;
    }
    const waiter = client.pending.get(msg[1]!);
    if (waiter === undefined || waiter === null) {
      const known = this.#servers.some(
        (s) =>
          s.server.port === rinfo.port && (!isIP(s.server.host) || s.server.host === rinfo.address),
      );
      if (known) this.stats.droppedNoRequest++;
      else this.stats.droppedUnknownSource++;
      this.#log.debug(`RADIUS: dropped a reply from ${from}: no request with id ${msg[1]}`);
      return;
    }
    if (rinfo.address !== waiter.address || rinfo.port !== waiter.port) {
      this.stats.droppedUnknownSource++;
      this.#log.debug(`RADIUS: dropped a reply from ${from}: not the server asked`);
      return;
    }
    const decoded = decodePacket(msg);
    if (!decoded.ok) {
      this.stats.droppedMalformed++;
      this.#log.debug(`RADIUS: dropped a reply from ${from}: ${decoded.error.reason}`);
      return;
    }
    const packet = decoded.value;
    if (!expectedReplies(waiter.requestCode).has(packet.code)) {
      this.stats.droppedUnexpectedCode++;
      this.#log.debug(
        `RADIUS: dropped ${codeName(packet.code)} from ${from} answering ${codeName(waiter.requestCode)}`,
      );
      return;
    }
    const verified = verifyResponse(msg, waiter.requestAuthenticator, waiter.server.secret);
    if (!verified.ok) {
      if (verified.error.kind === 'bad-authenticator') this.stats.droppedBadAuthenticator++;
      else this.stats.droppedBadMessageAuthenticator++;
      this.#warnOnce(`RADIUS: dropped a reply from ${from}: ${verified.error.reason}`);
      return;
    }
    if (verified.value === 'absent' && this.#requireMa && ACCESS_REPLIES.has(packet.code)) {
      this.stats.droppedMissingMessageAuthenticator++;
      this.#warnOnce(
        `RADIUS: dropped ${codeName(packet.code)} from ${from}: no Message-Authenticator (configure the server to send one, or set requireMessageAuthenticator to false)`,
      );
      return;
    }
    this.#log.debug(`RADIUS rcvd from ${from} ${formatPacket(packet)}`);
    waiter.resolve(packet);
  }
}

function failure(
  kind: RadiusFailureKind,
  reason: string,
  unreachable: boolean,
): { ok: false; error: RadiusFailure } {
  return { ok: false, error: { kind, reason, unreachable } };
}
