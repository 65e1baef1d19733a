/**
 * The raw GRE transport: one IP-protocol-47 socket per process, shared by every PPTP call,
 * demultiplexed by Call ID (the Key of each packet is the receiver's Call ID, and Call IDs
 * are unique across the process; see call.ts).
 *
 * A packet must come from the address of the control connection its call belongs to;
 * GRE from any other address is dropped and counted (`rxWrongSource`), as MS-PTPT §3.1.5
 * allows and as one would want: otherwise anyone who guesses a Call ID can inject frames.
 *
 * The socket stays open for the life of the process: without one, the kernel answers GRE
 * with ICMP protocol-unreachable and pptpd tears the call down on that ICMP (MEASURED.md).
 *
 * The socket sits behind `GreSocket` so a faster native binding can replace the
 * `raw-socket` npm package without touching the rest.
 */
import { createRequire } from 'node:module';
import { type CallIdAllocator, SequentialCallIdAllocator } from './call.js';
import { decodeGre, type GrePacket, IP_PROTOCOL_GRE, stripIpv4Header } from './gre.js';

/** What the transport needs from a raw IPv4 protocol-47 socket. */
export interface GreSocket {
  /** Sends one GRE packet (GRE header first; the kernel adds the IP header). */
  send(packet: Buffer, address: string): void;
  /** Installs the receiver: each packet starts with its IPv4 header. */
  onPacket(handler: (ipPacket: Buffer, source: string) => void): void;
  close(): void;
  /** Send errors reported by the socket so far. */
  readonly sendErrors: number;
}

/** Whatever takes the GRE packets of one call (the call's link). */
export interface GreReceiver {
  handleGre(packet: GrePacket): void;
}

export interface GreTransportCounters {
  rxPackets: number;
  /** Not an IPv4 GRE datagram (bad IP header). */
  rxNotGre: number;
  /** GRE that failed to decode as enhanced GRE (wrong version, flags, lengths). */
  rxMalformed: number;
  /** A Call ID no call of ours has (a stale call, another program's GRE, a scan). */
  rxUnknownCall: number;
  /** A known Call ID from an address other than that call's control connection peer. */
  rxWrongSource: number;
  txPackets: number;
}

interface Registration {
  readonly peerAddress: string;
  readonly receiver: GreReceiver;
}

export class GreTransport {
  private readonly socket: GreSocket;
  private readonly calls = new Map<number, Registration>();
  readonly callIds: CallIdAllocator;
  readonly counters: GreTransportCounters = {
    rxPackets: 0,
    rxNotGre: 0,
    rxMalformed: 0,
    rxUnknownCall: 0,
    rxWrongSource: 0,
    txPackets: 0,
  };
  /** Called for each dropped packet with a one-line reason (for debug logs); optional. */
  onDrop: ((reason: string) => void) | undefined;

  constructor(socket: GreSocket, callIds: CallIdAllocator = new SequentialCallIdAllocator()) {
    this.socket = socket;
    this.callIds = callIds;
    socket.onPacket((packet, source) => this.handleIpPacket(packet, source));
  }

  private static sharedInstance: GreTransport | undefined;

  /**
   * Why no GRE can flow (the raw socket could not be opened), or undefined when it can.
   * Control connections still work without it; calls are then refused with this reason.
   */
  unavailable: string | undefined;

  /**
   * The process-wide transport, opened on first use (needs CAP_NET_RAW) and never closed
   * (see the file comment). Without the privilege it is a transport that carries nothing
   * and says why in `unavailable`, so that the control connection can still be tried.
   */
  static shared(): GreTransport {
    if (GreTransport.sharedInstance === undefined) {
      try {
        GreTransport.sharedInstance = new GreTransport(RawGreSocket.open());
      } catch (e) {
        const t = new GreTransport(new NoGreSocket());
        t.unavailable = `cannot open the raw GRE socket (IP protocol 47): ${e instanceof Error ? e.message : String(e)} — PPTP calls need CAP_NET_RAW (run as root)`;
        GreTransport.sharedInstance = t;
      }
    }
    return GreTransport.sharedInstance;
  }

  /** Routes GRE with Key Call ID `callId` from `peerAddress` to `receiver`. */
  register(callId: number, peerAddress: string, receiver: GreReceiver): void {
    this.calls.set(callId, { peerAddress: normaliseAddress(peerAddress), receiver });
  }

  /** Stops routing `callId` (only if it still belongs to `receiver`). */
  unregister(callId: number, receiver: GreReceiver): void {
    if (this.calls.get(callId)?.receiver === receiver) this.calls.delete(callId);
  }

  get registeredCalls(): number {
    return this.calls.size;
  }

  send(packet: Buffer, address: string): void {
    this.counters.txPackets++;
    this.socket.send(packet, normaliseAddress(address));
  }

  get sendErrors(): number {
    return this.socket.sendErrors;
  }

  /** One datagram from the raw socket, IPv4 header first. Public for tests. */
  handleIpPacket(ipPacket: Buffer, source: string): void {
    this.counters.rxPackets++;
    const gre = stripIpv4Header(ipPacket);
    if (!gre.ok) {
      this.counters.rxNotGre++;
      this.onDrop?.(`not GRE from ${source}: ${gre.error.reason}`);
      return;
    }
    const decoded = decodeGre(gre.value);
    if (!decoded.ok) {
      this.counters.rxMalformed++;
      this.onDrop?.(`bad GRE from ${source}: ${decoded.error.reason}`);
      return;
    }
    const p = decoded.value;
    const reg = this.calls.get(p.callId);
    if (reg === undefined) {
      this.counters.rxUnknownCall++;
      this.onDrop?.(`GRE from ${source} for unknown call ${p.callId}`);
      return;
    }
    const from = normaliseAddress(source);
    if (from !== reg.peerAddress) {
      this.counters.rxWrongSource++;
      this.onDrop?.(`GRE for call ${p.callId} from ${from}, not its peer ${reg.peerAddress}`);
      return;
    }
    // The socket reuses its receive buffer: the payload must own its bytes.
    reg.receiver.handleGre({
      callId: p.callId,
      sequence: p.sequence,
      ack: p.ack,
      payload: Buffer.from(p.payload),
    });
  }
}

/** A socket for a process without CAP_NET_RAW: sends nowhere, receives nothing. */
class NoGreSocket implements GreSocket {
  sendErrors = 0;
  send(): void {
    this.sendErrors++;
  }
  onPacket(): void {}
  close(): void {}
}

function normaliseAddress(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

// ---------------------------------------------------------------------- raw-socket

/** The part of the `raw-socket` npm package (CommonJS, untyped) that we use. */
export interface RawSocketModule {
  createSocket(options: {
    protocol: number;
    addressFamily?: number;
    bufferSize?: number;
  }): RawSocket;
  SocketLevel: { SOL_SOCKET: number; IPPROTO_IP: number };
  SocketOption: { SO_RCVBUF: number; SO_SNDBUF: number; IP_HDRINCL: number };
}

/** raw-socket's JS Socket (queued sends, one recv per readiness event). */
interface RawSocket {
  readonly wrap: RawSocketWrap;
  on(event: 'error', listener: (error: Error) => void): void;
  send(
    buffer: Buffer,
    offset: number,
    length: number,
    address: string,
    after: (error: Error | null, bytes: number) => void,
  ): void;
  setOption(level: number, option: number, value: number): void;
  close(): void;
}

/** raw-socket's native handle: synchronous, non-blocking sendto / recvfrom that throw on error. */
interface RawSocketWrap {
  send(
    buffer: Buffer,
    offset: number,
    length: number,
    address: string,
    done: (bytes: number) => void,
  ): void;
  recv(buffer: Buffer, done: (buffer: Buffer, bytes: number, source: string) => void): void;
  on(event: 'recvReady', listener: () => void): void;
  removeAllListeners(event: 'recvReady'): void;
}

/** Loads `raw-socket` lazily, so importing this file needs neither root nor the addon. */
export function loadRawSocketModule(): RawSocketModule {
  const require = createRequire(import.meta.url);
  return require('raw-socket') as RawSocketModule;
}

/** Datagrams read per readiness event before yielding to the event loop. */
const RECV_BATCH = 64;

/**
 * `GreSocket` over the `raw-socket` package's native handle. Its JS Socket queues sends
 * and writes one packet per event-loop turn, and reads one per turn; this class calls the
 * handle directly instead: a synchronous non-blocking sendto per packet (a full socket
 * buffer drops the packet and counts it, as a router would) and up to 64 recvfroms per
 * readiness event.
 */
export class RawGreSocket implements GreSocket {
  private handler: ((ipPacket: Buffer, source: string) => void) | undefined;
  private errors = 0;
  private readonly socket: RawSocket;
  private readonly receiveBuffer = Buffer.allocUnsafe(65_536);
  /** Receive errors other than "nothing more to read". */
  receiveErrors = 0;
  /** Last socket error, for status. */
  lastError: Error | undefined;

  private constructor(socket: RawSocket) {
    this.socket = socket;
    socket.on('error', (error) => {
      this.receiveErrors++;
      this.lastError = error;
    });
    socket.wrap.removeAllListeners('recvReady');
    socket.wrap.on('recvReady', () => this.drain());
  }

  /**
   * Opens the protocol-47 socket. `receiveBufferBytes` raises SO_RCVBUF so bursts are not
   * lost while the event loop is busy.
   */
  static open(receiveBufferBytes = 4 * 1024 * 1024): RawGreSocket {
    const raw = loadRawSocketModule();
    const socket = raw.createSocket({ protocol: IP_PROTOCOL_GRE });
    try {
      socket.setOption(raw.SocketLevel.SOL_SOCKET, raw.SocketOption.SO_RCVBUF, receiveBufferBytes);
    } catch {
      // Not fatal: the default buffer works, only bursts suffer.
    }
    return new RawGreSocket(socket);
  }

  get sendErrors(): number {
    return this.errors;
  }

  send(packet: Buffer, address: string): void {
    try {
      this.socket.wrap.send(packet, 0, packet.length, address, noop);
    } catch (error) {
      // EAGAIN / ENOBUFS (socket buffer full), EHOSTUNREACH, ...: the packet is dropped.
      this.errors++;
      this.lastError = error as Error;
    }
  }

  onPacket(handler: (ipPacket: Buffer, source: string) => void): void {
    this.handler = handler;
  }

  close(): void {
    this.socket.close();
  }

  private drain(): void {
    const deliver = (buffer: Buffer, bytes: number, source: string) =>
      this.handler?.(buffer.subarray(0, bytes), source);
    for (let i = 0; i < RECV_BATCH; i++) {
      try {
        this.socket.wrap.recv(this.receiveBuffer, deliver);
      } catch (error) {
        // "Resource temporarily unavailable" ends the batch; anything else is counted.
        if (!/temporarily unavailable|would block/i.test(String(error))) {
          this.receiveErrors++;
          this.lastError = error as Error;
        }
        return;
      }
    }
  }
}

function noop(): void {}
