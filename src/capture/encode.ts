/**
 * Turns Chromium's PNG into the file we stream back, written once under the capture directory.
 * PNG goes to disk as Chromium made it (no second encode); jpeg, webp and avif are encoded by sharp
 * with settings picked for latency (perf-facts.md: avif at default effort costs ~1 s, at effort 2
 * ~150 ms; webp effort 2 a quarter of the default's time).
 */
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import type { CaptureOptions, OutputFormat } from '../options.js';

// One-shot images: nothing worth caching between requests.
sharp.cache(false);

export interface EncodedFile {
  path: string;
  size: number;
}

/** Every file this service writes starts with this prefix, so leaks are easy to find (and to test for). */
export const CAPTURE_PREFIX = 'fcshot-';

const extension: Record<OutputFormat, string> = { png: 'png', jpeg: 'jpg', webp: 'webp', avif: 'avif', pdf: 'pdf' };

export function captureFilePath(dir: string, format: OutputFormat): string {
  return join(dir, `${CAPTURE_PREFIX}${randomUUID()}.${extension[format]}`);
}

/** `bytes` is Chromium's PNG (or its PDF, written as it is). */
export async function encodeToFile(bytes: Buffer, opts: Pick<CaptureOptions, 'format' | 'quality'>, path: string): Promise<EncodedFile> {
  if (opts.format === 'png' || opts.format === 'pdf') {
    await writeFile(path, bytes);
    return { path, size: bytes.length };
  }
  const png = bytes;
  const image = sharp(png);
  const quality = opts.quality;
  const encoder =
    opts.format === 'jpeg'
      ? image.jpeg({ quality, mozjpeg: false })
      : opts.format === 'webp'
        ? image.webp({ quality, effort: 2 })
        : image.avif({ quality, effort: 2 });
  const info = await encoder.toFile(path);
  return { path, size: info.size };
}
