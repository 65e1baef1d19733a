/**
 * Packet captures of a link's PPP frames as pcap with LINKTYPE_PPP_WITH_DIR (204):
 * a one-octet direction pseudo-header (0 received, 1 sent) before each frame, which
 * Wireshark and tshark dissect as PPP.
 */
import { closeSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';

export const LINKTYPE_PPP_WITH_DIR = 204;
const SNAPLEN = 65535;

export type CaptureDirection = 'sent' | 'rcvd';

export class PcapWriter {
  private fd: number | undefined;
  private packets = 0;

  /**
   * `append`: continue a capture another session of the same link started (a redial, a
   * second call on a server) instead of starting the file afresh. Each record is one
   * write() on an O_APPEND descriptor, so several sessions' records interleave whole. A
   * file that does not start with our header is started afresh.
   */
  constructor(
    readonly path: string,
    options: { readonly append?: boolean } = {},
  ) {
    const header = pcapHeader();
    const append = options.append === true && startsWith(path, header);
    // 0600: a capture holds CHAP exchanges and PAP passwords in the clear.
    this.fd = openSync(path, append ? 'a' : 'w', 0o600);
    if (!append) writeSync(this.fd, header);
  }

  get count(): number {
    return this.packets;
  }

  write(direction: CaptureDirection, frame: Buffer, timeMs = Date.now()): void {
    if (this.fd === undefined) return;
    const length = frame.length + 1;
    const caplen = Math.min(length, SNAPLEN);
    const record = Buffer.allocUnsafe(16 + caplen);
    const seconds = Math.floor(timeMs / 1000);
    record.writeUInt32LE(seconds, 0);
    record.writeUInt32LE(Math.floor((timeMs - seconds * 1000) * 1000), 4);
    record.writeUInt32LE(caplen, 8);
    record.writeUInt32LE(length, 12);
    record[16] = direction === 'sent' ? 1 : 0;
    frame.copy(record, 17, 0, caplen - 1);
    writeSync(this.fd, record);
    this.packets++;
  }

  close(): void {
    if (this.fd === undefined) return;
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = undefined;
  }
}

function pcapHeader(): Buffer {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeInt32LE(0, 8);
  header.writeUInt32LE(0, 12);
  header.writeUInt32LE(SNAPLEN, 16);
  header.writeUInt32LE(LINKTYPE_PPP_WITH_DIR, 20);
  return header;
}

/** Whether the file at `path` begins with `prefix` (false when it is missing or shorter). */
function startsWith(path: string, prefix: Buffer): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const head = Buffer.alloc(prefix.length);
    return readSync(fd, head, 0, head.length, 0) === head.length && head.equals(prefix);
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
