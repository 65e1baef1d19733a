/**
 * Fast checks of image/ for every CI run (the image build itself is `npm run image:test`):
 * the shell scripts parse and pass shellcheck, and the systemd units and settings keep the
 * properties the router depends on.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/** Every shell script of the image, with the shell that runs it. */
const SCRIPTS: ReadonlyArray<readonly [string, 'bash' | 'sh']> = [
  ['image/build', 'bash'],
  ['image/test', 'bash'],
  ['image/lib/common.sh', 'bash'],
  ['image/base/essential-hook', 'sh'],
  ['image/base/customize', 'sh'],
  ['image/rootfs/usr/lib/branchlink/firstboot', 'sh'],
  ['image/rootfs/usr/lib/branchlink/wait-ready', 'sh'],
  ['image/rootfs/usr/local/bin/branchlink', 'sh'],
  ['.ci/image-deps.sh', 'bash'],
];

const hasShellcheck = spawnSync('shellcheck', ['--version']).status === 0;
const read = (p: string) => readFileSync(p, 'utf8');

describe('image scripts', () => {
  it.each(SCRIPTS)('%s parses (%s -n)', (file, shell) => {
    const r = spawnSync(shell, ['-n', file], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it.each(SCRIPTS.filter(([f]) => !f.endsWith('.sh') || f.startsWith('.ci/')))(
    '%s is executable',
    (file) => {
      expect(statSync(file).mode & 0o111).toBe(0o111);
    },
  );

  it.skipIf(!hasShellcheck)('pass shellcheck (all severities)', () => {
    const r = spawnSync('shellcheck', ['-x', ...SCRIPTS.map(([f]) => f)], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  if (!hasShellcheck) {
    it('reports that shellcheck is missing', () => {
      console.warn(
        'shellcheck is not installed: image/ scripts were only syntax-checked (CI installs it: .ci/apt-deps.sh)',
      );
      expect(hasShellcheck).toBe(false);
    });
  }
});

/** `Key=value` lines of a unit, every value of repeated keys. */
function unitValues(file: string, key: string): string[] {
  return read(file)
    .split('\n')
    .filter((l) => l.startsWith(`${key}=`))
    .map((l) => l.slice(key.length + 1));
}

describe('branchlink.service', () => {
  const unit = 'image/rootfs/usr/lib/systemd/system/branchlink.service';

  it('restarts forever and starts after the network and first-boot provisioning', () => {
    expect(unitValues(unit, 'Restart')).toEqual(['always']);
    expect(unitValues(unit, 'StartLimitIntervalSec')).toEqual(['0']);
    expect(unitValues(unit, 'After').join(' ')).toContain('network-online.target');
    expect(unitValues(unit, 'After').join(' ')).toContain('branchlink-firstboot.service');
    expect(unitValues(unit, 'Wants')).toContain('network-online.target');
    expect(unitValues(unit, 'ExecStart')).toEqual([
      '/usr/local/bin/branchlink run --config /etc/branchlink/config.json',
    ]);
  });

  it('keeps the capabilities for TUN, raw GRE sockets and port 1723, and no others', () => {
    const caps = unitValues(unit, 'CapabilityBoundingSet')[0]?.split(' ').sort();
    expect(caps).toEqual(['CAP_CHOWN', 'CAP_NET_ADMIN', 'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW']);
  });

  it('allows the TUN device, serial ports and GPIO chips under a closed device policy', () => {
    expect(unitValues(unit, 'DevicePolicy')).toEqual(['closed']);
    expect(unitValues(unit, 'DeviceAllow')).toEqual(
      expect.arrayContaining([
        '/dev/net/tun rw',
        'char-ttyUSB rw',
        'char-ttyACM rw',
        'char-ttyAMA rw',
        'char-ttyS rw',
        'char-gpiochip rw',
      ]),
    );
    expect(unitValues(unit, 'PrivateDevices')).toEqual([]);
  });

  it('runs in a read-only system with only its own directories writable', () => {
    expect(unitValues(unit, 'ProtectSystem')).toEqual(['strict']);
    expect(unitValues(unit, 'ReadWritePaths')[0]?.split(' ').sort()).toEqual([
      '/etc/branchlink',
      '/run/branchlink',
      '/var/lib/branchlink',
    ]);
    for (const key of ['NoNewPrivileges', 'PrivateTmp', 'ProtectHome']) {
      expect(unitValues(unit, key), key).toEqual(['yes']);
    }
    // V8's JIT needs writable-executable memory.
    expect(unitValues(unit, 'MemoryDenyWriteExecute')).toEqual([]);
  });
});

describe('image settings', () => {
  it('ships the default config with no links and the Pi board profile, and empty secrets', () => {
    const config = JSON.parse(read('image/rootfs/etc/branchlink/config.json'));
    expect(config).toEqual({ board: { profile: 'rpi' }, links: [] });
    expect(JSON.parse(read('image/rootfs/etc/branchlink/secrets.json'))).toEqual({
      version: 1,
      secrets: [],
    });
  });

  it('turns SSH password login off and lets root in by key only', () => {
    const sshd = read('image/rootfs/etc/ssh/sshd_config.d/10-branchlink.conf');
    expect(sshd).toMatch(/^PasswordAuthentication no$/m);
    expect(sshd).toMatch(/^KbdInteractiveAuthentication no$/m);
    expect(sshd).toMatch(/^PermitRootLogin prohibit-password$/m);
  });

  it('builds from Debian packages without pppd, with the tools a technician expects', () => {
    const packages = read('image/base/packages')
      .split('\n')
      .map((l) => l.replace(/#.*/, '').trim())
      .filter(Boolean);
    expect(packages).not.toContain('ppp');
    expect(packages).toEqual(
      expect.arrayContaining([
        'raspi-firmware',
        'linux-image-arm64',
        'firmware-brcm80211',
        'nodejs',
        'openssh-server',
        'iproute2',
        'less',
        'nano',
        'tcpdump',
        'sudo',
        'ca-certificates',
      ]),
    );
  });

  it('mounts the boot partition and root by the labels image/build writes', () => {
    const fstab = read('image/rootfs/etc/fstab');
    expect(fstab).toMatch(/^LABEL=RASPIROOT\s+\/\s+ext4/m);
    expect(fstab).toMatch(/^LABEL=RASPIFIRM\s+\/boot\/firmware\s+vfat/m);
    const build = read('image/build');
    expect(build).toContain('-L RASPIROOT');
    expect(build).toContain('-n RASPIFIRM');
    expect(read('image/base/customize')).toContain('ROOTPART="LABEL=RASPIROOT"');
    expect(read('image/base/customize')).toContain('CMA=0');
  });
});
