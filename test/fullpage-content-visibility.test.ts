/**
 * fullPage draws every section of a page that skips rendering its off-screen sections
 * (`content-visibility: auto`, test/corpus/pages/content-visibility.html): 40 bands of 300 px, each
 * of its own colour, all painted, none left as an empty box.
 */
import { describe, expect, it } from 'vitest';
import { pixels } from './corpus/pixels.js';
import { useCorpusRun } from './corpus/setup.js';

const run = useCorpusRun();

describe('fullPage and content-visibility: auto', () => {
  it('every section is drawn', async () => {
    const res = await run.get({
      url: `${run.corpus.http}/content-visibility`,
      fullPage: true,
      width: 400,
      height: 600,
    });
    expect(res.status, String(res.body)).toBe(200);
    const p = await pixels(res.body as Buffer);
    expect(p.height).toBe(40 * 300);
    const blank: number[] = [];
    for (let i = 0; i < 40; i++) {
      // the middle of each band: a colour of the band (saturated), not the page's white
      const [r, g, b] = p.at(200, i * 300 + 150);
      if (Math.max(r, g, b) - Math.min(r, g, b) < 60) blank.push(i);
    }
    expect(blank).toEqual([]);
  });
});
