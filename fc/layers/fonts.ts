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

const SANS = 'Liberation Sans';
const SERIF = 'Liberation Serif';
const MONO = 'Liberation Mono';
const CJK = 'Noto Sans CJK SC';
const EMOJI = 'Noto Color Emoji';

/**
 * The face each family a page may ask for resolves to: every CSS generic family, the system-font
 * keywords and stacks of the common CSS frameworks (system-ui, -apple-system, Segoe UI, Roboto, …,
 * as Tailwind's and Bootstrap's defaults start), the platforms' own faces, Chinese ones included.
 * Chromium takes a substitute only when fontconfig puts it first (`prefer`): an `accept` is refused
 * unless Chromium itself knows the pair as metric-compatible, and the page's next family is tried.
 */
export const FAMILY_FACES: Record<string, string[]> = {
  [SANS]: [
    'sans-serif',
    'sans',
    'system-ui',
    'ui-sans-serif',
    'ui-rounded',
    '-apple-system',
    'BlinkMacSystemFont',
    'Segoe UI',
    'Segoe UI Variable',
    'Roboto',
    'Helvetica',
    'Helvetica Neue',
    'Arial',
    'Verdana',
    'Tahoma',
    'Open Sans',
    'Noto Sans',
    'Ubuntu',
    'Cantarell',
    'Fira Sans',
    'Droid Sans',
    'DejaVu Sans',
    'San Francisco',
    'SF Pro Text',
    'SF Pro Display',
    // cursive and fantasy: Chromium asks for its defaults (Comic Sans MS, Impact); the set has neither
    'cursive',
    'fantasy',
    'Comic Sans MS',
    'Impact',
  ],
  [SERIF]: [
    'serif',
    'ui-serif',
    'math',
    'Times New Roman',
    'Times',
    'Georgia',
    'Cambria',
    'DejaVu Serif',
    'Noto Serif',
  ],
  [MONO]: [
    'monospace',
    'ui-monospace',
    'SFMono-Regular',
    'SF Mono',
    'Menlo',
    'Monaco',
    'Consolas',
    'Liberation Mono',
    'Courier New',
    'Courier',
    'DejaVu Sans Mono',
    'Roboto Mono',
  ],
  [CJK]: [
    'PingFang SC',
    'PingFang TC',
    'Hiragino Sans GB',
    'Microsoft YaHei',
    'Microsoft JhengHei',
    'SimSun',
    'SimHei',
    'STHeiti',
    'Heiti SC',
    'Source Han Sans SC',
    'Noto Sans SC',
    'WenQuanYi Micro Hei',
  ],
  [EMOJI]: ['emoji', 'Apple Color Emoji', 'Segoe UI Emoji', 'Segoe UI Symbol', 'Noto Emoji', 'Android Emoji'],
};

/** What follows a face, for the characters it lacks. */
const FALLBACKS: Record<string, string[]> = {
  [SANS]: [CJK, EMOJI],
  [SERIF]: [CJK, EMOJI],
  [MONO]: ['Noto Sans Mono CJK SC', EMOJI],
  [CJK]: [SANS, EMOJI],
  [EMOJI]: [],
};

/**
 * fontconfig for the font folder: the fonts next to this file (a relative dir, so it works wherever
 * the folder is), each family of FAMILY_FACES preferring its face, and any other family falling back
 * to sans-serif, as a system's own conf.d does (no system conf.d is read).
 */
export function fontSetConf(): string {
  const family = (f: string) => `<family>${f.replace(/&/g, '&amp;')}</family>`;
  const aliases = Object.entries(FAMILY_FACES).flatMap(([face, names]) =>
    names
      .filter((name) => name !== face)
      .map(
        (name) =>
          `  <alias binding="same">${family(name)}<prefer>${[face, ...FALLBACKS[face]!].map(family).join('')}</prefer></alias>`,
      ),
  );
  const lastResort = [
    '  <match target="pattern">',
    '    <test qual="all" name="family" compare="not_eq"><string>sans-serif</string></test>',
    '    <test qual="all" name="family" compare="not_eq"><string>serif</string></test>',
    '    <test qual="all" name="family" compare="not_eq"><string>monospace</string></test>',
    '    <edit name="family" mode="append_last"><string>sans-serif</string></edit>',
    '  </match>',
  ];
  return fontsConf([], '/tmp/fontconfig-cache').replace(
    '</fontconfig>',
    ['  <dir prefix="relative">.</dir>', ...aliases, ...lastResort, '</fontconfig>'].join('\n'),
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
