/** From a link's validated `ppp` settings to the core's SessionConfig: the MPPE policy. */
import { describe, expect, it } from 'vitest';
import { type LinkConfig, validateConfig } from '../../src/daemon/config.js';
import { buildSessionConfig } from '../../src/daemon/session-config.js';

function link(ppp: Record<string, unknown>): LinkConfig {
  const r = validateConfig(
    {
      links: [
        {
          name: 'modem',
          type: 'dialup',
          role: 'dial',
          device: '/dev/ttyUSB0',
          number: '200',
          ppp,
        },
      ],
    },
    'test.json',
  );
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r.value.links[0]!;
}

const mppeOf = (ppp: Record<string, unknown>) => {
  const r = buildSessionConfig({ ourName: 'r', ppp: link(ppp).ppp, async: true, source: 'tty' });
  if (!r.ok) throw new Error(r.error.reason);
  return r.value.mppe;
};

describe('session config: MPPE policy from the link settings', () => {
  it('requires 128-bit MPPE by default when MS-CHAPv2 may be used (the default allow list)', () => {
    expect(mppeOf({ user: 'u' })).toMatchObject({ required: true, bits: [128] });
  });

  it('turns MPPE off with an explicit "mppe": [] even though allow lists mschap-v2', () => {
    expect(mppeOf({ user: 'u', mppe: [] })).toMatchObject({ required: false, bits: [] });
  });

  it('leaves MPPE off on a CHAP-MD5-only link', () => {
    expect(mppeOf({ user: 'u', allow: ['chap-md5'] })).toMatchObject({
      required: false,
      bits: [],
    });
  });

  it('follows explicit tokens', () => {
    expect(
      mppeOf({ user: 'u', allow: ['mschap-v2'], mppe: ['require-mppe-40', 'require-mppe-128'] }),
    ).toMatchObject({ required: true, bits: [128, 40] });
  });
});
