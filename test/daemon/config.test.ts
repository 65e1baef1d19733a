import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type Config,
  diffConfigs,
  formatConfigError,
  loadConfig,
  parseConfig,
  validateConfig,
} from '../../src/daemon/config.js';

const FILE = '/etc/branchlink/config.json';

const hq = { type: 'pptp', role: 'client', name: 'hq', server: 'vpn.example.net' };
const modem = {
  type: 'dialup',
  role: 'dial',
  name: 'modem',
  device: '/dev/ttyUSB0',
  number: '0123456',
};
const rw = {
  type: 'pptp',
  role: 'server',
  name: 'remote',
  pool: '10.9.0.10-10.9.0.100',
  ppp: { localAddress: '10.9.0.1' },
};
const answer = { type: 'dialup', role: 'answer', name: 'dialin', device: '/dev/ttyAMA0' };

function ok(input: unknown): Config {
  const r = validateConfig(input, FILE);
  if (!r.ok) throw new Error(r.error.map(formatConfigError).join('\n'));
  return r.value;
}

function errors(input: unknown): string[] {
  const r = validateConfig(input, FILE);
  if (r.ok) throw new Error('expected errors');
  return r.error.map(formatConfigError);
}

describe('config defaults', () => {
  it('an empty object is a complete config with the documented defaults', () => {
    expect(ok({})).toEqual({
      name: 'branchlink',
      board: {
        profile: 'virtual',
        chip: '/dev/gpiochip0',
        leds: { power: 17, dialup: 27, vpn: 22, auth: 23 },
      },
      secrets: { file: '/etc/branchlink/secrets.json', lockout: { failures: 5, seconds: 300 } },
      control: { socket: '/run/branchlink/control.sock' },
      log: { level: 'info', format: 'auto' },
      links: [],
    });
  });

  it('fills link defaults by type and role', () => {
    const c = ok({ links: [hq, modem, rw, answer] });
    const [client, dial, server, ans] = c.links;
    expect(client).toMatchObject({
      enabled: true,
      persist: true,
      holdoff: 5,
      maxfail: 0,
      backoffMax: 300,
      port: 1723,
    });
    expect(client!.ppp).toMatchObject({
      require: [],
      allow: ['mschap-v2', 'mschap', 'chap-md5'],
      mppe: ['require-mppe-128'],
      mru: 1400,
      asyncmap: 0,
      dns: [],
      usepeerdns: false,
      defaultroute: false,
      routes: [],
      lcpEchoInterval: 30,
      lcpEchoFailure: 4,
      chapInterval: 0,
      lcpRestart: 3,
      lcpMaxConfigure: 10,
      lcpMaxTerminate: 3,
      lcpMaxFailure: 5,
      debug: false,
    });
    expect(dial).toMatchObject({ speed: 115200, dialPrefix: 'ATDT' });
    expect(dial!.ppp.mru).toBe(1500);
    expect(server).toMatchObject({
      listen: '0.0.0.0',
      port: 1723,
      maxConnections: 100,
      maxCallsPerConnection: 1,
      handshakeTimeout: 30,
    });
    expect(server!.ppp.require).toEqual(['mschap-v2']);
    expect(ans).toMatchObject({ answer: { mode: 'ring', rings: 1 } });
    expect(ans!.ppp.require).toEqual(['mschap-v2']);
  });

  it('has no MPPE by default when MS-CHAPv2 is neither required nor allowed', () => {
    const c = ok({ links: [{ ...modem, ppp: { allow: ['chap-md5', 'pap'] } }] });
    expect(c.links[0]!.ppp.mppe).toEqual([]);
  });

  it('parses text and names the file for a JSON syntax error', () => {
    const r = parseConfig('{\n  "name": "x",\n  "links": [\n}', FILE);
    expect(!r.ok && r.error.map(formatConfigError)).toEqual([
      `${FILE}: line 4, column 1: invalid JSON: expected a value, found '}'`,
    ]);
  });
});

describe('config errors name the file and the field', () => {
  it('unknown keys at every level, with a suggestion', () => {
    const m = errors({
      nmae: 'x',
      board: { led: {} },
      links: [{ ...hq, ppp: { mur: 1400 }, persists: true }],
    });
    expect(m).toEqual(
      expect.arrayContaining([
        `${FILE}: nmae: unknown key "nmae" (did you mean "name"?)`,
        `${FILE}: board.led: unknown key "led" (did you mean "leds"?)`,
        `${FILE}: links[0] (link 'hq').ppp.mur: unknown key "mur" (did you mean "mru"?)`,
        `${FILE}: links[0] (link 'hq').persists: unknown key "persists" (did you mean "persist"?)`,
      ]),
    );
    expect(m).toHaveLength(4);
  });

  it('keys of another role say whose they are', () => {
    expect(
      errors({
        links: [
          { ...answer, number: '123' },
          { ...hq, pool: '10.0.0.1-10.0.0.2' },
        ],
      }),
    ).toEqual([
      `${FILE}: links[0] (link 'dialin').number: is only used by role 'dial', not by a dialup answer link`,
      `${FILE}: links[1] (link 'hq').pool: is only used by role 'server', not by a pptp client link`,
    ]);
  });

  it('type and role are required and checked', () => {
    expect(
      errors({
        links: [
          { name: 'a' },
          { name: 'b', type: 'isdn' },
          { name: 'c', type: 'pptp', role: 'dial' },
        ],
      }),
    ).toEqual([
      `${FILE}: links[0] (link 'a').type: is required: "dialup" or "pptp"`,
      `${FILE}: links[1] (link 'b').type: must be "dialup" or "pptp"`,
      `${FILE}: links[2] (link 'c').role: is not valid for a pptp link: "client" or "server"`,
    ]);
  });

  it('dial role needs a number', () => {
    const { number: _n, ...noNumber } = modem;
    expect(errors({ links: [noNumber] })).toEqual([
      `${FILE}: links[0] (link 'modem').number: is required for role 'dial': the number to dial, in quotes (or "modem": false for a direct line)`,
    ]);
  });
  it('a direct serial line (modem false) needs no number', () => {
    const { number: _n, ...noNumber } = modem;
    expect(validateConfig({ links: [{ ...noNumber, modem: false }] }, FILE).ok).toBe(true);
  });

  it('wrong types, ranges and formats', () => {
    const m = errors({
      board: { leds: { power: 40 }, render: 'yes' },
      log: { level: 'verbose' },
      links: [
        {
          ...hq,
          name: 'HQ!',
          port: '1723',
          ppp: {
            mru: 64,
            dns: ['1.1.1.1', '8.8.8.8', '9.9.9.9'],
            localAddress: '10.0.0.300',
            require: ['chap'],
          },
        },
      ],
    });
    expect(m).toEqual([
      `${FILE}: board.leds.power: must be at most 27`,
      `${FILE}: board.render: must be true or false (without quotes)`,
      `${FILE}: log.level: must be "debug", "info", "warn" or "error"`,
      `${FILE}: links[0].name: must be 1 to 32 characters of a-z, 0-9 and "-"`,
      `${FILE}: links[0].ppp.require[0]: must be one of "mschap-v2", "mschap", "chap-md5", "pap"`,
      `${FILE}: links[0].ppp.mru: must be at least 128`,
      `${FILE}: links[0].ppp.localAddress: is not an IPv4 address like "10.9.0.1"`,
      `${FILE}: links[0].ppp.dns: must list at most two servers (ms-dns 1 and 2)`,
      `${FILE}: links[0].port: must be a number, found a string`,
    ]);
  });

  it('duplicate link names', () => {
    expect(errors({ links: [hq, { ...modem, name: 'hq' }] })).toEqual([
      `${FILE}: links[1] (link 'hq').name: duplicate of links[0]: link names must be unique`,
    ]);
  });

  it('backupFor must name an existing PPTP client link, from a dial link, once', () => {
    expect(errors({ links: [hq, { ...modem, backupFor: 'nope' }] })).toEqual([
      `${FILE}: links[1] (link 'modem').backupFor: names no link (the links are: hq, modem)`,
    ]);
    expect(errors({ links: [rw, { ...modem, backupFor: 'remote' }] })).toEqual([
      `${FILE}: links[1] (link 'modem').backupFor: link 'remote' is not a PPTP client link; only those can have a dial-up backup`,
    ]);
    expect(errors({ links: [hq, { ...hq, name: 'hq2', backupFor: 'hq' }] })).toEqual([
      `${FILE}: links[1] (link 'hq2').backupFor: only a dial-up link with role 'dial' can back up a PPTP client link`,
    ]);
    expect(
      errors({
        links: [
          hq,
          { ...modem, backupFor: 'hq' },
          { ...modem, name: 'modem2', device: '/dev/ttyUSB1', backupFor: 'hq' },
        ],
      }),
    ).toEqual([
      `${FILE}: links[2] (link 'modem2').backupFor: link 'hq' already has a backup (links[1]); one backup per link`,
    ]);
    expect(errors({ links: [{ ...modem, failover: { downSeconds: 10 } }] })).toEqual([
      `${FILE}: links[0] (link 'modem').failover: is only used together with backupFor`,
    ]);
    const c = ok({ links: [hq, { ...modem, backupFor: 'hq', failover: { downSeconds: 10 } }] });
    expect(c.links[1]!.failover).toEqual({ downSeconds: 10, upSeconds: 60 });
  });

  it('pool must be a valid range or CIDR, start before end, and exclude the local address', () => {
    expect(errors({ links: [{ ...rw, pool: '10.9.0.100-10.9.0.10' }] })).toEqual([
      `${FILE}: links[0] (link 'remote').pool: the range starts after it ends (10.9.0.100 > 10.9.0.10)`,
    ]);
    expect(errors({ links: [{ ...rw, pool: '10.9.0.10-10.9.0.300' }] })).toEqual([
      `${FILE}: links[0] (link 'remote').pool: the end of the range is not an IPv4 address`,
    ]);
    expect(errors({ links: [{ ...rw, pool: '10.9.0.0/24' }] })).toEqual([
      `${FILE}: links[0] (link 'remote').pool: contains ppp.localAddress; the router's own address must lie outside the client pool`,
    ]);
    expect(ok({ links: [{ ...rw, pool: '10.9.1.0/24' }] }).links).toHaveLength(1);
  });

  it('a PPTP server needs ppp.localAddress and takes no ppp.remoteAddress', () => {
    expect(errors({ links: [{ ...rw, ppp: { remoteAddress: '10.9.0.2' } }] })).toEqual([
      `${FILE}: links[0] (link 'remote').ppp.localAddress: is required for a PPTP server: this router's address inside the tunnels`,
      `${FILE}: links[0] (link 'remote').ppp.remoteAddress: is not used by a PPTP server: each client gets an address from "pool" (or from its secret)`,
    ]);
  });

  it('contradictory MPPE tokens, and MPPE without MS-CHAP', () => {
    const m = errors({
      links: [
        {
          ...hq,
          ppp: { mppe: ['require-mppe-128', 'nomppe-128', 'mppe-stateful', 'nomppe-stateful'] },
        },
        { ...hq, name: 'b', ppp: { mppe: ['require-mppe', 'nomppe'] } },
        {
          ...hq,
          name: 'c',
          ppp: { mppe: ['require-mppe', 'nomppe-40', 'nomppe-56', 'nomppe-128'] },
        },
        {
          ...hq,
          name: 'd',
          ppp: { allow: ['chap-md5'], mppe: ['require-mppe-128', 'require-mppe-128'] },
        },
      ],
    });
    expect(m).toEqual([
      `${FILE}: links[0] (link 'hq').ppp.mppe: "require-mppe-128" contradicts "nomppe-128"`,
      `${FILE}: links[0] (link 'hq').ppp.mppe: "mppe-stateful" contradicts "nomppe-stateful"`,
      `${FILE}: links[1] (link 'b').ppp.mppe: "require-mppe" contradicts "nomppe"`,
      `${FILE}: links[2] (link 'c').ppp.mppe: requires MPPE but forbids every key length (40, 56 and 128)`,
      `${FILE}: links[3] (link 'd').ppp.mppe: lists "require-mppe-128" twice`,
      `${FILE}: links[3] (link 'd').ppp.mppe: requires MPPE, whose keys come from MS-CHAP, but neither "require" nor "allow" lists "mschap-v2" or "mschap" (add one, or set "mppe": [])`,
    ]);
  });

  it('PAP is required only when listed explicitly', () => {
    const c = ok({
      links: [{ ...rw, ppp: { localAddress: '10.9.0.1', require: ['pap'], allow: [], mppe: [] } }],
    });
    expect(c.links[0]!.ppp.require).toEqual(['pap']);
    expect(ok({ links: [rw] }).links[0]!.ppp.require).not.toContain('pap');
  });

  it('one serial port per enabled link, one listener per port, one LED per pin, backoffMax >= holdoff', () => {
    expect(
      errors({
        board: { leds: { vpn: 17 } },
        links: [
          modem,
          { ...answer, device: '/dev/ttyUSB0' },
          rw,
          { ...rw, name: 'rw2', listen: '192.0.2.1' },
          { ...hq, holdoff: 60, backoffMax: 30 },
        ],
      }),
    ).toEqual([
      `${FILE}: board.leds.vpn: pin 17 is already used by board.leds.power`,
      `${FILE}: links[1] (link 'dialin').device: is already used by links[0]; one link per serial port`,
      `${FILE}: links[4] (link 'hq').backoffMax: must be at least holdoff (60 s): the backoff starts at holdoff and grows to backoffMax`,
      `${FILE}: links[3] (link 'rw2').port: links[2] already listens on port 1723 at 0.0.0.0`,
    ]);
    // A disabled link may share the port.
    expect(
      ok({ links: [modem, { ...answer, device: '/dev/ttyUSB0', enabled: false }] }).links,
    ).toHaveLength(2);
  });

  it('never throws on random JSON, random link objects or random text', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        validateConfig(v, FILE);
        validateConfig({ links: [v] }, FILE);
      }),
      { numRuns: 500 },
    );
    const linkish = fc.record(
      {
        type: fc.constantFrom('dialup', 'pptp', 'x'),
        role: fc.constantFrom('dial', 'answer', 'client', 'server', 5),
        name: fc.constantFrom('a', 'b', 'hq'),
        backupFor: fc.constantFrom('a', 'b', 'hq'),
        ppp: fc.jsonValue(),
        pool: fc.string(),
        failover: fc.jsonValue(),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.array(linkish, { maxLength: 4 }), (links) => {
        validateConfig({ links }, FILE);
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.string(), (t) => {
        parseConfig(t, FILE);
      }),
      { numRuns: 300 },
    );
  });
});

describe('loadConfig and diffConfigs', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'branchlink-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads a file, and names a missing one', () => {
    const file = path.join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ links: [hq] }));
    const r = loadConfig(file);
    expect(r.ok && r.value.links[0]!.name).toBe('hq');
    const missing = loadConfig(path.join(dir, 'nope.json'));
    expect(!missing.ok && missing.error.map(formatConfigError)).toEqual([
      `${path.join(dir, 'nope.json')}: does not exist`,
    ]);
  });

  it('tells which links changed, so unchanged links can stay up on SIGHUP', () => {
    const a = ok({ links: [hq, modem, rw] });
    const b = ok({ log: { level: 'debug' }, links: [hq, { ...modem, number: '999' }, answer] });
    expect(diffConfigs(a, b)).toEqual({
      added: ['dialin'],
      removed: ['remote'],
      changed: ['modem'],
      unchanged: ['hq'],
      sections: ['log'],
    });
  });
});
