/**
 * What the layer builder makes: an artefact is a tree laid out as FC unpacks it, and its zip. A zip
 * is made again only when the tree's content (paths, sizes, SHA-256) differs from what the last one
 * was made from.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { treeEntries, writeZip, ZIP_FORMAT } from './zip.js';

export interface Artefact {
  name: string;
  zip: string;
  /** The unzipped tree, as FC lays it out. */
  tree: string;
  bytes: number;
}

/** Every file under `dir`, at any depth. */
export function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? walk(p) : [p];
  });
}

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

export function fileList(tree: string) {
  return walk(tree)
    .sort()
    .map((p) => ({ path: relative(tree, p), size: statSync(p).size, sha256: sha256(p) }));
}

/**
 * Zips `tree` (or only its top-level `entries`) into `zip` (fc/layers/zip.ts) unless the content —
 * paths, modes, symlink targets, file hashes — and the zip format are what the last zip was made from.
 */
export async function zipTree(
  tree: string,
  zip: string,
  log: (l: string) => void,
  entries?: string[],
): Promise<number> {
  const list = entries ? entries.flatMap((e) => treeEntries(tree, e)) : treeEntries(tree);
  const content = list.map((e) => (e.type === 'file' ? { ...e, sha256: sha256(join(tree, e.path)) } : e));
  const digest = createHash('sha256').update(ZIP_FORMAT).update(JSON.stringify(content)).digest('hex');
  const stamp = `${zip}.sha256`;
  if (existsSync(zip) && existsSync(stamp) && readFileSync(stamp, 'utf8') === digest) {
    log(`  ${basename(zip)} unchanged`);
  } else {
    rmSync(zip, { force: true });
    log(`  zipping ${basename(zip)} …`);
    await writeZip(tree, zip, entries);
    writeFileSync(stamp, digest);
  }
  return statSync(zip).size;
}
