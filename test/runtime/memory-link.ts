/** Two PppLinks joined in memory, delivering asynchronously like a real medium. */
import type { AsyncLinkParams, PppLink, PppLinkHandlers } from '../../src/runtime/link.js';

export class MemoryLink implements PppLink {
  readonly description: string;
  readonly source: string;
  readonly maxFrame = 1500;
  peer: MemoryLink | undefined;
  handlers: PppLinkHandlers | undefined;
  params: AsyncLinkParams | undefined;
  closed: string | undefined;
  sent = 0;
  /** PppLink.admitIp, when a test wants a congested medium. */
  admitIp: (() => boolean) | undefined;

  constructor(name: string) {
    this.description = name;
    this.source = name;
  }

  attach(handlers: PppLinkHandlers): void {
    this.handlers = handlers;
  }

  send(frame: Buffer): void {
    if (this.closed !== undefined) return;
    this.sent++;
    const peer = this.peer;
    const copy = Buffer.from(frame);
    setImmediate(() => {
      if (peer?.closed === undefined) peer?.handlers?.onFrame(copy);
    });
  }

  setAsyncParams(params: AsyncLinkParams): void {
    this.params = params;
  }

  async close(reason: string): Promise<void> {
    if (this.closed !== undefined) return;
    this.closed = reason;
    const peer = this.peer;
    setImmediate(() => {
      if (peer !== undefined && peer.closed === undefined)
        peer.handlers?.onDown(`peer hung up (${reason})`);
    });
  }
}

export function memoryLinkPair(): [MemoryLink, MemoryLink] {
  const a = new MemoryLink('mem-a');
  const b = new MemoryLink('mem-b');
  a.peer = b;
  b.peer = a;
  return [a, b];
}
