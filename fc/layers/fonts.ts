/**
 * The font set Chromium renders with, one set for the layer and for the local run: Liberation
 * (Latin, metric-compatible with Arial / Times New Roman / Courier New), Noto Sans CJK and Noto Color
 * Emoji from a Debian release's packages, copied into one folder with a fonts.conf that finds them
 * wherever that folder is.
 */
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fontsConf } from '../../src/browser/locate.js';
import { cacheDirOf } from '../../src/config.js';
import { walk } from './artefact.js';
import { extractDeb, fetchPackages, type DebPackage } from './debian.js';
import { FONT_PACKAGES } from './targets.js';

/** The build and download cache: FCSHOT_CACHE_DIR, else ~/.cache/fc-screenshot. */
export const defaultCache = () => cacheDirOf(process.env);

/**
 * fontconfig for the font folder: the fonts next to this file (a relative dir, so it works wherever
 * the folder is), the generic families, and the metric-compatible names pages ask for (no system
 * conf.d is read).
 */
export function fontSetConf(): string {
  const generic = [
    ['sans-serif', 'Liberation Sans', 'Noto Sans CJK SC', 'Noto Color Emoji'],
    ['serif', 'Liberation Serif', 'Noto Sans CJK SC', 'Noto Color Emoji'],
    ['monospace', 'Liberation Mono', 'Noto Sans Mono CJK SC', 'Noto Color Emoji'],
    ['emoji', 'Noto Color Emoji'],
  ];
  const sameAs = [
    ['Arial', 'Liberation Sans'],
    ['Helvetica', 'Liberation Sans'],
    ['Times New Roman', 'Liberation Serif'],
    ['Times', 'Liberation Serif'],
    ['Courier New', 'Liberation Mono'],
    ['Courier', 'Liberation Mono'],
  ];
  const family = (f: string) => `<family>${f}</family>`;
  const prefer = (name: string, fonts: string[]) =>
    `  <alias><family>${name}</family><prefer>${fonts.map(family).join('')}</prefer></alias>`;
  const sameAsConf = (name: string, font: string) =>
    `  <alias binding="same">${family(name)}<accept>${family(font)}</accept></alias>`;
  return fontsConf([], '/tmp/fontconfig-cache').replace(
    '</fontconfig>',
    [
      '  <dir prefix="relative">.</dir>',
      ...generic.map(([name, ...fonts]) => prefer(name!, fonts)),
      ...sameAs.map(([name, font]) => sameAsConf(name!, font!)),
      '</fontconfig>',
    ].join('\n'),
  );
}

/**
 * Fetches the font packages of Debian `suite` (cached), copies their font files into `fontsDir` and
 * writes `fontsDir/fonts.conf`. Returns the packages used.
 */
export async function installFontSet(suite: string, cache: string, fontsDir: string): Promise<DebPackage[]> {
  const pkgs = await fetchPackages(
    FONT_PACKAGES.map((f) => f.name),
    suite,
    cache,
  );
  mkdirSync(fontsDir, { recursive: true });
  for (const pkg of pkgs) {
    // Unpacked once per package version (the .deb's name carries it), through a staging name.
    const where = join(cache, 'extract', suite, basename(pkg.file, '.deb'));
    if (!existsSync(where)) {
      const staging = `${where}.part-${process.pid}`;
      rmSync(staging, { recursive: true, force: true });
      await extractDeb(pkg, staging);
      renameSync(staging, where);
    }
    const wanted = FONT_PACKAGES.find((f) => f.name === pkg.name)!.files;
    for (const file of walk(where).filter((f) => wanted.test(f))) copyFileSync(file, join(fontsDir, basename(file)));
  }
  writeFileSync(join(fontsDir, 'fonts.conf'), fontSetConf());
  return pkgs;
}
