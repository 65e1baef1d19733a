import { execFileSync } from 'node:child_process';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PcapWriter } from '../../src/daemon/capture.js';
import { verifyPapOrMd5 } from '../../src/ppp/auth/verify.js';
import { PppSession } from '../../src/ppp/session.js';
import { BackToBack } from '../ppp/back-to-back.js';

function hasTshark(): boolean {
  try {
    execFileSync('tshark', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('pcap captures (LINKTYPE_PPP_WITH_DIR)', () => {
  for (const method of ['pap', 'chap-md5'] as const) {
    it.skipIf(!hasTshark())(
      `tshark dissects LCP, ${method} and IPCP with no malformed packet`,
      () => {
        const dir = mkdtempSync(join(tmpdir(), 'bl-pcap-'));
        const path = join(dir, `${method}.pcap`);
        const pcap = new PcapWriter(path);
        const a = new PppSession({
          ourName: 'hq',
          authRequired: [method],
          authAllowed: [],
          lcp: { asyncmap: 0 },
          ipcp: { localAddress: '10.0.0.1', remoteAddress: '10.0.0.2', dns: ['10.0.0.53'] },
        });
        const b = new PppSession({
          ourName: 'br',
          credentials: { name: 'alice', password: 'pw' },
          authRequired: [],
          authAllowed: [method],
          ipcp: { requestDns: true },
        });
        const pair = new BackToBack(a, b, { authA: (r) => verifyPapOrMd5(r, { password: 'pw' }) });
        // Tap side A's frames in both directions by wrapping its session.
        const handle = a.handleFrame.bind(a);
        a.handleFrame = (frame, now) => {
          pcap.write('rcvd', frame);
          return handle(frame, now);
        };
        const poll = a.pollTransmit.bind(a);
        a.pollTransmit = () => {
          const f = poll();
          if (f) pcap.write('sent', f);
          return f;
        };
        pair.start();
        expect(pair.runUntil(() => !!a.addresses && !!b.addresses)).toBe(true);
        pair.sendIp(
          'b',
          Buffer.from('4500001c000000004001f9cd0a0000020a0000010800f7ff00000000', 'hex'),
        );
        pair.runFor(50);
        pcap.close();
        expect(statSync(path).mode & 0o777).toBe(0o600);
        const text = execFileSync('tshark', ['-r', path, '-V'], { encoding: 'utf8' });
        expect(text).not.toMatch(/[Mm]alformed/);
        expect(text).toContain('PPP Link Control Protocol');
        expect(text).toContain(
          method === 'pap'
            ? 'PPP Password Authentication Protocol'
            : 'PPP Challenge Handshake Authentication Protocol',
        );
        expect(text).toContain('PPP IP Control Protocol');
        expect(text).toContain('Internet Protocol Version 4');
        const summary = execFileSync('tshark', ['-r', path], { encoding: 'utf8' })
          .trim()
          .split('\n');
        expect(summary.length).toBe(pcap.count);
      },
    );
  }
});
