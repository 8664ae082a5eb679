/**
 * Do CJK text and emoji come out as real glyphs? One page per character, captured at 120×120: a
 * missing glyph is drawn like a private-use character (the same box, or nothing), while real glyphs
 * carry ink and differ from each other.
 */
import { expect } from 'vitest';

export const GLYPHS = { zh: '你', zh2: '好', ja: 'こ', ko: '안', emoji: '😀', pua: '\uE000' };
const REAL = ['zh', 'zh2', 'ja', 'ko', 'emoji'] as const;

/** Fixture pages `/glyph-<key>`, one character each in a 96 px serif font on white. */
export const glyphPages = () =>
  Object.fromEntries(
    Object.entries(GLYPHS).map(([key, text]) => [
      `/glyph-${key}`,
      '<!doctype html><meta charset="utf-8"><style>html,body{margin:0;background:#fff}' +
        `span{font:96px serif;line-height:120px}</style><span>${text}</span>`,
    ]),
  );

/** Pixels (RGB bytes) that differ clearly between two captures of the same size. */
export function differingPixels(a: Buffer, b: Buffer): number {
  let n = 0;
  for (let i = 0; i < a.length; i += 3) {
    if (Math.abs(a[i]! - b[i]!) + Math.abs(a[i + 1]! - b[i + 1]!) + Math.abs(a[i + 2]! - b[i + 2]!) > 60) n++;
  }
  return n;
}

/** Pixels that are not white. */
export const ink = (a: Buffer) => differingPixels(a, Buffer.alloc(a.length, 255));

/** Captures every glyph page with `capture` (path → RGB bytes) and checks each real glyph is one. */
export async function expectRealGlyphs(capture: (path: string) => Promise<Buffer>): Promise<void> {
  const shots = Object.fromEntries(
    await Promise.all(Object.keys(GLYPHS).map(async (k) => [k, await capture(`/glyph-${k}`)] as const)),
  );
  for (const k of REAL) {
    expect(ink(shots[k]!), k).toBeGreaterThan(300);
    expect(differingPixels(shots[k]!, shots.pua!), `${k} vs private-use`).toBeGreaterThan(300);
  }
  // boxes would all look alike; real glyphs do not
  REAL.forEach((a, i) => {
    for (const b of REAL.slice(i + 1))
      expect(differingPixels(shots[a]!, shots[b]!), `${a} vs ${b}`).toBeGreaterThan(200);
  });
}
