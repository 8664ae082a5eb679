/**
 * Turns what Chromium made into the bytes we answer with: the format's encoder (src/formats.ts), or
 * the bytes as they are where Chromium already made the format (png, pdf, a jpeg screenshot).
 */
import { type OutputFormat, spec } from '../formats.js';
import type { CaptureOptions } from '../options.js';

/**
 * `bytes` are what Chromium made, in format `made`: its PNG, its PDF, or the format itself. `signal`:
 * the request ended (an encoder waiting for its turn does not begin; one begun runs to its end).
 */
export async function encodeImage(
  bytes: Buffer,
  made: OutputFormat,
  opts: Pick<CaptureOptions, 'format' | 'quality'>,
  signal?: AbortSignal,
): Promise<Buffer> {
  const { encode } = spec(opts.format);
  return encode && made !== opts.format ? encode(bytes, opts.quality, signal) : bytes;
}
