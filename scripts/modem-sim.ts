/**
 * Modem simulator CLI: Hayes modems on ptys, joined by a simulated telephone exchange.
 *
 *   node --import tsx scripts/modem-sim.ts --line 100:/tmp/x/a --line 200:/tmp/x/b
 *
 * Prints each line's pty path, then reads commands on stdin while it runs:
 *   drop <number>            drop the call on that line (both ends get NO CARRIER)
 *   fault <number> <fault>   busy | no-answer | no-carrier | no-dialtone | none
 *   garble <rate> [number]   garble that fraction of relayed bytes
 *   status                   each line's mode and counters
 */
import { createInterface } from 'node:readline';
import { Command, InvalidArgumentError } from 'commander';
import { ModemSimulator, type SimFault, type SimLineConfig } from './modem-sim/sim.js';

const FAULTS: readonly string[] = ['busy', 'no-answer', 'no-carrier', 'no-dialtone'];

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function number(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('not a non-negative number');
  return n;
}

function parseLine(spec: string): SimLineConfig {
  const k = spec.indexOf(':');
  if (k < 0) return { number: spec };
  return { number: spec.slice(0, k), path: spec.slice(k + 1) };
}

const program = new Command()
  .name('modem-sim')
  .description('Hayes AT modem simulator on ptys (socat), for tests and the demo')
  .option('--line <number[:path]>', 'a line and where to put its pty (repeatable)', collect, [])
  .option('--dir <dir>', 'directory for pty links when a line gives no path')
  .option('--ring-interval <ms>', 'time between RINGs', number, 2000)
  .option('--call-setup <ms>', 'network delay before ringing or a failure', number, 300)
  .option('--connect-delay <ms>', 'handshake time before CONNECT', number, 200)
  .option('--connect-text <text>', 'what follows CONNECT', '115200/ARQ/V42')
  .option('--busy <number>', 'calls to this number get BUSY (repeatable)', collect, [])
  .option('--no-answer <number>', 'calls to this number get NO ANSWER (repeatable)', collect, [])
  .option(
    '--no-carrier <number>',
    'answering this number fails with NO CARRIER (repeatable)',
    collect,
    [],
  )
  .option(
    '--no-dialtone <number>',
    'this line gets NO DIALTONE when it dials (repeatable)',
    collect,
    [],
  )
  .option('--garble <rate>', 'fraction of relayed bytes to garble (0..1)', number, 0)
  .option('--drop-after <seconds>', 'drop every call this long after CONNECT', number, 0)
  .option('--seed <n>', 'PRNG seed for garbling', number, 0x5eed)
  .option('-q, --quiet', 'no log lines, only the paths');

program.parse();
const opts = program.opts<{
  line: string[];
  dir?: string;
  ringInterval: number;
  callSetup: number;
  connectDelay: number;
  connectText: string;
  busy: string[];
  answer: string[] | boolean;
  carrier: string[] | boolean;
  dialtone: string[] | boolean;
  garble: number;
  dropAfter: number;
  seed: number;
  quiet?: boolean;
}>();

// commander turns --no-x into a negated "x" option; read the raw lists instead.
function listAfter(flag: string): string[] {
  const out: string[] = [];
  const argv = process.argv;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === flag && argv[i + 1] !== undefined) out.push(argv[i + 1] as string);
    else if (argv[i]?.startsWith(`${flag}=`)) out.push((argv[i] as string).slice(flag.length + 1));
  }
  return out;
}

const faults: Record<string, SimFault> = {};
for (const n of opts.busy) faults[n] = 'busy';
for (const n of listAfter('--no-answer')) faults[n] = 'no-answer';
for (const n of listAfter('--no-carrier')) faults[n] = 'no-carrier';
for (const n of listAfter('--no-dialtone')) faults[n] = 'no-dialtone';

if (opts.line.length === 0) {
  console.error('modem-sim: give at least one --line <number[:path]>');
  process.exit(2);
}

const log = opts.quiet ? undefined : (line: string): void => console.error(line);
let sim: ModemSimulator;
try {
  sim = await ModemSimulator.start({
    lines: opts.line.map(parseLine),
    dir: opts.dir,
    ringIntervalMs: opts.ringInterval,
    callSetupMs: opts.callSetup,
    connectDelayMs: opts.connectDelay,
    connectText: opts.connectText,
    garble: opts.garble,
    dropAfterMs: opts.dropAfter * 1000,
    seed: opts.seed,
    faults,
    log,
  });
} catch (e) {
  console.error(`modem-sim: ${(e as Error).message}`);
  process.exit(1);
}

for (const [n, path] of Object.entries(sim.paths)) console.log(`line ${n}: ${path}`);
console.log('ready');

const rl = createInterface({ input: process.stdin, terminal: false });
rl.on('line', (text) => {
  const [cmd, a, b] = text.trim().split(/\s+/);
  try {
    switch (cmd) {
      case 'drop':
        console.log(sim.drop(a ?? '') ? `dropped ${a}` : `no call on ${a}`);
        break;
      case 'fault':
        if (b !== 'none' && !FAULTS.includes(b ?? ''))
          throw new Error(`fault is one of ${FAULTS.join(', ')}, none`);
        sim.setFault(a ?? '', b === 'none' ? undefined : (b as SimFault));
        console.log(`fault ${a} ${b}`);
        break;
      case 'garble':
        sim.setGarble(Number(a), b);
        console.log(`garble ${a}${b ? ` towards ${b}` : ''}`);
        break;
      case 'status':
        for (const n of Object.keys(sim.paths)) {
          console.log(`line ${n}: ${sim.mode(n)} ${JSON.stringify(sim.stats(n))}`);
        }
        break;
      case undefined:
      case '':
        break;
      default:
        console.log(
          'commands: drop <n> | fault <n> <busy|no-answer|no-carrier|no-dialtone|none> | garble <rate> [n] | status',
        );
    }
  } catch (e) {
    console.log(`error: ${(e as Error).message}`);
  }
});

let stopping = false;
const shutdown = (): void => {
  if (stopping) return;
  stopping = true;
  rl.close();
  void sim.stop().then(() => process.exit(0));
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
