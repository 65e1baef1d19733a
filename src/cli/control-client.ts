/** The CLI's side of the control socket. */
import { createConnection } from 'node:net';
import type { ControlCommand, ControlReply } from '../daemon/control-protocol.js';

export class ServiceNotRunning extends Error {}

export function callService(
  socketPath: string,
  command: ControlCommand,
  timeoutMs = 10_000,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(socketPath);
    let buffered = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer from branchlink on ${socketPath} within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.once('connect', () => socket.write(`${JSON.stringify({ id: 1, ...command })}\n`));
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      const nl = buffered.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      socket.end();
      let reply: ControlReply;
      try {
        reply = JSON.parse(buffered.slice(0, nl)) as ControlReply;
      } catch {
        reject(new Error('the service sent an unreadable reply'));
        return;
      }
      if (reply.ok) resolve(reply.result);
      else reject(new Error(reply.error));
    });
    socket.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED') {
        reject(new ServiceNotRunning(`branchlink is not running (no service on ${socketPath})`));
      } else if (e.code === 'EACCES') {
        reject(
          new Error(
            `permission denied on ${socketPath}: run as root or as a member of the control group`,
          ),
        );
      } else {
        reject(e);
      }
    });
  });
}
