/**
 * Turns what Chromium made into the file we stream back, written once under the capture directory:
 * with the format's encoder (src/formats.ts), or as it is where the format has none (png, pdf: no
 * second encode). The digest of the bytes is taken as they are written (the ETag), not read back.
 */
import { createHash, randomUUID } from 'node:crypto';
import { rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spec, type OutputFormat } from '../formats.js';
import type { CaptureOptions } from '../options.js';

export interface EncodedFile {
  path: string;
  size: number;
  /** A digest of the file's bytes (SHA-256, base64url, 32 characters): the same bytes, the same digest. */
  digest: string;
}

export const digestOf = (bytes: Buffer) => createHash('sha256').update(bytes).digest('base64url').slice(0, 32);

/** Every file this service writes starts with this prefix, so leaks are easy to find (and to test for). */
export const CAPTURE_PREFIX = 'fcshot-';

/** Capture files this process named and has not removed yet: the only ones it may clean up (/tmp may be shared). */
const ownFiles = new Set<string>();

export function captureFilePath(dir: string, format: OutputFormat): string {
  const path = join(dir, `${CAPTURE_PREFIX}${randomUUID()}.${spec(format).extension}`);
  ownFiles.add(path);
  return path;
}

/** Removes one of our capture files (gone already is fine). */
export async function removeCaptureFile(path: string): Promise<void> {
  ownFiles.delete(path);
  await rm(path, { force: true }).catch(() => undefined);
}

/** Removes every capture file of this process still on disk; returns how many there were. */
export async function removeOwnCaptureFiles(): Promise<number> {
  const paths = [...ownFiles];
  const there = await Promise.all(
    paths.map((p) =>
      stat(p).then(
        () => true,
        () => false,
      ),
    ),
  );
  await Promise.all(paths.map(removeCaptureFile));
  return there.filter(Boolean).length;
}

/** `bytes` is Chromium's PNG (or its PDF). */
export async function encodeToFile(
  bytes: Buffer,
  opts: Pick<CaptureOptions, 'format' | 'quality'>,
  path: string,
): Promise<EncodedFile> {
  const { encode } = spec(opts.format);
  const file = encode ? await encode(bytes, opts.quality) : bytes;
  await writeFile(path, file);
  return { path, size: file.length, digest: digestOf(file) };
}
