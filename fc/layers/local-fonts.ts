/**
 * `npm start`'s font step: the embedded Chromium of @sparticuz/chromium has no Chinese, Japanese or
 * Korean font, so the local run gets the layer's own font set (fc/layers/fonts.ts), fetched once from
 * Debian's packages (fetched and unpacked in node from a Debian mirror, fc/layers/debian.ts) into
 * FCSHOT_CACHE_DIR/local-fonts, where src/browser/locate.ts finds it.
 * When the fonts cannot be fetched, the service still starts, and this says why.
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config.js';
import { MIRROR_SETTING } from './apt-index.js';
import { defaultCache, fontSetConf, installFontSet } from './fonts.js';
import { DEFAULT_TARGET, targetFor } from './targets.js';

type Log = (line: string) => void;

/**
 * Makes sure `dir` holds the layer's font set and its fonts.conf (written last, in a staging folder
 * renamed into place, so a half-done fetch is never taken for a finished one). A fonts.conf an older
 * version wrote is replaced by this version's, the fonts kept. Returns the conf path.
 */
export async function ensureLocalFonts(
  dir: string,
  cache = defaultCache(),
  log: Log = () => undefined,
): Promise<string> {
  const conf = join(dir, 'fonts.conf');
  if (existsSync(conf)) {
    const current = fontSetConf();
    if (readFileSync(conf, 'utf8') !== current) {
      writeFileSync(`${conf}.${process.pid}`, current);
      renameSync(`${conf}.${process.pid}`, conf);
    }
    return conf;
  }
  const { suite } = targetFor(DEFAULT_TARGET);
  log(`[fonts] fetching the layer's fonts (Debian ${suite}) for the local Chromium into ${dir}`);
  const staging = `${dir}.staging-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  try {
    await installFontSet(suite, cache, staging);
    rmSync(dir, { recursive: true, force: true });
    renameSync(staging, dir);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return conf;
}

const isMain = process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const { localFontsDir } = loadConfig();
  ensureLocalFonts(localFontsDir, defaultCache(), (line) => console.log(line)).catch((err: unknown) => {
    const detail = (err as { stderr?: string }).stderr?.trim() || (err as Error).message;
    console.warn(
      `[fonts] could not fetch the CJK and emoji fonts (${detail.split('\n')[0]}); Chinese, Japanese and Korean ` +
        `text will not render. This step needs a Debian mirror (${MIRROR_SETTING}, or this machine's apt configuration).`,
    );
  });
}
