/** Runs `secrets add` on a real terminal (the test drives it through a socat pty). argv: <file> <client> */
import { secretsAdd } from '../../../src/cli/secrets-commands.js';

const [file, client] = process.argv.slice(2) as [string, string];
secretsAdd(
  { file, client },
  { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr },
).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`${String(e)}\n`);
    process.exit(9);
  },
);
