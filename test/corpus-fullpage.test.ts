/**
 * fullPage captures of the corpus's long pages: lazy images, sticky and fixed bars, a 100vh hero, a
 * long Chinese article, an endless feed. What a person expects: everything loaded, each bar once,
 * the hero as tall as the screen, the feed cut at fullPageMaxHeight.
 */
import { describe, expect, it } from 'vitest';
import { near, pixels, runs } from './corpus/pixels.js';
import { useCorpusRun } from './corpus/setup.js';

const run = useCorpusRun();
const shot = async (query: Record<string, string | number | boolean | string[]>) => {
  const res = await run.get(query);
  expect(res.status, String(res.body)).toBe(200);
  return res;
};

describe('fullPage on real-world layouts', () => {
  it('loading=lazy images far below the fold are all in the capture', async () => {
    const p = await pixels((await shot({ url: `${run.corpus.https}/lazy-images`, fullPage: true })).body);
    const colours = [
      'e53935',
      '8e24aa',
      '3949ab',
      '039be5',
      '00897b',
      '7cb342',
      'fdd835',
      'fb8c00',
      '6d4c41',
      '546e7a',
    ];
    expect(p.height).toBeGreaterThanOrEqual(4900);
    for (const [i, c] of colours.entries()) {
      expect(p.share({ x: 0, y: i * 500 + 20, width: 1280, height: 360 }, `#${c}`, 2), `photo ${i}`).toBe(1);
    }
  });

  // At scale 2 the page is narrower: 1280 × 18000 CSS px would pass LIMITS.capturePixels.
  for (const [name, sections, scale, width] of [
    ['a page of 6 screens', 6, 1, 1280],
    ['a page taller than the texture limit, captured in slices', 30, 1, 1280],
    ['the same at scale 2 (slices of 4096 CSS px)', 30, 2, 400],
  ] as const) {
    it(`a sticky header and a fixed bottom bar appear once, not in every screen or slice: ${name}`, async () => {
      const res = await shot({
        url: `${run.corpus.http}/sticky-fixed?sections=${sections}`,
        fullPage: true,
        scale,
        width,
        fullPageMaxHeight: 50_000,
      });
      expect(res.headers['x-truncated']).toBeUndefined();
      const p = await pixels(res.body);
      expect(p.height).toBeGreaterThan(sections * 600 * scale);
      // Column 5 is outside the content and the bars' text: only the header, the bar and the page's background.
      expect(runs(p.rowsOf(5, '#d32f2f', 2))).toEqual([[0, 60 * scale - 1]]);
      const bar = runs(p.rowsOf(5, '#1565c0', 2));
      expect(bar).toHaveLength(1);
      expect(bar[0]![1] - bar[0]![0] + 1).toBe(50 * scale);
    });
  }

  for (const [name, features] of [
    ['a landing page', 3],
    ['a landing page taller than the texture limit', 45],
  ] as const) {
    it(`a 100vh hero keeps the screen's height, not the page's: ${name}`, async () => {
      const p = await pixels(
        (await shot({ url: `${run.corpus.https}/hero?features=${features}`, fullPage: true, height: 800 })).body,
      );
      expect(runs(p.rowsOf(5, '#6a1b9a', 2))).toEqual([[0, 799]]);
      expect(p.height).toBeGreaterThan(800 + features * 424);
      expect(near(p.at(640, p.height - 10), '#263238', 2)).toBe(true); // the footer ends the page
    });
  }

  it('a long Chinese article: every paragraph has CJK glyphs, unlike private-use characters', async () => {
    // Needs CJK fonts in the local Chromium: without them the Chinese text is blank.
    const p = await pixels((await shot({ url: `${run.corpus.https}/chinese-article`, fullPage: true })).body);
    expect(p.height).toBeGreaterThan(5900);
    // article: x 190–1090; paragraph i's first line at y 120 + 240·i, 40 px; then the private-use line
    // Characters are 22 px squares. A missing glyph is the same box every time (or nothing): the ink
    // of one character cell to the next hardly varies. Real glyphs differ from one another.
    const cells = (y: number) =>
      Array.from({ length: 36 }, (_, k) => p.ink({ x: 190 + 22 * k, y, width: 22, height: 40 }));
    const spread = (xs: number[]) => {
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
      return Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
    };
    const boxes = spread(cells(120 + 24 * 240));
    for (let i = 0; i < 24; i++) {
      const y = 120 + i * 240;
      const perChar = p.ink({ x: 190, y, width: 900, height: 40 }) / 40;
      expect(perChar, `paragraph ${i + 1}`).toBeGreaterThan(25);
      expect(spread(cells(y)), `paragraph ${i + 1}`).toBeGreaterThan(Math.max(10, 3 * boxes));
    }
  });

  it('an infinite feed stops at fullPageMaxHeight with X-Truncated, loaded to the cut', async () => {
    const res = await shot({ url: `${run.corpus.https}/infinite`, fullPage: true, fullPageMaxHeight: 6000 });
    expect(res.headers['x-truncated']).toBe('fullPageMaxHeight=6000');
    const p = await pixels(res.body);
    expect(p.height).toBe(6000);
    // cards down to the cut
    expect(p.share({ x: 40, y: 5600, width: 1200, height: 390 }, '#5c6bc0', 2)).toBeGreaterThan(0.8);
  });

  it('an infinite feed at the default cap ends too, within the request deadline', async () => {
    const res = await shot({ url: `${run.corpus.https}/infinite`, fullPage: true, timeout: 30_000 });
    expect(res.headers['x-truncated']).toBe('fullPageMaxHeight=20000');
    const p = await pixels(res.body);
    expect(p.height).toBe(20_000);
    expect(p.share({ x: 40, y: 19_000, width: 1200, height: 990 }, '#5c6bc0', 2)).toBeGreaterThan(0.8);
  }, 60_000);
});
