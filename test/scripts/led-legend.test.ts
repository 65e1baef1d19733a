import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LEGEND_PATH, renderLegendMarkdown, renderLegendSvg } from '../../scripts/led-legend.js';
import { LED_NAMES, LED_PATTERNS } from '../../src/leds/patterns.js';

describe('LED legend', () => {
  it('the committed docs/led-legend.svg is what the pattern table generates', () => {
    // If this fails: node --import tsx scripts/led-legend.ts
    expect(readFileSync(LEGEND_PATH, 'utf8')).toBe(renderLegendSvg());
  });

  it('shows every state of the table except stopped, in the SVG and the text table', () => {
    const svg = renderLegendSvg();
    const md = renderLegendMarkdown();
    for (const led of LED_NAMES) {
      for (const [state, pattern] of Object.entries(LED_PATTERNS[led])) {
        if (state === 'stopped') continue;
        expect(svg).toContain(`class="state">${state}</text>`);
        expect(md).toContain(`| ${led} | ${state} | ${pattern.looks} |`);
      }
    }
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
  });
});
