/**
 * The Unix control socket (`/run/branchlink/control.sock`, root-only by default)
 * that the CLI talks to. Newline-delimited JSON; bounded lines and connections.
 */
import { chmodSync, chownSync, existsSync, mkdirSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import {
  type ControlCommand,
  type ControlReply,
  MAX_REQUEST_BYTES,
  parseRequest,
} from './control-protocol.js';

export type ControlHandler = (command: ControlCommand) => Promise<unknown>;

const MAX_CONNECTIONS = 16;

export class ControlServer {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(
    readonly path: string,
    private readonly handler: ControlHandler,
    private readonly options: { group?: number } = {},
  ) {}

  async listen(): Promise<void> {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o755 });
    if (existsSync(this.path)) {
      if (await isAlive(this.path))
        throw new Error(`another branchlink is already listening on ${this.path}`);
      unlinkSync(this.path);
    }
    const server = createServer((socket) => this.accept(socket));
    server.maxConnections = MAX_CONNECTIONS;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    // Root-only unless a group is configured: the socket can hang up links.
    if (this.options.group !== undefined) {
      chownSync(this.path, process.getuid?.() ?? 0, this.options.group);
      chmodSync(this.path, 0o660);
    } else {
      chmodSync(this.path, 0o600);
    }
    this.server = server;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    try {
      unlinkSync(this.path);
    } catch {
      // Already gone.
    }
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setEncoding('utf8');
    let buffered = '';
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      if (buffered.length > MAX_REQUEST_BYTES) {
        socket.destroy();
        return;
      }
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.trim() !== '') void this.dispatch(socket, line);
      }
    });
  }

  private async dispatch(socket: Socket, line: string): Promise<void> {
    const request = parseRequest(line);
    let reply: ControlReply;
    if (typeof request === 'string') {
      reply = { id: -1, ok: false, error: request };
    } else {
      const { id, ...command } = request;
      try {
        reply = { id, ok: true, result: await this.handler(command as ControlCommand) };
      } catch (e) {
        reply = { id, ok: false, error: e instanceof Error ? e.message : String(e) };
      }
    }
    if (!socket.destroyed) socket.write(`${JSON.stringify(reply)}\n`);
  }
}

function isAlive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection(path);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}
