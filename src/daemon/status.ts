/**
 * The status report: what `branchlink status --json` prints. This schema is a
 * stable interface (version 1): fields are only ever added, never renamed.
 */
import type { AuthMethod, Phase } from '../ppp/events.js';

export interface TrafficCounters {
  bytesIn: number;
  bytesOut: number;
  packetsIn: number;
  packetsOut: number;
}

export interface SessionStatus extends TrafficCounters {
  /** Identifier for `branchlink sessions kill ID`. */
  id: string;
  phase: Phase;
  /** Authenticated peer name, once known. */
  peer: string | null;
  /** Where the peer connects from (IP address or tty). */
  source: string;
  localIp: string | null;
  remoteIp: string | null;
  authMethod: AuthMethod | null;
  /** e.g. "128-bit stateless"; null when MPPE is not in use. */
  mppe: string | null;
  uptimeSeconds: number;
}

export interface LinkStatus extends TrafficCounters {
  name: string;
  type: 'dialup' | 'pptp';
  role: 'dial' | 'answer' | 'client' | 'server';
  phase: Phase;
  /** For a server: the count of sessions in Network; otherwise the peer name. */
  peer: string | null;
  localIp: string | null;
  remoteIp: string | null;
  authMethod: AuthMethod | null;
  mppe: string | null;
  /** Seconds since the current session reached Network; null when not up. */
  uptimeSeconds: number | null;
  /** The device, or the server address, or the listen address. */
  endpoint: string;
  /** What went wrong last, in one line; null when nothing did. */
  lastError: string | null;
  /** When the supervisor dials next (ISO 8601), if it is waiting to. */
  nextDialAt: string | null;
  enabled: boolean;
  /** PPTP server only: one entry per call. */
  sessions?: SessionStatus[];
}

export interface StatusReport {
  version: 1;
  service: {
    pid: number;
    startedAt: string;
    uptimeSeconds: number;
    config: string;
    board: { profile: string; ok: boolean; error: string | null };
  };
  links: LinkStatus[];
}

const PHASE_COLOURS: Record<Phase, string> = {
  dead: '\x1b[90m',
  establish: '\x1b[33m',
  authenticate: '\x1b[36m',
  network: '\x1b[32m',
  terminate: '\x1b[35m',
};

function duration(seconds: number | null): string {
  if (seconds === null) return '-';
  const s = Math.floor(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0
    ? `${h}h${String(m).padStart(2, '0')}m`
    : m > 0
      ? `${m}m${String(s % 60).padStart(2, '0')}s`
      : `${s}s`;
}

function bytes(n: number): string {
  if (n < 1024) return `${n}B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)}K`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)}M`;
  return `${(n / 1024 ** 3).toFixed(2)}G`;
}

/** The human table of `branchlink status`. */
export function renderStatusTable(report: StatusReport, colour: boolean): string {
  const header = [
    'LINK',
    'KIND',
    'PHASE',
    'PEER',
    'LOCAL',
    'REMOTE',
    'AUTH',
    'MPPE',
    'UP',
    'IN',
    'OUT',
    'LAST ERROR',
  ];
  const rows: { cells: string[]; phase: Phase }[] = [];
  const row = (
    name: string,
    kind: string,
    s: Omit<SessionStatus, 'id' | 'source' | 'uptimeSeconds'> & { uptimeSeconds: number | null },
    err: string | null,
  ) => ({
    cells: [
      name,
      kind,
      s.phase,
      s.peer ?? '-',
      s.localIp ?? '-',
      s.remoteIp ?? '-',
      s.authMethod ?? '-',
      s.mppe ?? '-',
      duration(s.uptimeSeconds),
      `${bytes(s.bytesIn)}/${s.packetsIn}p`,
      `${bytes(s.bytesOut)}/${s.packetsOut}p`,
      err ?? '',
    ],
    phase: s.phase,
  });
  for (const link of report.links) {
    rows.push(
      row(link.name, `${link.type}/${link.role}`, link, link.enabled ? link.lastError : 'disabled'),
    );
    for (const s of link.sessions ?? []) rows.push(row(`  └ ${s.id}`, s.source, s, null));
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r.cells[i]!.length)));
  const line = (cells: string[], phase?: Phase) =>
    cells
      .map((c, i) => {
        const padded = c.padEnd(widths[i]!);
        return colour && i === 2 && phase ? `${PHASE_COLOURS[phase]}${padded}\x1b[0m` : padded;
      })
      .join('  ')
      .trimEnd();
  const out = [line(header), ...rows.map((r) => line(r.cells, r.phase))];
  if (report.links.length === 0) out.push('(no links configured)');
  return `${out.join('\n')}\n`;
}
