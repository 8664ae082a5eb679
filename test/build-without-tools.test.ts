/**
 * `npm run build:fc` needs nothing but Node.js, npm and a Debian mirror reached over HTTP: the whole
 * build runs in a child process whose PATH holds only `node` and `npm` (none of zip, unzip, readelf,
 * dpkg-deb, tar, openssl, pdftoppm reachable), with an empty download cache and the mirror given by
 * FCSHOT_DEBIAN_MIRROR as on a macOS or Ubuntu machine, into a folder of its own; what it makes must
 * be the normal build's, byte for byte.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { aptMirror } from '../fc/layers/apt-index.js';
import { buildAll, type BuildResult } from '../fc/layers/build.js';
import { BUILD, ROOT } from '../fc/paths.js';
import { onPath, snapshot } from './helpers/tree.js';

const TOOLS = ['zip', 'unzip', 'readelf', 'dpkg-deb', 'tar', 'chmod', 'openssl', 'pdftoppm', 'apt-get', 'xz', 'gzip'];
const work = mkdtempSync(join(tmpdir(), 'fcshot-notools-'));
let normal: BuildResult;

/** npm's own entry script, whichever way npm was installed. */
function npmCli(): string {
  if (process.env.npm_execpath?.endsWith('.js')) return process.env.npm_execpath;
  const dir = (process.env.PATH ?? '').split(':').find((d) => onPath('npm', d));
  if (!dir) throw new Error('npm is not on PATH');
  return realpathSync(join(dir, 'npm'));
}

beforeAll(async () => {
  normal = await buildAll({ log: () => undefined }); // the normal build (cached: what the global setup built)
}, 600_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

it('the build with only node and npm on PATH and an empty cache makes the same layers', async () => {
  const bin = join(work, 'bin');
  mkdirSync(bin);
  symlinkSync(process.execPath, join(bin, 'node'));
  symlinkSync(npmCli(), join(bin, 'npm'));
  expect(readdirSync(bin).sort()).toEqual(['node', 'npm']);
  for (const tool of TOOLS) expect(onPath(tool, bin), tool).toBe(false);

  const out = join(work, 'out');
  const mirror = process.env.FCSHOT_DEBIAN_MIRROR || aptMirror();
  expect(mirror, 'this test needs a Debian mirror (FCSHOT_DEBIAN_MIRROR or the apt configuration)').toBeTruthy();
  const started = Date.now();
  // What `npm run build:fc` runs (`tsx fc/layers/build.ts`), started directly: `npm run` itself
  // needs a shell (sh), as every npm script does; the build needs none. Its own npm calls (npm ci for
  // the dependencies layer, npm pack for the node layer) find npm on this PATH.
  const child = spawn(process.execPath, ['--import', 'tsx', 'fc/layers/build.ts', '--out', out], {
    cwd: ROOT,
    env: { ...process.env, PATH: bin, FCSHOT_CACHE_DIR: join(work, 'cache'), FCSHOT_DEBIAN_MIRROR: mirror },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  const code = await new Promise<number | null>((r) => child.on('close', r));
  expect(code, log).toBe(0);
  console.log(`build with node and npm only, empty cache: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  // It really downloaded and unpacked (nothing came from the normal build's cache).
  expect(log).toMatch(/zipping chromium-layer\.zip/);
  expect(readdirSync(join(work, 'cache', 'debian', 'bookworm', 'debs')).length).toBe(6);

  for (const art of [normal.chromium, normal.fonts!, normal.deps!, normal.node!, normal.code!]) {
    const theirs = join(out, basename(art.zip));
    expect(readFileSync(theirs).equals(readFileSync(art.zip)), `${art.name}: ${theirs} differs from ${art.zip}`).toBe(
      true,
    );
  }
  // The trees too, for a readable difference should the zips ever differ: files, bytes, modes, symlinks.
  for (const tree of ['layers/chromium-custom.debian12', 'layers/deps', 'layers/node', 'code']) {
    expect(snapshot(join(out, tree)), tree).toEqual(snapshot(join(BUILD, tree)));
  }
}, 600_000);
