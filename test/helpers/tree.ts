/** A folder's contents as one comparable value: every path with its type, mode, symlink target or SHA-256. */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { treeEntries } from '../../fc/layers/zip.js';

export function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of treeEntries(root)) {
    const what =
      e.type === 'file'
        ? createHash('sha256')
            .update(readFileSync(join(root, e.path)))
            .digest('hex')
        : e.type === 'symlink'
          ? `-> ${e.link}`
          : '';
    // A symlink's own mode means nothing on Linux (always 0777): only its target is compared.
    out[e.path] = e.type === 'symlink' ? what : `${e.type} ${e.mode.toString(8)} ${what}`.trim();
  }
  return out;
}

/** Whether `tool` is on this PATH (tests that compare with a system tool skip that comparison where it is not). */
export function onPath(tool: string, path = process.env.PATH ?? ''): boolean {
  return path
    .split(':')
    .filter(Boolean)
    .some((dir) => {
      try {
        return statSync(join(dir, tool)).isFile();
      } catch {
        return false;
      }
    });
}
