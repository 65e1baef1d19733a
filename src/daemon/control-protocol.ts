/**
 * The control socket's protocol: one JSON object per line each way. A request
 * names a command; the reply carries the same id and a result or an error.
 */
export type ControlCommand =
  | { command: 'status' }
  | { command: 'dial'; link: string }
  | { command: 'hangup'; link: string }
  | { command: 'kill-session'; session: string }
  | { command: 'capture-start'; link: string; path: string }
  | { command: 'capture-stop'; link: string }
  | { command: 'reload' };

export type ControlRequest = ControlCommand & { id: number };

export type ControlReply =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: string };

export const DEFAULT_CONTROL_SOCKET = '/run/branchlink/control.sock';

/** Longest request line the server reads; anything longer closes the connection. */
export const MAX_REQUEST_BYTES = 64 * 1024;

export function parseRequest(line: string): ControlRequest | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return 'request is not JSON';
  }
  if (typeof value !== 'object' || value === null) return 'request is not an object';
  const r = value as Record<string, unknown>;
  if (typeof r.id !== 'number') return 'request has no numeric id';
  const str = (k: string): string | undefined =>
    typeof r[k] === 'string' ? (r[k] as string) : undefined;
  switch (r.command) {
    case 'status':
    case 'reload':
      return { id: r.id, command: r.command };
    case 'dial':
    case 'hangup':
    case 'capture-stop': {
      const link = str('link');
      return link === undefined
        ? `${r.command} needs a link name`
        : { id: r.id, command: r.command, link };
    }
    case 'capture-start': {
      const link = str('link');
      const path = str('path');
      return link === undefined || path === undefined
        ? 'capture-start needs a link name and a path'
        : { id: r.id, command: 'capture-start', link, path };
    }
    case 'kill-session': {
      const session = str('session');
      return session === undefined
        ? 'kill-session needs a session id'
        : { id: r.id, command: 'kill-session', session };
    }
    default:
      return `unknown command ${JSON.stringify(r.command)}`;
  }
}
