/**
 * Turns what Chromium made into the file we stream back, written once under the capture directory:
 * with the format's encoder (src/formats.ts), or as it is where the format has none (png, pdf: no
 * second encode).
 */
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spec, type OutputFormat } from '../formats.js';
import type { CaptureOptions } from '../options.js';

export interface EncodedFile {
  path: string;
  size: number;
}

/** Every file this service writes starts with this prefix, so leaks are easy to find (and to test for). */
export const CAPTURE_PREFIX = 'fcshot-';

export function captureFilePath(dir: string, format: OutputFormat): string {
  return join(dir, `${CAPTURE_PREFIX}${randomUUID()}.${spec(format).extension}`);
}

/** `bytes` is Chromium's PNG (or its PDF). */
export async function encodeToFile(
  bytes: Buffer,
  opts: Pick<CaptureOptions, 'format' | 'quality'>,
  path: string,
): Promise<EncodedFile> {
  const { encode } = spec(opts.format);
  if (!encode) {
    await writeFile(path, bytes);
    return { path, size: bytes.length };
  }
  const { size } = await encode(bytes, opts.quality, path);
  return { path, size };
}
