/**
 * The encoders' turns (src/capture/encode.ts), with real sharp on noise, the worst image for them:
 * heavy encodes run one at a time, light ones do not wait, and one whose request ended before its turn
 * is not begun.
 */
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeImage, HEAVY_PIXELS } from '../src/capture/encode.js';
import { FORMAT_SPECS } from '../src/formats.js';

async function noisePng(width: number, height: number): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  let x = 2463534242;
  for (let i = 0; i < raw.length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    raw.writeInt32LE(x | 0, Math.min(i, raw.length - 4));
  }
  return sharp(raw, { raw: { width, height, channels: 3 } })
    .png({ compressionLevel: 0 })
    .toBuffer();
}

let avif: Buffer; // 2 Mpx: seconds of AVIF
let bigWebp: Buffer; // over HEAVY_PIXELS
let smallWebp: Buffer;

beforeAll(async () => {
  [avif, bigWebp, smallWebp] = await Promise.all([noisePng(1600, 1300), noisePng(2100, 2100), noisePng(800, 600)]);
  expect(2100 * 2100).toBeGreaterThan(HEAVY_PIXELS);
});

describe('encoder turns', () => {
  it('a heavy encode waits for the one before it; a light one does not', async () => {
    const order: string[] = [];
    const run = (name: string, png: Buffer, format: 'avif' | 'webp') =>
      encodeImage(png, 'png', { format, quality: 80 }).then((out) => {
        order.push(name);
        return out;
      });
    const results = await Promise.all([
      run('avif', avif, 'avif'),
      run('big webp', bigWebp, 'webp'),
      run('small webp', smallWebp, 'webp'),
    ]);
    expect(order).toEqual(['small webp', 'avif', 'big webp']);
    expect(results[0].subarray(4, 12).toString('latin1')).toBe('ftypavif');
    expect(results[1].subarray(8, 12).toString('latin1')).toBe('WEBP');
  }, 120_000);

  it('a heavy encode whose request ended while it waited leaves the line at once and is never begun', async () => {
    const avifSpec = FORMAT_SPECS.avif as { encode: (png: Buffer, quality: number | undefined) => Promise<Buffer> };
    const encode = avifSpec.encode;
    let begun = 0;
    avifSpec.encode = (png, quality) => {
      begun += 1;
      return encode(png, quality);
    };
    try {
      const order: string[] = [];
      const ended = new AbortController();
      const first = encodeImage(avif, 'png', { format: 'avif', quality: 50 }).then(() => order.push('first'));
      const second = encodeImage(avif, 'png', { format: 'avif', quality: 50 }, ended.signal).catch((err: Error) => {
        order.push(`second: ${err.message}`);
      });
      ended.abort(new Error('the request ended'));
      await Promise.all([first, second]);
      // It leaves before the encode ahead of it ends: its capture's slot is not held for nothing.
      expect(order).toEqual(['second: the request ended', 'first']);
      expect(begun).toBe(1);
    } finally {
      avifSpec.encode = encode;
    }
  }, 120_000);
});
