/**
 * /proc files read over and over (the memory guard's `statm` and `children` files, every sample while
 * captures run), kept open and read again in place: a pread from offset 0, which makes the kernel
 * write the file anew, instead of an open, a stat, a read and a close each time. On this machine a
 * `statm` read costs a few µs that way against 20–30 µs opened afresh, and several times more under
 * load (at concurrency 4, the guard's reads came to about 4 ms of node's time per capture).
 *
 * An open file follows its process, not its pid: once the process is gone, a read fails (`statm`: the
 * file is closed and the path opened again, for a process that took the pid since, or nothing) or
 * comes back empty (`children`: a process gone has none). A file no read
 * asked for since the last `sweep` is closed there, so files of processes no longer watched do not
 * stay open.
 */
import { closeSync, openSync, readSync } from 'node:fs';

/** A /proc file's text, undefined when there is none (its process is gone). */
export type ReadProc = (path: string) => string | undefined;

/** Opens, reads and closes: for files read once in a while. */
export const readOnce: ReadProc = (path) => {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    return readAll(fd, Buffer.alloc(4096));
  } finally {
    closeSync(fd);
  }
};

/**
 * The whole file from its start; undefined on an error. Read until the end: a file of many records
 * (`children`) may come in more than one read.
 */
function readAll(fd: number, buf: Buffer): string | undefined {
  try {
    let length = 0;
    for (;;) {
      if (length === buf.length) {
        const bigger = Buffer.alloc(buf.length * 2);
        buf.copy(bigger);
        buf = bigger;
      }
      const n = readSync(fd, buf, length, buf.length - length, length);
      if (n === 0) return buf.toString('latin1', 0, length);
      length += n;
    }
  } catch {
    return undefined;
  }
}

export class ProcFiles {
  private readonly open = new Map<string, number>();
  private readonly asked = new Set<string>();
  private readonly buf = Buffer.alloc(4096);

  /** The file's text now; undefined when its process is gone. */
  readonly read: ReadProc = (path) => {
    this.asked.add(path);
    const kept = this.open.get(path);
    if (kept !== undefined) {
      const text = readAll(kept, this.buf);
      if (text !== undefined) return text;
      this.drop(path); // its process ended: the path may name another one now
    }
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch {
      return undefined;
    }
    this.open.set(path, fd);
    const text = readAll(fd, this.buf);
    if (text === undefined) this.drop(path);
    return text;
  };

  /** Closes the files not read since the last sweep. */
  sweep(): void {
    for (const path of [...this.open.keys()]) if (!this.asked.has(path)) this.drop(path);
    this.asked.clear();
  }

  /** Closes every file. */
  close(): void {
    this.asked.clear();
    this.sweep();
  }

  /** Files open now (tests). */
  get size(): number {
    return this.open.size;
  }

  private drop(path: string): void {
    const fd = this.open.get(path);
    this.open.delete(path);
    if (fd !== undefined) closeSync(fd);
  }
}
