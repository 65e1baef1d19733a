import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PcapWriter } from '../../../src/daemon/capture.js';
import { validateConfig } from '../../../src/daemon/config.js';
import { type LinkHost, launchSession } from '../../../src/daemon/links/session-host.js';
import { createLogger } from '../../../src/daemon/logger.js';
import { memoryLinkPair } from '../../runtime/memory-link.js';

function host(): LinkHost {
  return {
    ourName: 'test',
    log: createLogger({ level: 'error', format: 'json' }),
    authenticator: { authenticate: async () => ({ ok: false, reason: 'none' }) },
    credentialsFor: () => undefined,
    ipFactory: () => undefined,
    onSessionEvent: () => {},
  };
}

/** Records in a pcap file (24-octet header, 16-octet record headers). */
function pcapRecords(path: string): number {
  const b = readFileSync(path);
  let n = 0;
  for (let at = 24; at + 16 <= b.length; at += 16 + b.readUInt32LE(at + 8)) n++;
  return n;
}

describe('session host', () => {
  it('writes a `branchlink capture` and the configured ppp.capture side by side', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bl-host-'));
    const configured = join(dir, 'configured.pcap');
    const commanded = join(dir, 'commanded.pcap');
    const parsed = validateConfig(
      {
        links: [
          {
            name: 'a',
            type: 'dialup',
            role: 'dial',
            device: '/dev/null',
            modem: false,
            ppp: { mppe: [], capture: configured, lcpEchoInterval: 0 },
          },
          {
            name: 'b',
            type: 'dialup',
            role: 'dial',
            device: '/dev/zero',
            modem: false,
            ppp: {
              mppe: [],
              lcpEchoInterval: 0,
              localAddress: '10.1.1.1',
              remoteAddress: '10.1.1.2',
            },
          },
        ],
      },
      'test.json',
    );
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.error));
    const [la, lb] = memoryLinkPair();
    const a = launchSession(host(), parsed.value.links[0]!, la, { id: 'a-1', async: false });
    a.capture = new PcapWriter(commanded);
    const b = launchSession(host(), parsed.value.links[1]!, lb, { id: 'b-1', async: false });
    const end = Date.now() + 5000;
    while (a.tracker.remoteIp === null && Date.now() < end)
      await new Promise((r) => setTimeout(r, 10));
    expect(a.tracker.remoteIp).toBe('10.1.1.1');
    await a.driver.stop('done');
    await b.finished;
    const inConfigured = pcapRecords(configured);
    expect(inConfigured).toBeGreaterThan(4);
    // The command's capture was attached after the first Configure-Request had left.
    expect(pcapRecords(commanded)).toBe(inConfigured - 1);
  });
});
