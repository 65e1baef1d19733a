/**
 * From a link's `ppp` settings (pppd's vocabulary, validated by config.ts) to the
 * core's SessionConfig. One place, shared by every kind of link.
 */
import type { PeerCredentials } from '../ppp/auth/authenticator.js';
import { parseMppePolicy } from '../ppp/mppe-option.js';
import { err, ok, type Result } from '../ppp/result.js';
import type { SessionConfig } from '../ppp/session.js';
import type { PppOptions } from './config.js';

export interface SessionContext {
  /** Our CHAP name (the config's top-level `name`). */
  readonly ourName: string;
  readonly ppp: PppOptions;
  /** Async serial line (ACCM matters) or a synchronous medium (GRE). */
  readonly async: boolean;
  /** Who we are when the peer authenticates us, from the secrets file. */
  readonly credentials?: PeerCredentials;
  /** Where the peer is: tty path or IP address. */
  readonly source: string;
  /** Address for the peer from a pool, when the link config gives none. */
  readonly assignedRemote?: string;
  /** Our address when the link config gives none (a PPTP server's own). */
  readonly defaultLocal?: string;
}

export function buildSessionConfig(ctx: SessionContext): Result<SessionConfig> {
  const p = ctx.ppp;
  // config.ts has already put the MS-CHAPv2 default (require-mppe-128) into `p.mppe`
  // when the key was absent; an explicit `"mppe": []` means no MPPE, so the default
  // must not be applied a second time here.
  const mppe = parseMppePolicy(p.mppe);
  if (!mppe.ok) return err('mppe', mppe.error.reason);
  const localAddress = p.localAddress ?? ctx.defaultLocal;
  const remoteAddress = p.remoteAddress ?? ctx.assignedRemote;
  return ok({
    ourName: ctx.ourName,
    ...(ctx.credentials ? { credentials: ctx.credentials } : {}),
    authRequired: p.require,
    authAllowed: p.allow,
    lcp: {
      mru: p.mru,
      ...(ctx.async ? { asyncmap: p.asyncmap } : {}),
      echoIntervalMs: p.lcpEchoInterval * 1000,
      echoFailure: p.lcpEchoFailure,
    },
    fsm: {
      restartMs: p.lcpRestart * 1000,
      maxConfigure: p.lcpMaxConfigure,
      maxTerminate: p.lcpMaxTerminate,
      maxFailure: p.lcpMaxFailure,
    },
    ipcp: {
      ...(localAddress ? { localAddress } : {}),
      ...(remoteAddress ? { remoteAddress } : {}),
      dns: p.dns,
      requestDns: p.usepeerdns,
    },
    auth: { rechallengeMs: p.chapInterval * 1000 },
    mppe: mppe.value,
    source: ctx.source,
    trace: p.debug,
  });
}
