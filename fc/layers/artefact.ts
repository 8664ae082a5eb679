/**
 * What the layer builder makes: an artefact is a tree laid out as FC unpacks it, and its zip. A zip
 * is made again only when the tree's content (paths, sizes, SHA-256) differs from what the last one
 * was made from.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';

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

/** Zips `tree` (or only its top-level `entries`) into `zip` unless the content is what the last zip was made from. */
export function zipTree(tree: string, zip: string, log: (l: string) => void, entries = ['.']): number {
  const files = entries.flatMap((e) => fileList(join(tree, e)).map((f) => ({ ...f, path: join(e, f.path) })));
  const digest = createHash('sha256').update(JSON.stringify(files)).digest('hex');
  const stamp = `${zip}.sha256`;
  if (existsSync(zip) && existsSync(stamp) && readFileSync(stamp, 'utf8') === digest) {
    log(`  ${basename(zip)} unchanged`);
  } else {
    rmSync(zip, { force: true });
    log(`  zipping ${basename(zip)} …`);
    execFileSync('zip', ['-q', '-r', '-X', zip, ...entries], { cwd: tree });
    writeFileSync(stamp, digest);
  }
  return statSync(zip).size;
}
