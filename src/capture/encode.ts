/**
 * Turns what Chromium made into the bytes we answer with: the format's encoder (src/formats.ts), or
 * the bytes as they are where the format has none (png, pdf: no second encode).
 */
import { spec } from '../formats.js';
import type { CaptureOptions } from '../options.js';

/** `bytes` is Chromium's PNG (or its PDF). */
export async function encodeImage(bytes: Buffer, opts: Pick<CaptureOptions, 'format' | 'quality'>): Promise<Buffer> {
  const { encode } = spec(opts.format);
  return encode ? encode(bytes, opts.quality) : bytes;
}
