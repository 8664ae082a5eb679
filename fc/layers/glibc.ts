/**
 * The glibc gate: the highest GLIBC_x.y symbol version any packed ELF file needs (read from its
 * version-needs section by fc/layers/elf.ts), compared with what the target runtime has.
 */
import { openSync, readSync, closeSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { versionNeeds } from './elf.js';

export interface GlibcNeed {
  file: string;
  version: string;
}

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function isElf(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(4);
    return readSync(fd, head, 0, 4, 0) === 4 && head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  } finally {
    closeSync(fd);
  }
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return walk(p);
    return e.isFile() && statSync(p).size > 0 ? [p] : [];
  });
}

/** The highest GLIBC version one ELF file asks for, or undefined if it asks for none. */
export function glibcNeededBy(path: string): string | undefined {
  let highest: string | undefined;
  for (const name of versionNeeds(path)) {
    const m = /^GLIBC_(\d+\.\d+(?:\.\d+)?)$/.exec(name);
    if (m && (!highest || compareVersions(m[1]!, highest) > 0)) highest = m[1];
  }
  return highest;
}

/** Every ELF file under `root` with the glibc version it needs, highest first. */
export function glibcNeeds(root: string): GlibcNeed[] {
  const needs: GlibcNeed[] = [];
  for (const file of walk(root)) {
    if (!isElf(file)) continue;
    const version = glibcNeededBy(file);
    if (version) needs.push({ file: relative(root, file), version });
  }
  return needs.sort((a, b) => compareVersions(b.version, a.version));
}

export class GlibcGateError extends Error {}

/** Throws, naming the file, when anything under `root` needs a newer glibc than `available`. */
export function glibcGate(root: string, available: string, runtime: string): GlibcNeed | undefined {
  const needs = glibcNeeds(root);
  const worst = needs[0];
  if (worst && compareVersions(worst.version, available) > 0) {
    const others = needs.filter((n) => compareVersions(n.version, available) > 0).length - 1;
    throw new GlibcGateError(
      `refusing to build for ${runtime}: ${worst.file} needs GLIBC_${worst.version}, but ${runtime} has glibc ${available}` +
        (others > 0 ? ` (and ${others} more file(s) need more than ${available})` : ''),
    );
  }
  return worst;
}
