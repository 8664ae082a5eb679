/**
 * The capture files: the one owner of what the service writes under the capture directory. service.ts
 * makes it; the pipeline writes the encoded image through it, the route streams and discards through
 * it, the pre-stop hook discards what is left. Only the files this process named are ever removed
 * (the directory, /tmp on FC, may be shared).
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, type ReadStream } from 'node:fs';
import { readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spec, type OutputFormat } from './formats.js';

/** Every file this service writes starts with this prefix, so leaks are easy to find (and to test for). */
export const CAPTURE_PREFIX = 'fcshot-';

export interface CaptureFile {
  path: string;
  size: number;
  /** A digest of the file's bytes (SHA-256, base64url, 32 characters): the same bytes, the same digest. */
  digest: string;
}

export const digestOf = (bytes: Buffer) => createHash('sha256').update(bytes).digest('base64url').slice(0, 32);

export class CaptureFiles {
  /** Files named and not discarded yet. */
  private readonly own = new Set<string>();

  constructor(readonly dir: string) {}

  /** A new file's path for `format`, owned until discarded (a write that fails still leaves it to discard). */
  create(format: OutputFormat): string {
    const path = join(this.dir, `${CAPTURE_PREFIX}${randomUUID()}.${spec(format).extension}`);
    this.own.add(path);
    return path;
  }

  /** Writes `bytes` as a new file; its digest is taken from the bytes as written (the ETag). */
  async write(format: OutputFormat, bytes: Buffer): Promise<CaptureFile> {
    const path = this.create(format);
    try {
      await writeFile(path, bytes);
    } catch (err) {
      await this.discard(path);
      throw err;
    }
    return { path, size: bytes.length, digest: digestOf(bytes) };
  }

  read(path: string): Promise<Buffer> {
    return readFile(path);
  }

  /** The file as a stream; it is discarded when the stream closes (ended, failed or destroyed). */
  stream(path: string): ReadStream {
    const stream = createReadStream(path);
    stream.once('close', () => void this.discard(path));
    return stream;
  }

  /** Removes one of our files (gone already is fine): one unlink, where rm would stat it first. */
  async discard(path: string): Promise<void> {
    this.own.delete(path);
    await unlink(path).catch(() => undefined);
  }

  /** Removes every file of ours still on disk; returns how many there were. */
  async discardAll(): Promise<number> {
    const paths = [...this.own];
    const there = await Promise.all(
      paths.map((p) =>
        stat(p).then(
          () => true,
          () => false,
        ),
      ),
    );
    await Promise.all(paths.map((p) => this.discard(p)));
    return there.filter(Boolean).length;
  }
}
