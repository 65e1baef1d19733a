/**
 * Generates the README's LED legend from the pattern table (src/leds/patterns.ts), so
 * the picture can never disagree with what the LEDs do.
 *
 *   node --import tsx scripts/led-legend.ts            writes docs/led-legend.svg
 *   node --import tsx scripts/led-legend.ts --png F    also renders F with rsvg-convert
 *                                                      (Debian package librsvg2-bin)
 *   node --import tsx scripts/led-legend.ts --markdown prints the legend as a text table
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BOARD_PROFILES, type LedColour } from '../board/profiles.js';
import {
  LED_NAMES,
  LED_PATTERNS,
  type LedName,
  type LedPattern,
  type Level,
} from '../src/leds/patterns.js';
import { patternTimeline } from '../src/leds/timeline.js';

/** Time shown per row: every finite pattern of the table ends within it. */
export const LEGEND_WINDOW_MS = 4000;

const FILL: Record<LedColour, string> = {
  green: '#16a34a',
  yellow: '#eab308',
  blue: '#2563eb',
  red: '#dc2626',
};
const OFF_FILL = '#e5e7eb';
const LABEL_W = 250;
const STRIP_W = 480;
const TAIL_W = 150;
const ROW_H = 30;
const HEAD_H = 34;
const TOP = 44;
const WIDTH = LABEL_W + STRIP_W + TAIL_W + 20;

const TITLES: Record<LedName, string> = {
  power: 'power: the service',
  dialup: 'dialup: the dial-up link',
  vpn: 'vpn: the PPTP link(s)',
  auth: 'auth: authentications',
};

/** Where a `resume` pattern goes back to, for drawing (the auth LED's idle state). */
const RESTING: Level = 0;

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function afterwards(p: LedPattern): string {
  const steady = p.steps.every(([level]) => level === (p.after === 'on' ? 1 : 0));
  if ((p.after === 'on' || p.after === 'off') && steady) return '';
  switch (p.after) {
    case 'repeat':
      return 'repeats';
    case 'on':
      return 'then stays on';
    case 'off':
      return 'then off';
    case 'resume':
      return 'then as before';
  }
}

/** Rows shown: every state of the table except `stopped` (all LEDs dark, said once). */
function legendRows(led: LedName): [string, LedPattern][] {
  return (Object.entries(LED_PATTERNS[led]) as [string, LedPattern][]).filter(
    ([state]) => state !== 'stopped',
  );
}

export function renderLegendSvg(): string {
  const px = STRIP_W / LEGEND_WINDOW_MS;
  const parts: string[] = [];
  let y = TOP;
  for (const led of LED_NAMES) {
    const wiring = BOARD_PROFILES.rpi.leds[led];
    const fill = FILL[wiring.colour];
    parts.push(
      `<circle cx="18" cy="${y + 15}" r="7" fill="${fill}"/>`,
      `<text x="32" y="${y + 20}" class="head">${esc(TITLES[led])}</text>`,
      `<text x="${LABEL_W}" y="${y + 20}" class="small">${wiring.colour} LED, default BCM ${wiring.pin}</text>`,
    );
    y += HEAD_H;
    for (const [state, pattern] of legendRows(led)) {
      parts.push(
        `<text x="32" y="${y + 13}" class="state">${esc(state)}</text>`,
        `<text x="32" y="${y + 26}" class="small">${esc(pattern.looks)}</text>`,
      );
      for (const seg of patternTimeline(pattern, LEGEND_WINDOW_MS, RESTING)) {
        const x = LABEL_W + seg.from * px;
        const w = (seg.to - seg.from) * px;
        parts.push(
          `<rect x="${x.toFixed(1)}" y="${y + 6}" width="${w.toFixed(1)}" height="16" fill="${seg.level === 1 ? fill : OFF_FILL}"/>`,
        );
      }
      parts.push(
        `<text x="${LABEL_W + STRIP_W + 10}" y="${y + 19}" class="small">${afterwards(pattern)}</text>`,
      );
      y += ROW_H;
    }
    y += 8;
  }
  const ticks: string[] = [];
  for (let s = 0; s * 1000 <= LEGEND_WINDOW_MS; s++) {
    const x = LABEL_W + s * 1000 * px;
    ticks.push(
      `<line x1="${x}" y1="${TOP - 6}" x2="${x}" y2="${y - 8}" class="tick"/>`,
      `<text x="${x}" y="${TOP - 10}" class="axis">${s} s</text>`,
    );
  }
  const height = y + 22;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="DejaVu Sans, Verdana, Arial, sans-serif">`,
    '<title>branchlink LED legend: what each LED pattern means</title>',
    '<style>',
    '.title{font-size:15px;font-weight:bold;fill:#111827}',
    '.head{font-size:13px;font-weight:bold;fill:#111827}',
    '.state{font-size:12px;fill:#111827}',
    '.small{font-size:10px;fill:#4b5563}',
    '.axis{font-size:10px;fill:#4b5563;text-anchor:middle}',
    '.tick{stroke:#d1d5db;stroke-width:1;stroke-dasharray:2 3}',
    '</style>',
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    '<text x="12" y="20" class="title">branchlink LEDs (generated from src/leds/patterns.ts)</text>',
    ...ticks,
    ...parts,
    `<text x="12" y="${height - 8}" class="small">All LEDs dark: service stopped, hung or not running. Lit segments in the LED's colour, dark in grey.</text>`,
    '</svg>',
    '',
  ].join('\n');
}

/** The legend as a Markdown table for the README. */
export function renderLegendMarkdown(): string {
  const lines = ['| LED | state | looks like | when |', '|---|---|---|---|'];
  for (const led of LED_NAMES) {
    for (const [state, pattern] of legendRows(led)) {
      lines.push(`| ${led} | ${state} | ${pattern.looks} | ${pattern.when} |`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export const LEGEND_PATH = fileURLToPath(new URL('../docs/led-legend.svg', import.meta.url));

function main(argv: string[]): void {
  if (argv.includes('--markdown')) {
    process.stdout.write(renderLegendMarkdown());
    return;
  }
  mkdirSync(path.dirname(LEGEND_PATH), { recursive: true });
  writeFileSync(LEGEND_PATH, renderLegendSvg());
  process.stdout.write(`wrote ${path.relative(process.cwd(), LEGEND_PATH)}\n`);
  const png = argv[argv.indexOf('--png') + 1];
  if (argv.includes('--png') && png !== undefined) {
    execFileSync('rsvg-convert', ['-o', png, LEGEND_PATH]);
    process.stdout.write(`wrote ${png}\n`);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2));
}
