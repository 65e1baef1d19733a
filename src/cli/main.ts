#!/usr/bin/env node
/**
 * The `branchlink` command: runs the service, and talks to a running one over its
 * control socket (status, dial, hangup, sessions, captures), and edits secrets.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { type Config, DEFAULT_CONFIG_PATH, loadConfig } from '../daemon/config.js';
import { DEFAULT_CONTROL_SOCKET } from '../daemon/control-protocol.js';
import { renderStatusTable, type StatusReport } from '../daemon/status.js';
import { callService, ServiceNotRunning } from './control-client.js';
import {
  configCheck,
  EXIT_FAILURE,
  secretsAdd,
  secretsExport,
  secretsImport,
  secretsList,
  secretsRemove,
} from './secrets-commands.js';

const io = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };

function fail(message: string, code = EXIT_FAILURE): never {
  process.stderr.write(`branchlink: ${message}\n`);
  process.exit(code);
}

/** The config, when it is needed only for defaults (socket, secrets file). */
function tryConfig(path: string | undefined): Config | undefined {
  const p = path ?? DEFAULT_CONFIG_PATH;
  if (!existsSync(p)) return undefined;
  const r = loadConfig(p);
  return r.ok ? r.value : undefined;
}

function socketOf(options: { socket?: string; config?: string }): string {
  return options.socket ?? tryConfig(options.config)?.control.socket ?? DEFAULT_CONTROL_SOCKET;
}

async function call(
  options: { socket?: string; config?: string },
  command: Parameters<typeof callService>[1],
): Promise<unknown> {
  try {
    return await callService(socketOf(options), command);
  } catch (e) {
    if (e instanceof ServiceNotRunning) fail(e.message);
    fail(e instanceof Error ? e.message : String(e));
  }
}

const socketOption = () => new Option('--socket <path>', 'control socket of the service');
const configOption = () =>
  new Option('-c, --config <file>', 'configuration file').default(undefined);

const program = new Command()
  .name('branchlink')
  .description('Router service of a Raspberry Pi branch-office router: PPP over dial-up and PPTP')
  .showHelpAfterError();

program
  .command('run')
  .description('run the service in the foreground (systemd style)')
  .addOption(configOption())
  .addOption(socketOption())
  .option('--no-leds', 'do not draw the virtual LED row on the terminal')
  .option(
    '--no-tun',
    'negotiate PPP but create no TUN devices (IP is dropped): for tests without root',
  )
  .action(async (options: { config?: string; socket?: string; leds: boolean; tun: boolean }) => {
    const { Service, ServiceStartError } = await import('../daemon/service.js');
    const configPath = resolve(options.config ?? DEFAULT_CONFIG_PATH);
    if (!existsSync(configPath)) {
      fail(
        `no configuration at ${configPath} (give one with --config, or try the demo: npm start)`,
      );
    }
    try {
      await Service.start({
        configPath,
        ...(options.socket ? { socketPath: options.socket } : {}),
        ...(options.leds ? {} : { ledRender: false }),
        ...(options.tun
          ? {}
          : { ipFactory: () => async () => ({ write: () => {}, close: async () => {} }) }),
        handleSignals: true,
      });
    } catch (e) {
      if (e instanceof ServiceStartError) fail(`cannot start:\n${e.message}`);
      throw e;
    }
  });

program
  .command('demo')
  .description(
    'the built-in default: two routers on a virtual board, joined by a simulated modem line and PPTP',
  )
  .option('--headless', 'no LED row; for tests')
  .option('--dir <dir>', 'where the demo keeps its files (default: a temporary directory)')
  .option('--seconds <n>', 'stop after this many seconds (default: run until Ctrl-C)')
  .action(async (options: { headless?: boolean; dir?: string; seconds?: string }) => {
    const { runDemo } = await import('../daemon/demo.js');
    await runDemo({
      headless: options.headless === true,
      ...(options.dir ? { dir: resolve(options.dir) } : {}),
      ...(options.seconds ? { seconds: Number(options.seconds) } : {}),
    });
  });

program
  .command('status')
  .description('links, phases, addresses, traffic; --json for scripts')
  .option('--json', 'machine-readable output (stable schema, version 1)')
  .addOption(socketOption())
  .addOption(configOption())
  .action(async (options: { json?: boolean; socket?: string; config?: string }) => {
    const report = (await call(options, { command: 'status' })) as StatusReport;
    if (options.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    else process.stdout.write(renderStatusTable(report, process.stdout.isTTY === true));
  });

for (const [name, description] of [
  ['dial', 'connect a link now (and forget earlier failures)'],
  ['hangup', 'end a link’s session and keep it down until `dial`'],
] as const) {
  program
    .command(`${name} <link>`)
    .description(description)
    .addOption(socketOption())
    .addOption(configOption())
    .action(async (link: string, options: { socket?: string; config?: string }) => {
      await call(options, { command: name, link });
      process.stdout.write(`${name === 'dial' ? 'dialling' : 'hung up'} ${link}\n`);
    });
}

program
  .command('reload')
  .description('re-read the configuration (as SIGHUP does)')
  .addOption(socketOption())
  .addOption(configOption())
  .action(async (options: { socket?: string; config?: string }) => {
    const r = (await call(options, { command: 'reload' })) as {
      ok: boolean;
      errors?: string[];
      restarted?: string[];
    };
    if (!r.ok) {
      for (const e of r.errors ?? []) process.stderr.write(`${e}\n`);
      fail('configuration refused; the running configuration stays');
    }
    process.stdout.write(
      `reloaded${r.restarted?.length ? `; restarted ${r.restarted.join(', ')}` : ''}\n`,
    );
  });

const sessions = program
  .command('sessions')
  .description('sessions of a PPTP server or dial-up link');
sessions
  .command('kill <id>')
  .description('end one session (ids in `branchlink status`)')
  .addOption(socketOption())
  .addOption(configOption())
  .action(async (id: string, options: { socket?: string; config?: string }) => {
    await call(options, { command: 'kill-session', session: id });
    process.stdout.write(`killed ${id}\n`);
  });

program
  .command('capture <link>')
  .description('write every PPP frame of a link to a pcap file (Wireshark: LINKTYPE_PPP_WITH_DIR)')
  .requiredOption('--out <file>', 'pcap file to write')
  .option('--seconds <n>', 'stop after this many seconds (default: until Ctrl-C)')
  .addOption(socketOption())
  .addOption(configOption())
  .action(
    async (
      link: string,
      options: { out: string; seconds?: string; socket?: string; config?: string },
    ) => {
      const path = resolve(options.out);
      await call(options, { command: 'capture-start', link, path });
      process.stderr.write(
        `capturing ${link} to ${path}${options.seconds ? ` for ${options.seconds} s` : '; Ctrl-C to stop'}\n`,
      );
      await new Promise<void>((done) => {
        // A signal listener does not keep Node's event loop alive: without this interval
        // and no --seconds, the command would exit at once (status 13, unsettled
        // top-level await) and leave the capture running in the service.
        const keepAlive = setInterval(() => {}, 60_000);
        const finish = (): void => {
          clearInterval(keepAlive);
          if (timer) clearTimeout(timer);
          done();
        };
        const timer = options.seconds
          ? setTimeout(finish, Number(options.seconds) * 1000)
          : undefined;
        process.once('SIGINT', finish);
        process.once('SIGTERM', finish);
      });
      await call(options, { command: 'capture-stop', link });
      process.stderr.write('capture stopped\n');
    },
  );

const leds = program.command('leds').description('the status LEDs');
leds
  .command('test')
  .description('walk every LED through every pattern (a check after flashing)')
  .addOption(configOption())
  .option('--seconds <n>', 'seconds per pattern', '3')
  .action(async (options: { config?: string; seconds: string }) => {
    const { runLedsTest } = await import('../leds/leds-test.js');
    const config = tryConfig(options.config);
    const result = await runLedsTest({
      ...(config ? { board: config.board } : {}),
      log: {
        info: (m: string) => process.stderr.write(`${m}\n`),
        warn: (m: string) => process.stderr.write(`${m}\n`),
      },
      out: process.stdout,
      secondsPerPattern: Number(options.seconds),
      ...(process.stderr.isTTY ? { render: process.stderr } : {}),
    });
    if (result.failure !== undefined) process.exitCode = EXIT_FAILURE;
  });

const secrets = program
  .command('secrets')
  .description('the shared secrets (chap-secrets of this router)');
const secretsFile = (options: { file?: string; config?: string }): string =>
  options.file ?? tryConfig(options.config)?.secrets.file ?? '/etc/branchlink/secrets.json';
const fileOption = () =>
  new Option('--file <file>', 'secrets file (default: from the configuration)');

secrets
  .command('list')
  .description('names, servers, addresses (secrets only with --show-secrets)')
  .option('--show-secrets', 'print the secrets too')
  .addOption(fileOption())
  .addOption(configOption())
  .action(async (o: { showSecrets?: boolean; file?: string; config?: string }) => {
    process.exitCode = await secretsList(
      { file: secretsFile(o), showSecrets: o.showSecrets === true },
      io,
    );
  });

secrets
  .command('add <client>')
  .description('add a user; the secret is read without echo (or from stdin)')
  .option('--server <name>', 'our name the record applies to', '*')
  .option('--address <addr...>', 'addresses the peer may use (default *; - for none)')
  .option('--nt-hash', 'store only the NT hash (serves MS-CHAP only)')
  .option('--note <text>', 'a note for technicians')
  .option('--replace', 'replace an existing record')
  .addOption(fileOption())
  .addOption(configOption())
  .action(
    async (
      client: string,
      o: {
        server: string;
        address?: string[];
        ntHash?: boolean;
        note?: string;
        replace?: boolean;
        file?: string;
        config?: string;
      },
    ) => {
      process.exitCode = await secretsAdd(
        {
          file: secretsFile(o),
          client,
          server: o.server,
          ...(o.address ? { addresses: o.address } : {}),
          ntHash: o.ntHash === true,
          ...(o.note ? { note: o.note } : {}),
          replace: o.replace === true,
        },
        io,
      );
    },
  );

secrets
  .command('remove <client>')
  .description('remove a user')
  .option('--server <name>', 'only the record for this server')
  .addOption(fileOption())
  .addOption(configOption())
  .action(async (client: string, o: { server?: string; file?: string; config?: string }) => {
    process.exitCode = await secretsRemove(
      { file: secretsFile(o), client, ...(o.server ? { server: o.server } : {}) },
      io,
    );
  });

secrets
  .command('import <file>')
  .description("bring users across from pppd's chap-secrets or pap-secrets")
  .addOption(
    new Option('--format <format>', 'file format').choices(['chap', 'pap']).default('chap'),
  )
  .option('--replace', 'replace records that differ')
  .addOption(fileOption())
  .addOption(configOption())
  .action(
    async (
      from: string,
      o: { format: 'chap' | 'pap'; replace?: boolean; file?: string; config?: string },
    ) => {
      process.exitCode = await secretsImport(
        { file: secretsFile(o), from, format: o.format, replace: o.replace === true },
        io,
      );
    },
  );

secrets
  .command('export')
  .description("print the secrets in pppd's chap-secrets (or pap-secrets) format")
  .addOption(
    new Option('--format <format>', 'file format').choices(['chap', 'pap']).default('chap'),
  )
  .addOption(fileOption())
  .addOption(configOption())
  .action(async (o: { format: 'chap' | 'pap'; file?: string; config?: string }) => {
    process.exitCode = await secretsExport({ file: secretsFile(o), format: o.format }, io);
  });

const config = program.command('config').description('the configuration file');
config
  .command('check [file]')
  .description('validate a configuration file; every error names the place')
  .action((file: string | undefined) => {
    process.exitCode = configCheck({ path: file ?? DEFAULT_CONFIG_PATH }, io);
  });

await program.parseAsync(process.argv);
