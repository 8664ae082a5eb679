/**
 * Turns what Chromium made into the bytes we answer with: the format's encoder (src/formats.ts), or
 * the bytes as they are where Chromium already made the format (png, pdf, a jpeg screenshot).
 *
 * No encoder can be stopped once begun: sharp's timeout does not reach into libheif or libwebp. So the
 * heavy ones, every AVIF encode and any of more than HEAVY_PIXELS, run one at a time, and one still
 * waiting for its turn when its request ends is not begun. Measured here on noise (the worst image):
 * AVIF 3 s of CPU and ~65 MB per Mpx; a 21 Mpx WebP 5.6 s, its process peaking at 354 MB. Four of those
 * at once would take most of a 1 GB instance; one at a time, a capture's share.
 */
import { type OutputFormat, spec } from '../formats.js';
import type { CaptureOptions } from '../options.js';

/** An encode of more pixels than this waits for its turn (1920 × 1080 and 1280 × 800 at scale 2 do not). */
export const HEAVY_PIXELS = 4 * 1024 * 1024;

let lane: Promise<unknown> = Promise.resolve();

/**
 * `work` once every heavy encode asked for before it has ended. If `signal` aborts while it waits, it
 * leaves the lane at once (its capture's slot is freed) and is never begun; those after it still wait
 * for the encodes before it.
 */
async function inTurn(signal: AbortSignal | undefined, work: () => Promise<Buffer>): Promise<Buffer> {
  const before = lane;
  let done!: () => void;
  const mine = new Promise<void>((resolve) => {
    done = resolve;
  });
  lane = before.then(() => mine);
  let onAbort: (() => void) | undefined;
  try {
    await Promise.race([
      before,
      new Promise<void>((resolve) => {
        onAbort = resolve;
        signal?.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
    signal?.throwIfAborted();
    return await work();
  } finally {
    if (onAbort) signal?.removeEventListener('abort', onAbort);
    done();
  }
}

/** Width × height from a PNG's header (IHDR); 0 if the bytes are not a PNG. */
function pngPixels(png: Buffer): number {
  if (png.length < 24 || png.toString('latin1', 12, 16) !== 'IHDR') return 0;
  return png.readUInt32BE(16) * png.readUInt32BE(20);
}

/**
 * `bytes` are what Chromium made, in format `made`: its PNG, its PDF, or the format itself. `signal`:
 * the request ended (a heavy encode waiting for its turn does not begin; one begun runs to its end).
 */
export async function encodeImage(
  bytes: Buffer,
  made: OutputFormat,
  opts: Pick<CaptureOptions, 'format' | 'quality'>,
  signal?: AbortSignal,
): Promise<Buffer> {
  const { encode, alwaysHeavy } = spec(opts.format);
  if (!encode || made === opts.format) return bytes;
  const work = () => encode(bytes, opts.quality);
  return alwaysHeavy || pngPixels(bytes) > HEAVY_PIXELS ? inTurn(signal, work) : work();
}
