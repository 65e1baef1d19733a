/**
 * `npm run bench`: runs every module in scripts/bench/ (or those named on the command
 * line) and prints each figure beside the baseline measured in the same run.
 */
import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchResult } from './bench/types.js';

const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const modules = readdirSync(join(here, 'bench'))
  .filter((f) => f.endsWith('.ts') && f !== 'types.ts')
  .map((f) => basename(f, '.ts'))
  .filter((name) => wanted.length === 0 || wanted.includes(name))
  .sort();

function fmt(value: number): string {
  if (value >= 100) return Math.round(value).toLocaleString('en-US');
  return value.toPrecision(3);
}

for (const name of modules) {
  const mod = (await import(pathToFileURL(join(here, 'bench', `${name}.ts`)).href)) as {
    run?: () => Promise<BenchResult[]>;
  };
  if (typeof mod.run !== 'function') continue;
  console.log(`\n== ${name}`);
  try {
    for (const r of await mod.run()) {
      let line = `  ${r.name.padEnd(58)} ${fmt(r.value).padStart(14)} ${r.unit}`;
      if (r.baseline) {
        const ratio = r.value / r.baseline.value;
        line += `\n  ${`  baseline: ${r.baseline.name}`.padEnd(58)} ${fmt(r.baseline.value).padStart(14)} ${r.baseline.unit}  (ratio ${ratio.toPrecision(3)})`;
      }
      console.log(line);
    }
  } catch (e) {
    console.log(`  skipped: ${e instanceof Error ? e.message : String(e)}`);
  }
}
