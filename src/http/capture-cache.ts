/**
 * Caching: a strong ETag from the image's own bytes (a page that changes gets a new one), and an
 * optional capture cache keyed by the normalised options, bounded by bytes (lru-cache): in memory,
 * or as files in CAPTURE_CACHE_DIR when one is configured. A cached capture keeps its ETag, so
 * `If-None-Match` is answered 304 from the cache without a capture, and from a fresh capture only
 * when its bytes are the same.
 */
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, readdirSync, rmSync, type ReadStream } from 'node:fs';
import { copyFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { LRUCache } from 'lru-cache';
import type { CaptureFile } from '../capture-files.js';
import type { CaptureOptions } from '../options.js';

/** JSON with object keys sorted at every depth: one spelling for the same options. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The normalised options that name an image; the request's deadline does not change it. */
export function cacheKey(opts: CaptureOptions): string {
  const { timeout: _timeout, target, ...rest } = opts;
  return createHash('sha256')
    .update(stableJson({ ...rest, target: target?.href }))
    .digest('base64url')
    .slice(0, 32);
}

/** The strong ETag of a capture: the digest of its bytes, quoted. */
export const etagOf = (file: CaptureFile) => `"${file.digest}"`;

/** True when an If-None-Match header names this ETag (or `*`). */
export function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch.split(',').some((tag) => {
    const t = tag.trim().replace(/^W\//, '');
    return t === etag || t === '*';
  });
}

/** An answer kept for the next request with the same options: its bytes (or their file), type, ETag and X- headers. */
export interface CachedAnswer {
  mime: string;
  /** The ETag of these bytes. */
  etag: string;
  size: number;
  headers: Record<string, string>;
  /** In memory, or a file in the cache directory. */
  body?: Buffer;
  file?: string;
}

export interface CaptureCacheOptions {
  maxBytes: number;
  ttlMs: number;
  dir?: string;
}

export class CaptureCache {
  private readonly lru: LRUCache<string, CachedAnswer>;

  constructor(private readonly opts: CaptureCacheOptions) {
    if (opts.dir) {
      mkdirSync(opts.dir, { recursive: true });
      // The index lives in memory: files from an earlier process are unknown to it.
      for (const f of readdirSync(opts.dir))
        if (f.startsWith('fcshot-cache-')) rmSync(join(opts.dir, f), { force: true });
    }
    this.lru = new LRUCache<string, CachedAnswer>({
      maxSize: opts.maxBytes,
      sizeCalculation: (entry) => Math.max(1, entry.size),
      ttl: opts.ttlMs,
      dispose: (entry) => {
        if (entry.file) void unlink(entry.file).catch(() => undefined);
      },
    });
  }

  get(key: string): CachedAnswer | undefined {
    return this.lru.get(key);
  }

  /** Keeps a copy of a capture file before it is streamed (and removed). */
  async put(
    key: string,
    path: string,
    entry: Omit<CachedAnswer, 'body' | 'file'>,
    read: () => Promise<Buffer>,
  ): Promise<void> {
    if (entry.size > this.opts.maxBytes) return;
    if (this.opts.dir) {
      const file = join(this.opts.dir, `fcshot-cache-${key}`);
      await copyFile(path, file);
      this.lru.set(key, { ...entry, file });
    } else {
      this.lru.set(key, { ...entry, body: await read() });
    }
  }

  stream(entry: CachedAnswer): Buffer | ReadStream {
    return entry.body ?? createReadStream(entry.file!);
  }

  /**
   * Answers a request from `entry` without a capture: 304 when the caller already holds these bytes
   * (their ETag is known), else the bytes with the headers they were first answered with.
   */
  answer(entry: CachedAnswer, request: FastifyRequest, reply: FastifyReply, common: Record<string, string>) {
    const hit = { ...common, etag: entry.etag, 'x-cache': 'hit' };
    if (matches(request.headers['if-none-match'], entry.etag)) return reply.code(304).headers(hit).send();
    reply.headers({ ...entry.headers, ...hit, 'content-type': entry.mime, 'content-length': String(entry.size) });
    return reply.send(request.method === 'HEAD' ? undefined : this.stream(entry));
  }

  clear(): void {
    this.lru.clear();
  }
}
