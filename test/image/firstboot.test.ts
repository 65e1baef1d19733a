/**
 * The SD image's first-boot provisioning (image/rootfs/usr/lib/branchlink/firstboot) run
 * against a directory tree: a FAT partition (--boot) and a system root (--root). The
 * device-only steps (growing the partition, host keys, the running host name) are
 * replaced with recording stubs; useradd is a recording fake on PATH, so the script's own
 * create_user runs.
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const SCRIPT = path.resolve('image/rootfs/usr/lib/branchlink/firstboot');
const ED25519 =
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEKBBt7NPJVkQkAvjCDyM4hauPbeMqIW7X3xxJUtRZ49 tech@laptop';
const RSA_OPTS =
  'from="10.0.0.0/8" ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDC0ffee0ffee0ffee0ffee0ffee0ffee= ops@hq';
const SECRET_PASSWORD = 'Sup3r-Secret-Pa55';
const isRoot = process.getuid?.() === 0;

const trees: string[] = [];
afterAll(() => {
  for (const t of trees) rmSync(t, { recursive: true, force: true });
});

interface Tree {
  dir: string;
  boot: string;
  root: string;
  calls: string;
}

/** A fresh FAT dir and a minimal Debian-like root, with stubs and a fake useradd. */
function makeTree(): Tree {
  const dir = mkdtempSync(path.join(tmpdir(), 'branchlink-firstboot-'));
  trees.push(dir);
  const boot = path.join(dir, 'boot');
  const root = path.join(dir, 'root');
  const calls = path.join(dir, 'calls.log');
  for (const d of [
    path.join(boot, 'branchlink'),
    path.join(root, 'etc/ssh'),
    path.join(root, 'etc/branchlink'),
    path.join(root, 'etc/sudoers.d'),
    path.join(root, 'home'),
    path.join(dir, 'bin'),
  ]) {
    mkdirSync(d, { recursive: true });
  }
  writeFileSync(path.join(boot, 'branchlink/README.txt'), 'what to put here\n');
  writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\n');
  writeFileSync(path.join(root, 'etc/shadow'), 'root:*:20000:0:99999:7:::\n', { mode: 0o640 });
  writeFileSync(path.join(root, 'etc/hostname'), 'branchlink\n');
  writeFileSync(
    path.join(root, 'etc/hosts'),
    '127.0.0.1\tlocalhost\n127.0.1.1\tbranchlink\n::1\t\tlocalhost ip6-localhost\n',
  );
  writeFileSync(path.join(root, 'etc/branchlink/config.json'), '{ "links": [] }\n', {
    mode: 0o600,
  });
  // Device steps: record the call, do the least that lets the next steps see it done.
  writeFileSync(
    path.join(dir, 'stubs.sh'),
    `grow_root() { echo grow_root >>"${calls}"; }
make_host_keys() { echo make_host_keys >>"${calls}"; : >"$ROOT/etc/ssh/ssh_host_ed25519_key"; }
set_running_hostname() { echo "set_running_hostname $1" >>"${calls}"; }
`,
  );
  // The fake useradd: records its arguments, writes passwd/shadow/group as useradd would.
  const useradd = path.join(dir, 'bin/useradd');
  writeFileSync(
    useradd,
    `#!/bin/sh
echo "useradd $*" >>"${calls}"
for last; do :; done
root=
while [ $# -gt 0 ]; do
  case $1 in --root) root=$2; shift 2 ;; --password) pw=$2; shift 2 ;; *) shift ;; esac
done
echo "$last:x:1000:1000:branch technician:/home/$last:/bin/bash" >>"$root/etc/passwd"
echo "$last:$pw:20000:0:99999:7:::" >>"$root/etc/shadow"
mkdir -p "$root/home/$last"
`,
  );
  chmodSync(useradd, 0o755);
  return { dir, boot, root, calls };
}

function run(t: Tree) {
  const r = spawnSync(
    'sh',
    [SCRIPT, '--boot', t.boot, '--root', t.root, '--stubs', path.join(t.dir, 'stubs.sh')],
    {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${path.join(t.dir, 'bin')}:${process.env.PATH ?? ''}` },
    },
  );
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const read = (p: string) => readFileSync(p, 'utf8');
const mode = (p: string) => statSync(p).mode & 0o777;
const calls = (t: Tree) => (existsSync(t.calls) ? read(t.calls).trim().split('\n') : []);

function provisionAll(t: Tree) {
  writeFileSync(
    path.join(t.boot, 'authorized_keys'),
    `# keys of the branch technicians\r\n${ED25519}\r\n\r\n${RSA_OPTS}\r\n`,
  );
  writeFileSync(path.join(t.boot, 'hostname'), 'Branch-Lyon-1\r\n');
  writeFileSync(
    path.join(t.boot, 'branchlink/config.json'),
    '{\r\n  "board": { "profile": "rpi" },\r\n  "links": []\r\n}\r\n',
  );
  writeFileSync(
    path.join(t.boot, 'branchlink/secrets.json'),
    JSON.stringify({
      version: 1,
      secrets: [{ client: 'lyon', server: '*', secret: SECRET_PASSWORD, addresses: ['*'] }],
    }),
  );
}

describe('firstboot: SSH keys', () => {
  it('adds the keys for root with 0700/0600 modes, skipping comments, blank lines and CRs', () => {
    const t = makeTree();
    provisionAll(t);
    const r = run(t);
    expect(r.status, r.out).toBe(0);
    expect(mode(path.join(t.root, 'root/.ssh'))).toBe(0o700);
    expect(mode(path.join(t.root, 'root/.ssh/authorized_keys'))).toBe(0o600);
    expect(read(path.join(t.root, 'root/.ssh/authorized_keys'))).toBe(`${ED25519}\n${RSA_OPTS}\n`);
  });

  it('creates the technician with useradd once: sudo group, password "*" (none), keys in its home', () => {
    const t = makeTree();
    provisionAll(t);
    expect(run(t).status).toBe(0);
    const useradd = calls(t).filter((c) => c.startsWith('useradd'));
    expect(useradd).toHaveLength(1);
    expect(useradd[0]).toContain('--groups sudo,adm');
    expect(useradd[0]).toContain('--password *');
    expect(useradd[0]).toMatch(/ technician$/);
    const keys = path.join(t.root, 'home/technician/.ssh/authorized_keys');
    expect(read(keys)).toBe(`${ED25519}\n${RSA_OPTS}\n`);
    expect(mode(keys)).toBe(0o600);
    expect(mode(path.join(t.root, 'home/technician/.ssh'))).toBe(0o700);
    if (isRoot) {
      expect(statSync(keys).uid).toBe(1000);
      expect(statSync(path.join(t.root, 'home/technician/.ssh')).gid).toBe(1000);
    }
    const sudoers = path.join(t.root, 'etc/sudoers.d/technician');
    expect(read(sudoers)).toBe('technician ALL=(ALL:ALL) NOPASSWD: ALL\n');
    expect(mode(sudoers)).toBe(0o440);
  });

  it('sets no password anywhere: every shadow entry is "*" or locked, never a hash', () => {
    const t = makeTree();
    provisionAll(t);
    expect(run(t).status).toBe(0);
    const hashes = read(path.join(t.root, 'etc/shadow'))
      .trim()
      .split('\n')
      .map((l) => l.split(':')[1] ?? '');
    expect(hashes).toEqual(['*', '*']);
    const script = read(SCRIPT);
    expect(script).not.toMatch(/\bchpasswd\b|\busermod\b.*(-p|--password)|^\s*passwd\b/m);
  });

  it('keeps the keys already there and adds only the missing ones', () => {
    const t = makeTree();
    mkdirSync(path.join(t.root, 'root/.ssh'), { recursive: true });
    writeFileSync(path.join(t.root, 'root/.ssh/authorized_keys'), `${RSA_OPTS}\n`);
    writeFileSync(path.join(t.boot, 'authorized_keys'), `${ED25519}\n${RSA_OPTS}\n`);
    expect(run(t).status).toBe(0);
    expect(read(path.join(t.root, 'root/.ssh/authorized_keys'))).toBe(`${RSA_OPTS}\n${ED25519}\n`);
  });

  it('reports lines that are not keys and a file with no key, creating nobody', () => {
    const t = makeTree();
    writeFileSync(path.join(t.boot, 'authorized_keys'), 'my password is hunter2\n');
    const r = run(t);
    expect(r.status).toBe(1);
    expect(r.out).toContain('authorized_keys: 1 line(s) are not SSH public keys');
    expect(r.out).toContain('no SSH public key in it');
    expect(r.out).not.toContain('hunter2');
    expect(existsSync(path.join(t.root, 'root/.ssh/authorized_keys'))).toBe(false);
    expect(calls(t).some((c) => c.startsWith('useradd'))).toBe(false);
    expect(read(path.join(t.boot, 'branchlink/firstboot-errors.txt'))).toContain('authorized_keys');
  });
});

describe('firstboot: config and secrets', () => {
  it('moves config.json and secrets.json into /etc/branchlink with mode 0600 and removes them from the boot dir', () => {
    const t = makeTree();
    provisionAll(t);
    const r = run(t);
    expect(r.status, r.out).toBe(0);
    for (const kind of ['config', 'secrets']) {
      const dest = path.join(t.root, `etc/branchlink/${kind}.json`);
      expect(mode(dest)).toBe(0o600);
      if (isRoot) expect(statSync(dest).uid).toBe(0);
      expect(existsSync(path.join(t.boot, `branchlink/${kind}.json`))).toBe(false);
    }
    expect(mode(path.join(t.root, 'etc/branchlink'))).toBe(0o700);
    expect(JSON.parse(read(path.join(t.root, 'etc/branchlink/config.json')))).toEqual({
      board: { profile: 'rpi' },
      links: [],
    });
    expect(read(path.join(t.root, 'etc/branchlink/config.json'))).not.toContain('\r');
    expect(read(path.join(t.root, 'etc/branchlink/secrets.json'))).toContain(SECRET_PASSWORD);
    // The card keeps its README; the secret's content is in no message.
    expect(existsSync(path.join(t.boot, 'branchlink/README.txt'))).toBe(true);
    expect(r.out).not.toContain(SECRET_PASSWORD);
  });

  it('overwrites the secrets with zeros before deleting them from the boot partition', () => {
    const t = makeTree();
    provisionAll(t);
    const src = path.join(t.boot, 'branchlink/secrets.json');
    const witness = path.join(t.dir, 'same-inode');
    const size = statSync(src).size;
    linkSync(src, witness);
    expect(run(t).status).toBe(0);
    expect(existsSync(src)).toBe(false);
    expect(readFileSync(witness)).toEqual(Buffer.alloc(size));
  });

  it('leaves a secrets file with bad JSON in place, reports it without quoting it, and still installs the config', () => {
    const t = makeTree();
    provisionAll(t);
    const bad = `{ "version": 1, "secrets": [ { "secret": "${SECRET_PASSWORD}" `;
    const src = path.join(t.boot, 'branchlink/secrets.json');
    writeFileSync(src, bad);
    const r = run(t);
    expect(r.status).toBe(1);
    expect(r.out).toContain('branchlink/secrets.json is not valid JSON');
    expect(r.out).not.toContain(SECRET_PASSWORD);
    expect(read(src)).toBe(bad);
    expect(existsSync(path.join(t.root, 'etc/branchlink/secrets.json'))).toBe(false);
    const report = read(path.join(t.boot, 'branchlink/firstboot-errors.txt'));
    expect(report).toContain('secrets.json is not valid JSON: left on the boot partition');
    expect(report).not.toContain(SECRET_PASSWORD);
    expect(existsSync(path.join(t.boot, 'branchlink/config.json'))).toBe(false);
    expect(JSON.parse(read(path.join(t.root, 'etc/branchlink/config.json'))).board.profile).toBe(
      'rpi',
    );
  });

  it('refuses a secrets file that is JSON but not a version 1 secrets file', () => {
    const t = makeTree();
    writeFileSync(path.join(t.boot, 'branchlink/secrets.json'), '[{"client":"lyon"}]');
    const r = run(t);
    expect(r.status).toBe(1);
    expect(r.out).toContain('branchlink/secrets.json is not a JSON object');
    writeFileSync(path.join(t.boot, 'branchlink/secrets.json'), '{"secrets":[]}');
    expect(run(t).out).toContain('is not a secrets file');
    expect(existsSync(path.join(t.boot, 'branchlink/secrets.json'))).toBe(true);
  });

  it('accepts a config saved with a UTF-8 byte-order mark and installs it without one', () => {
    const t = makeTree();
    writeFileSync(path.join(t.boot, 'branchlink/config.json'), '\uFEFF{ "links": [] }\r\n');
    expect(run(t).status).toBe(0);
    expect(read(path.join(t.root, 'etc/branchlink/config.json'))).toBe('{ "links": [] }\n');
  });

  it('clears the previous run’s problem report once the card is fixed', () => {
    const t = makeTree();
    writeFileSync(path.join(t.boot, 'branchlink/config.json'), '{ nope');
    expect(run(t).status).toBe(1);
    expect(existsSync(path.join(t.boot, 'branchlink/firstboot-errors.txt'))).toBe(true);
    writeFileSync(path.join(t.boot, 'branchlink/config.json'), '{ "links": [] }');
    expect(run(t).status).toBe(0);
    expect(existsSync(path.join(t.boot, 'branchlink/firstboot-errors.txt'))).toBe(false);
  });
});

describe('firstboot: hostname', () => {
  it('writes /etc/hostname and the 127.0.1.1 line of /etc/hosts, lower case, without CR', () => {
    const t = makeTree();
    writeFileSync(path.join(t.boot, 'hostname'), 'Branch-Lyon-1\r\n');
    expect(run(t).status).toBe(0);
    expect(read(path.join(t.root, 'etc/hostname'))).toBe('branch-lyon-1\n');
    const hosts = read(path.join(t.root, 'etc/hosts'));
    expect(hosts.match(/^127\.0\.1\.1\s.*$/gm)).toEqual(['127.0.1.1\tbranch-lyon-1']);
    expect(hosts).toContain('127.0.0.1\tlocalhost');
    expect(mode(path.join(t.root, 'etc/hostname'))).toBe(0o644);
    expect(calls(t)).toContain('set_running_hostname branch-lyon-1');
  });

  it('refuses a name that is not a DNS label and leaves the old one', () => {
    const t = makeTree();
    writeFileSync(path.join(t.boot, 'hostname'), 'lyon_office;rm -rf /\n');
    const r = run(t);
    expect(r.status).toBe(1);
    expect(r.out).toContain('hostname: not a valid host name');
    expect(read(path.join(t.root, 'etc/hostname'))).toBe('branchlink\n');
  });
});

describe('firstboot: device steps and re-runs', () => {
  it('makes host keys only when there are none, and asks to grow the root every run', () => {
    const t = makeTree();
    expect(run(t).status).toBe(0);
    expect(run(t).status).toBe(0);
    expect(calls(t).filter((c) => c === 'make_host_keys')).toHaveLength(1);
    expect(calls(t).filter((c) => c === 'grow_root')).toHaveLength(2);
  });

  it('is idempotent: a second run changes nothing and creates no second user', () => {
    const t = makeTree();
    provisionAll(t);
    expect(run(t).status).toBe(0);
    const files = [
      'etc/passwd',
      'etc/shadow',
      'etc/hostname',
      'etc/hosts',
      'etc/sudoers.d/technician',
      'etc/branchlink/config.json',
      'etc/branchlink/secrets.json',
      'root/.ssh/authorized_keys',
      'home/technician/.ssh/authorized_keys',
    ].map((f) => path.join(t.root, f));
    const before = files.map((f) => [read(f), mode(f)]);
    const second = run(t);
    expect(second.status, second.out).toBe(0);
    expect(files.map((f) => [read(f), mode(f)])).toEqual(before);
    expect(calls(t).filter((c) => c.startsWith('useradd'))).toHaveLength(1);
    expect(second.out).not.toMatch(/added|created|installed|set to/);
  });

  it('generates real host keys into the tree with ssh-keygen -A -f ROOT when not stubbed', () => {
    const keygen = spawnSync('sh', ['-c', 'command -v ssh-keygen']);
    if (keygen.status !== 0) {
      console.warn('ssh-keygen not installed: real host key generation not tested');
      return;
    }
    const t = makeTree();
    writeFileSync(path.join(t.dir, 'stubs.sh'), 'grow_root() { :; }\n');
    const r = run(t);
    expect(r.status, r.out).toBe(0);
    const key = path.join(t.root, 'etc/ssh/ssh_host_ed25519_key');
    expect(read(key)).toContain('OPENSSH PRIVATE KEY');
    expect(mode(key)).toBe(0o600);
  });

  it('fails clearly when the boot directory is missing', () => {
    const t = makeTree();
    rmSync(t.boot, { recursive: true });
    const r = run(t);
    expect(r.status).toBe(1);
    expect(r.out).toContain('boot partition');
  });
});
