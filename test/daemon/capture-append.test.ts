/**
 * A link's capture file across sessions: a redial or a second call on a server appends
 * to the file the capture started, instead of erasing it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LINKTYPE_PPP_WITH_DIR, PcapWriter } from '../../src/daemon/capture.js';

const dir = mkdtempSync(join(tmpdir(), 'bl-pcap-append-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Reads a pcap: the link type and each record's direction byte and first frame byte. */
function readPcap(path: string): { linktype: number; records: [number, number][] } {
  const b = readFileSync(path);
  expect(b.readUInt32LE(0)).toBe(0xa1b2c3d4);
  const records: [number, number][] = [];
  let off = 24;
  while (off + 16 <= b.length) {
    const caplen = b.readUInt32LE(off + 8);
    records.push([b[off + 16]!, b[off + 17]!]);
    off += 16 + caplen;
  }
  expect(off).toBe(b.length);
  return { linktype: b.readUInt32LE(20), records };
}

const frame = (tag: number) => Buffer.from([tag, 0x03, 0xc0, 0x21, 0x09, 0x01, 0x00, 0x04]);

describe('pcap capture shared by the sessions of a link', () => {
  it('appends a later session to the file the first one started, with one header', () => {
    const path = join(dir, 'redial.pcap');
    const first = new PcapWriter(path);
    first.write('sent', frame(1));
    first.write('rcvd', frame(2));
    first.close();
    const second = new PcapWriter(path, { append: true });
    second.write('sent', frame(3));
    second.close();
    const p = readPcap(path);
    expect(p.linktype).toBe(LINKTYPE_PPP_WITH_DIR);
    expect(p.records).toEqual([
      [1, 1],
      [0, 2],
      [1, 3],
    ]);
  });

  it('interleaves whole records from two sessions writing at once', () => {
    const path = join(dir, 'two-calls.pcap');
    new PcapWriter(path).close();
    const a = new PcapWriter(path, { append: true });
    const b = new PcapWriter(path, { append: true });
    for (let i = 0; i < 50; i++) {
      a.write('sent', frame(0xa0));
      b.write('rcvd', frame(0xb0));
    }
    a.close();
    b.close();
    const p = readPcap(path);
    expect(p.records).toHaveLength(100);
    expect(p.records.filter(([d, t]) => d === 1 && t === 0xa0)).toHaveLength(50);
    expect(p.records.filter(([d, t]) => d === 0 && t === 0xb0)).toHaveLength(50);
  });

  it('starts afresh when asked to append to a file that is not its pcap, or to none', () => {
    const junk = join(dir, 'junk.pcap');
    writeFileSync(junk, 'not a capture at all, just text that happens to be here');
    const w = new PcapWriter(junk, { append: true });
    w.write('sent', frame(7));
    w.close();
    expect(readPcap(junk).records).toEqual([[1, 7]]);
    const missing = join(dir, 'missing.pcap');
    const m = new PcapWriter(missing, { append: true });
    m.close();
    expect(readPcap(missing).records).toEqual([]);
  });

  it('without append, starts the file afresh (a new `branchlink capture`)', () => {
    const path = join(dir, 'again.pcap');
    const w1 = new PcapWriter(path);
    w1.write('sent', frame(1));
    w1.close();
    new PcapWriter(path).close();
    expect(readPcap(path).records).toEqual([]);
  });
});
