/**
 * Every output format, in one table: its MIME type, file extension, whether it is lossy (and its
 * default quality), whether it keeps transparency, where it stands when an Accept header ties, and
 * how Chromium's PNG becomes it. Adding a format is one row here (and its test).
 *
 * Encoder settings are picked for latency: avif at sharp's default effort costs about a second per
 * screenshot, at effort 2 about 150 ms; webp at effort 2 a quarter of the default's time.
 */
import type { default as SharpLib, Sharp, SharpOptions } from 'sharp';
import { packageRequire } from './package-require.js';

let loaded: typeof SharpLib | undefined;

/**
 * sharp, loaded on first use: a PNG capture (the default) never needs it, and loading libvips costs a
 * cold start ~20 ms and the instance its memory. Loaded with `require`, which (unlike `import()`)
 * finds the dependencies layer through NODE_PATH in the bundle; a failed load is tried again next time.
 */
export async function sharp(input: Buffer | SharpOptions): Promise<Sharp> {
  if (!loaded) {
    const lib = packageRequire('sharp') as typeof SharpLib;
    lib.cache(false); // one-shot images: nothing worth caching between requests
    loaded = lib;
  }
  // Two calls: sharp's overloads take an image or options, not a value that may be either.
  return Buffer.isBuffer(input) ? loaded(input) : loaded(input);
}

export interface FormatSpec {
  mime: string;
  extension: string;
  /** Default quality for lossy formats; undefined for lossless ones (a `quality` option is refused). */
  defaultQuality?: number;
  /** Keeps an alpha channel (omitBackground is allowed). */
  transparency: boolean;
  /** Printed by Chromium as a document instead of a screenshot. */
  printed: boolean;
  /** Place when Accept ties (lower first: the cheaper encoder); undefined: never chosen from Accept. */
  acceptRank?: number;
  /** The longest side the encoder takes, px (libwebp, libheif, libjpeg); undefined: no limit of its own. */
  maxSide?: number;
  /** The most device pixels its encoder is given, where fewer than LIMITS.capturePixels (src/options.ts). */
  maxPixels?: number;
  /** Chromium's PNG → this format's bytes; undefined: the bytes are kept as Chromium made them. */
  encode?: (png: Buffer, quality: number | undefined) => Promise<Buffer>;
  /** Every encode of this format is a heavy one (src/capture/encode.ts: one at a time), whatever its size. */
  alwaysHeavy?: boolean;
  /**
   * The format Chromium's screenshot is asked for to make this format itself, for less CPU than its PNG
   * plus `encode` (jpeg: about 30 against 48 ms of CPU for a 1280×800 page; Chromium's webp costs more
   * than sharp's at effort 2, so webp is not made there). Only for an image that is one screenshot; one
   * joined from bands is `encode`d.
   */
  screenshotFormat?: 'jpeg' | 'webp';
}

export const FORMAT_SPECS = {
  png: { mime: 'image/png', extension: 'png', transparency: true, printed: false, acceptRank: 1 },
  jpeg: {
    mime: 'image/jpeg',
    extension: 'jpg',
    defaultQuality: 80,
    transparency: false,
    printed: false,
    acceptRank: 2,
    maxSide: 65_500,
    encode: async (png, quality) => (await sharp(png)).jpeg({ quality, mozjpeg: false }).toBuffer(),
    screenshotFormat: 'jpeg',
  },
  webp: {
    mime: 'image/webp',
    extension: 'webp',
    defaultQuality: 80,
    transparency: true,
    printed: false,
    acceptRank: 0,
    maxSide: 16_383,
    encode: async (png, quality) => (await sharp(png)).webp({ quality, effort: 2 }).toBuffer(),
  },
  avif: {
    mime: 'image/avif',
    extension: 'avif',
    defaultQuality: 50,
    transparency: true,
    printed: false,
    acceptRank: 3,
    maxSide: 16_384,
    // The worst image, noise, took 3 s of CPU and ~65 MB of memory per Mpx here (4 Mpx: 11.6 s, 315 MB
    // at its peak, quality 100), and no encode can be stopped once begun (src/capture/encode.ts). So:
    // at most 4 Mpx (1280 × 800 at scale 2, 2560 × 1440), and every one a heavy encode.
    maxPixels: 4 * 1024 * 1024,
    alwaysHeavy: true,
    encode: async (png, quality) => (await sharp(png)).avif({ quality, effort: 2 }).toBuffer(),
  },
  pdf: { mime: 'application/pdf', extension: 'pdf', transparency: false, printed: true },
} as const satisfies Record<string, FormatSpec>;

export type OutputFormat = keyof typeof FORMAT_SPECS;
export const FORMATS = Object.keys(FORMAT_SPECS) as OutputFormat[];
/** Formats an Accept header can choose, cheapest encoder first. */
export const NEGOTIABLE = FORMATS.filter((f) => spec(f).acceptRank !== undefined).sort(
  (a, b) => spec(a).acceptRank! - spec(b).acceptRank!,
);

export function spec(format: OutputFormat): FormatSpec {
  return FORMAT_SPECS[format];
}

/**
 * Chooses a format from an Accept header: the type with the highest q-value we can make. Ties go to
 * the lowest acceptRank; `*\/*`, `image/*` or nothing means png.
 */
export function negotiateFormat(accept: string | undefined): OutputFormat {
  if (!accept) return 'png';
  let best: OutputFormat = 'png';
  let bestQ = 0;
  for (const part of accept.split(',')) {
    const [type = '', ...params] = part.trim().toLowerCase().split(';');
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    if (!(q > 0)) continue;
    const format = NEGOTIABLE.find((f) => spec(f).mime === type.trim());
    if (!format) continue;
    if (q > bestQ || (q === bestQ && spec(format).acceptRank! < spec(best).acceptRank!)) {
      best = format;
      bestQ = q;
    }
  }
  return best;
}
