/**
 * RADIUS accounting (RFC 2866): Start when a session's network phase begins, Interim-Update
 * every `interimInterval` seconds while it runs, Stop with its counters and why it ended.
 *
 * Octets and packets are counted from the NAS's point of view as RFC 2866 §5.3/§5.4 define
 * them: "input" is what this router received from the peer, "output" what it sent to it.
 * Counts above 2^32 go into Acct-Input/Output-Gigawords (RFC 2869 §5.1/§5.2).
 *
 * Sending never blocks the session: each request is retried by the client (timeouts,
 * failover) and its failure is logged; the next record goes out regardless.
 */
import { randomBytes } from 'node:crypto';
import { err, ok, type Result } from '../../ppp/result.js';
import type { AccountingHints } from './authenticator.js';
import type { RadiusClient, RadiusFailure, RadiusLogger } from './client.js';
import { silentRadiusLogger } from './client.js';
import {
  AcctAuthentic,
  AcctStatusType,
  Attr,
  addressAttribute,
  Code,
  encodeAccountingRequest,
  FramedProtocol,
  integerAttribute,
  MAX_ATTRIBUTE_VALUE,
  NasPortType,
  type RadiusAttribute,
  ServiceType,
  textAttribute,
} from './packet.js';

/** RFC 2866 §5.10 Acct-Terminate-Cause, by our names. */
export const TERMINATE_CAUSES = {
  'user-request': 1,
  'lost-carrier': 2,
  'lost-service': 3,
  'idle-timeout': 4,
  'session-timeout': 5,
  'admin-reset': 6,
  'admin-reboot': 7,
  'port-error': 8,
  'nas-error': 9,
  'nas-request': 10,
  'nas-reboot': 11,
  'port-unneeded': 12,
  'port-preempted': 13,
  'port-suspended': 14,
  'service-unavailable': 15,
  callback: 16,
  'user-error': 17,
  'host-request': 18,
} as const;

export type TerminateCause = keyof typeof TERMINATE_CAUSES;

/**
 * Maps the one-line reason of a session's `terminated` event to a terminate cause, the way
 * pppd's radius plugin maps its exit status: the peer's Terminate-Request is User-Request,
 * a lost line or dead peer Lost-Carrier, time limits their timeouts, failed authentication
 * or negotiation Service-Unavailable, anything else NAS-Error. The daemon passes an explicit
 * cause when it knows better (an operator's disconnect is Admin-Reset, shutdown Admin-Reboot).
 */
export function terminateCauseFromReason(reason: string): TerminateCause {
  const r = reason.toLowerCase();
  if (r.includes('peer sent terminate-request')) return 'user-request';
  if (r.includes('session time limit')) return 'session-timeout';
  if (r.includes('idle')) return 'idle-timeout';
  if (r.startsWith('link down') || r.includes('peer not responding') || r.includes('carrier')) {
    return 'lost-carrier';
  }
  if (
    r.includes('authenticat') ||
    r.includes('mppe') ||
    r.includes('no network protocols') ||
    r.includes('refused')
  ) {
    return 'service-unavailable';
  }
  if (r.includes('looped back')) return 'port-error';
  return 'nas-error';
}

export interface AccountingCounters {
  /** Octets received from the peer. */
  readonly inputOctets: number;
  /** Octets sent to the peer. */
  readonly outputOctets: number;
  readonly inputPackets: number;
  readonly outputPackets: number;
}

export interface AccountingSessionInfo {
  /** The authenticated peer name (User-Name). */
  readonly userName: string;
  /** Acct-Session-Id; a unique one is made when absent. */
  readonly sessionId?: string;
  /** The peer's address (Framed-IP-Address). */
  readonly framedIpAddress?: string;
  /** Where the peer comes from (Calling-Station-Id): an IP address or tty path. */
  readonly callingStationId?: string;
  /** NAS-Port-Type; default from callingStationId as for authentication. */
  readonly nasPortType?: number;
  /** From the RADIUS decision: Acct-Authentic, Class to echo, the server's interim interval. */
  readonly hints?: AccountingHints;
}

export interface RadiusAccountingOptions {
  /** The client for the accounting servers (port 1813). */
  readonly client: RadiusClient;
  readonly nasIdentifier: string;
  readonly nasIpAddress?: string;
  /** Seconds between Interim-Updates; 0 disables them. A server's Acct-Interim-Interval wins. */
  readonly interimInterval: number;
  readonly logger?: RadiusLogger;
  /** Wall clock in ms (Event-Timestamp, session time); tests inject one. */
  readonly now?: () => number;
}

/** RFC 2869 §5.16: "This value SHOULD NOT be smaller than 60". */
const MIN_INTERIM_SECONDS = 60;

let sessionCounter = 0;

/** A unique Acct-Session-Id: 8 random hex digits and a counter, like `5F3A09C2-0001`. */
export function newSessionId(): string {
  sessionCounter = (sessionCounter + 1) & 0xffff;
  return `${randomBytes(4).toString('hex').toUpperCase()}-${sessionCounter.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** RFC 2866 §5.3 / RFC 2869 §5.1: the low 32 bits and the number of 2^32 wraps. */
function split64(n: number): [low: number, gigawords: number] {
  const v = Math.max(0, Math.floor(n));
  return [v % 2 ** 32, Math.floor(v / 2 ** 32)];
}

export class RadiusAccounting {
  readonly #options: RadiusAccountingOptions;
  readonly #log: RadiusLogger;
  readonly #now: () => number;

  constructor(options: RadiusAccountingOptions) {
    this.#options = options;
    this.#log = options.logger ?? silentRadiusLogger;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Sends Start and returns the session (`session.started` settles with the Start's
   * outcome). With `counters`, Interim-Updates go out on their own every interim interval
   * (the configured one, or the server's Acct-Interim-Interval, at least 60 s); `update`
   * sends one now either way.
   */
  start(
    info: AccountingSessionInfo,
    options: { counters?: () => AccountingCounters } = {},
  ): AccountingSession {
    // RFC 2869 §5.16: a server's interval below 60 s is raised to 60 s.
    const fromServer = info.hints?.interimInterval;
    const interval =
      fromServer !== undefined
        ? Math.max(MIN_INTERIM_SECONDS, fromServer)
        : this.#options.interimInterval;
    return new AccountingSession(this, info, this.#now(), interval, options.counters);
  }

  /** @internal Builds and sends one Accounting-Request. */
  async send(
    session: AccountingSession,
    status: number,
    counters: AccountingCounters | undefined,
    cause: TerminateCause | undefined,
  ): Promise<Result<void, RadiusFailure>> {
    const o = this.#options;
    const eventTime = this.#now();
    const base = this.#attributes(session, status, counters, cause, eventTime);
    if (!base.ok) {
      this.#log.warn(`RADIUS accounting for session ${session.sessionId}: ${base.error.reason}`);
      return {
        ok: false,
        error: { kind: 'encode', reason: base.error.reason, unreachable: false },
      };
    }
    const result = await o.client.request(Code.AccountingRequest, ({ secret, identifier }) => {
      // RFC 2866 §5.2 Acct-Delay-Time: how long this record waited, fixed per server tried
      // (a retransmission to the same server must be the same packet).
      const delay = Math.max(0, Math.floor((this.#now() - eventTime) / 1000));
      const bytes = encodeAccountingRequest({
        identifier,
        attributes: [...base.value, integerAttribute(Attr.AcctDelayTime, delay)],
        secret,
      });
      return bytes.ok
        ? ok({ bytes: bytes.value, authenticator: bytes.value.subarray(4, 20) })
        : bytes;
    });
    const what = status === 1 ? 'Start' : status === 2 ? 'Stop' : 'Interim-Update';
    if (result.ok) {
      this.#log.debug(
        `RADIUS accounting ${what} for session ${session.sessionId} acknowledged by ${result.value.serverLabel}`,
      );
      return ok(undefined);
    }
    this.#log.warn(
      `RADIUS accounting ${what} for session ${session.sessionId} not acknowledged: ${result.error.reason}`,
    );
    return result;
  }

  #attributes(
    session: AccountingSession,
    status: number,
    counters: AccountingCounters | undefined,
    cause: TerminateCause | undefined,
    eventTime: number,
  ): Result<RadiusAttribute[]> {
    const o = this.#options;
    const info = session.info;
    const name = Buffer.from(info.userName, 'utf8');
    if (name.length === 0 || name.length > MAX_ATTRIBUTE_VALUE) {
      return err('bad-name', 'User-Name must be 1..253 bytes');
    }
    const list: RadiusAttribute[] = [
      integerAttribute(Attr.AcctStatusType, status),
      textAttribute(Attr.AcctSessionId, session.sessionId),
      { type: Attr.UserName, value: name },
      textAttribute(Attr.NasIdentifier, o.nasIdentifier),
    ];
    if (o.nasIpAddress !== undefined)
      list.push(addressAttribute(Attr.NasIpAddress, o.nasIpAddress));
    const calling = info.callingStationId;
    list.push(
      integerAttribute(
        Attr.NasPortType,
        info.nasPortType ?? (calling?.startsWith('/') ? NasPortType.Async : NasPortType.Virtual),
      ),
      integerAttribute(Attr.ServiceType, ServiceType.Framed),
      integerAttribute(Attr.FramedProtocol, FramedProtocol.Ppp),
      integerAttribute(
        Attr.AcctAuthentic,
        info.hints?.authentic === 'local' ? AcctAuthentic.Local : AcctAuthentic.Radius,
      ),
      integerAttribute(Attr.EventTimestamp, Math.floor(eventTime / 1000)),
    );
    if (calling !== undefined && calling.length > 0 && Buffer.byteLength(calling) <= 253) {
      list.push(textAttribute(Attr.CallingStationId, calling));
    }
    if (info.framedIpAddress !== undefined) {
      list.push(addressAttribute(Attr.FramedIpAddress, info.framedIpAddress));
    }
    for (const c of info.hints?.class ?? []) list.push({ type: Attr.Class, value: c });
    if (status !== AcctStatusType.Start) {
      list.push(
        integerAttribute(
          Attr.AcctSessionTime,
          Math.max(0, Math.floor((eventTime - session.startedAt) / 1000)),
        ),
      );
      if (counters !== undefined) {
        const [inLow, inGiga] = split64(counters.inputOctets);
        const [outLow, outGiga] = split64(counters.outputOctets);
        list.push(
          integerAttribute(Attr.AcctInputOctets, inLow),
          integerAttribute(Attr.AcctOutputOctets, outLow),
          integerAttribute(Attr.AcctInputGigawords, inGiga),
          integerAttribute(Attr.AcctOutputGigawords, outGiga),
          integerAttribute(Attr.AcctInputPackets, split64(counters.inputPackets)[0]),
          integerAttribute(Attr.AcctOutputPackets, split64(counters.outputPackets)[0]),
        );
      }
    }
    if (status === AcctStatusType.Stop && cause !== undefined) {
      list.push(integerAttribute(Attr.AcctTerminateCause, TERMINATE_CAUSES[cause]));
    }
    return ok(list);
  }
}

/** One accounted session: the object the daemon holds from ip-up to terminated. */
export class AccountingSession {
  readonly sessionId: string;
  /** The outcome of the Start record (awaiting it is optional). */
  readonly started: Promise<Result<void, RadiusFailure>>;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(
    private readonly accounting: RadiusAccounting,
    readonly info: AccountingSessionInfo,
    /** Wall-clock ms of the Start. */
    readonly startedAt: number,
    interimSeconds: number,
    counters: (() => AccountingCounters) | undefined,
  ) {
    this.sessionId = info.sessionId ?? newSessionId();
    this.started = accounting.send(this, AcctStatusType.Start, undefined, undefined);
    if (counters !== undefined && interimSeconds > 0) {
      this.#timer = setInterval(() => void this.update(counters()), interimSeconds * 1000);
      this.#timer.unref();
    }
  }

  /** Sends an Interim-Update with the counters so far. */
  update(counters: AccountingCounters): Promise<Result<void, RadiusFailure>> {
    if (this.#stopped) {
      return Promise.resolve({
        ok: false,
        error: { kind: 'closed', reason: 'the session was stopped', unreachable: false },
      });
    }
    return this.accounting.send(this, AcctStatusType.InterimUpdate, counters, undefined);
  }

  /** Sends Stop with the final counters and the cause; later calls do nothing. */
  stop(counters: AccountingCounters, cause: TerminateCause): Promise<Result<void, RadiusFailure>> {
    if (this.#stopped) {
      return Promise.resolve({
        ok: false,
        error: { kind: 'closed', reason: 'the session was already stopped', unreachable: false },
      });
    }
    this.#stopped = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    return this.accounting.send(this, AcctStatusType.Stop, counters, cause);
  }
}
