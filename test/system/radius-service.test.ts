/**
 * RADIUS through the running service: hq answers a modem call and asks FreeRADIUS,
 * which accepts the branch's MS-CHAPv2 login, hands out its address (Framed-IP-Address)
 * and the MPPE keys, and records the session's accounting Start and Stop. Everything
 * runs in one network namespace the test creates (its own 127.0.0.1 for FreeRADIUS),
 * the two routers joined by the modem simulator's ptys, without TUN devices.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModemSimulator } from '../../scripts/modem-sim/sim.js';
import { isRoot, NetNamespace, uniqueName } from '../../src/net/netns.js';
import { cli, Router, waitUntil, writeSecrets } from './fixtures/branchlink.js';
import { FreeRadius, freeradiusMissing } from './radius/fixtures/freeradius.js';

const SHARED = 'radius-shared-secret-for-the-test';
const skip = !isRoot() ? 'needs root (network namespace)' : freeradiusMissing();

describe.skipIf(skip !== undefined)('RADIUS behind the running service', () => {
  let dir = '';
  let ns: NetNamespace | undefined;
  let sim: ModemSimulator | undefined;
  let radius: FreeRadius | undefined;
  let hq: Router | undefined;
  let branch: Router | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bl-radius-svc-'));
    ns = await NetNamespace.create(uniqueName('bl-rad', 32));
    radius = await FreeRadius.start({
      ns,
      secret: SHARED,
      users: 'branch Cleartext-Password := "from-radius-only"\n\tFramed-IP-Address = 10.97.0.9\n',
    });
    writeFileSync(join(dir, 'radius.secret'), `${SHARED}\n`, { mode: 0o600 });
    sim = await ModemSimulator.start({
      lines: [{ number: '100' }, { number: '200' }],
      ringIntervalMs: 500,
    });
    // hq's own secrets file does not know the branch: only RADIUS does.
    writeFileSync(join(dir, 'hq-secrets.json'), '{ "version": 1, "secrets": [] }\n', {
      mode: 0o600,
    });
    writeSecrets(join(dir, 'br-secrets.json'), 'branch', 'from-radius-only');
    hq = await Router.start({
      name: 'hq',
      ns,
      dir,
      extraArgs: ['--no-tun'],
      config: {
        name: 'hq',
        board: { profile: 'virtual', render: false },
        secrets: { file: join(dir, 'hq-secrets.json') },
        radius: {
          servers: [
            {
              host: '127.0.0.1',
              authPort: radius.authPort,
              acctPort: radius.acctPort,
              secretFile: join(dir, 'radius.secret'),
            },
          ],
          nasIdentifier: 'hq-test',
          interimInterval: 0,
        },
        links: [
          {
            name: 'modem-in',
            type: 'dialup',
            role: 'answer',
            device: sim.path('200'),
            ppp: { require: ['mschap-v2'], localAddress: '10.97.0.1', lcpEchoInterval: 5 },
          },
        ],
      },
    });
    branch = await Router.start({
      name: 'br',
      ns,
      dir,
      extraArgs: ['--no-tun'],
      config: {
        name: 'br',
        board: { profile: 'virtual', render: false },
        secrets: { file: join(dir, 'br-secrets.json') },
        links: [
          {
            name: 'modem',
            type: 'dialup',
            role: 'dial',
            device: sim.path('100'),
            number: '200',
            holdoff: 1,
            ppp: { user: 'branch', allow: ['mschap-v2'], lcpEchoInterval: 5 },
          },
        ],
      },
    });
  }, 90_000);

  afterAll(async () => {
    await branch?.stop().catch(() => {});
    await hq?.stop().catch(() => {});
    await sim?.stop().catch(() => {});
    await radius?.stop().catch(() => {});
    await ns?.delete().catch(() => {});
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('authenticates the peer through FreeRADIUS: its address and MPPE keys come from the reply', async () => {
    const link = await waitUntil(
      'the branch modem link in Network',
      async () => {
        const s = await branch!.status();
        const l = s.links[0];
        return l?.phase === 'network' ? l : undefined;
      },
      40_000,
    );
    // Framed-IP-Address from FreeRADIUS, and MPPE-128 keyed by MS-MPPE-Send/Recv-Key.
    expect(link.localIp).toBe('10.97.0.9');
    expect(link.mppe).toBe('128-bit stateless');
    const hqLink = (await hq!.status()).links[0];
    expect(hqLink).toMatchObject({
      phase: 'network',
      peer: 'branch',
      remoteIp: '10.97.0.9',
      authMethod: 'mschap-v2',
    });
  });

  it('records accounting Start and, after an operator hang-up, Stop with Admin-Reset', async () => {
    await waitUntil(
      'an accounting Start for branch',
      () =>
        radius!
          .detailRecords()
          .some((r) => r['Acct-Status-Type'] === 'Start' && r['User-Name'] === 'branch'),
      15_000,
    );
    const start = radius!.detailRecords().find((r) => r['Acct-Status-Type'] === 'Start')!;
    expect(start['Framed-IP-Address']).toBe('10.97.0.9');
    expect(start['NAS-Identifier']).toBe('hq-test');
    const r = await cli(['hangup', 'modem-in', '--socket', hq!.socket]);
    expect(r.code).toBe(0);
    const stop = await waitUntil(
      'an accounting Stop for branch',
      () =>
        radius!
          .detailRecords()
          .find((r) => r['Acct-Status-Type'] === 'Stop' && r['User-Name'] === 'branch'),
      15_000,
    );
    expect(stop['Acct-Session-Id']).toBe(start['Acct-Session-Id']);
    // `branchlink hangup` at hq: an operator's reset (RFC 2866 §5.10).
    expect(stop['Acct-Terminate-Cause']).toBe('Admin-Reset');
    expect(Number(stop['Acct-Session-Time'])).toBeGreaterThanOrEqual(0);
  });
});
