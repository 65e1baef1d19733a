/**
 * Structured logs (pino) to stdout for journald; a readable form on a terminal.
 * Nothing that carries a secret is ever passed to a logger: reasons from the core
 * and the secrets store are written to be safe to print.
 */
import { type Logger, pino } from 'pino';
import pretty from 'pino-pretty';

export type LogFormat = 'json' | 'pretty' | 'auto';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type { Logger };

export function createLogger(
  options: { level?: LogLevel; format?: LogFormat; destination?: NodeJS.WritableStream } = {},
): Logger {
  const destination = options.destination ?? process.stdout;
  const format = options.format ?? 'auto';
  const isTty = 'isTTY' in destination && (destination as NodeJS.WriteStream).isTTY === true;
  const usePretty = format === 'pretty' || (format === 'auto' && isTty);
  const base = { level: options.level ?? 'info', base: { service: 'branchlink' } };
  if (!usePretty) return pino(base, destination);
  return pino(
    base,
    pretty({
      destination,
      colorize: isTty,
      sync: true,
      ignore: 'pid,hostname,service',
      translateTime: 'SYS:HH:MM:ss.l',
    }),
  );
}
