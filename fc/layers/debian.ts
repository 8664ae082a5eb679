/**
 * Debian's packages for a release, fetched in node from a Debian mirror and unpacked in node: the
 * suite's signed index (fc/layers/apt-index.ts) gives each package's version, pool path and SHA-256;
 * the .deb is fetched, checked against that hash and cached under the build cache
 * (FCSHOT_CACHE_DIR/debian/SUITE), so a rebuild downloads nothing. No apt-get, no dpkg-deb.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { download, sha256, suiteIndex, type Stanza, writeAtomic } from './apt-index.js';
import { unpackDeb } from './deb.js';

export interface DebPackage {
  name: string;
  version: string;
  file: string;
  sha256: string;
}

/** The cached .deb of `stanza` if it is there and whole, else undefined. */
function cachedDeb(file: string, stanza: Stanza): string | undefined {
  return existsSync(file) && sha256(readFileSync(file)) === stanza.SHA256 ? file : undefined;
}

async function fetchDeb(mirror: string, stanza: Stanza, dir: string): Promise<string> {
  const file = join(dir, 'debs', basename(stanza.Filename!));
  if (cachedDeb(file, stanza)) return file;
  const data = await download(`${mirror}/${stanza.Filename}`);
  if (sha256(data) !== stanza.SHA256) throw new Error(`${stanza.Filename}: SHA-256 differs from the signed index`);
  writeAtomic(file, data);
  return file;
}

/**
 * Downloads `names` for `suite` into `${cacheDir}/debian/${suite}` unless already there, and returns
 * each package's version and .deb path.
 */
export async function fetchPackages(names: string[], suite: string, cacheDir: string): Promise<DebPackage[]> {
  const dir = join(cacheDir, 'debian', suite);
  const attempt = async (refresh: boolean) => {
    const index = await suiteIndex(suite, names, dir, refresh);
    const pkgs: DebPackage[] = [];
    for (const name of names) {
      const stanza = index.packages.get(name);
      if (!stanza?.Filename || !stanza.SHA256) throw new Error(`Debian ${suite} has no package ${name}`);
      const file = await fetchDeb(index.mirror, stanza, dir);
      pkgs.push({ name, version: stanza.Version!, file, sha256: stanza.SHA256 });
    }
    return pkgs;
  };
  try {
    return await attempt(false);
  } catch (err) {
    // A cached index may name a .deb the mirror has since replaced (a point release): fetch it anew once.
    if (!/HTTP 404|has no package/.test((err as Error).message)) throw err;
    return attempt(true);
  }
}

/** Unpacks a .deb's file tree into `dest`. */
export async function extractDeb(pkg: DebPackage, dest: string): Promise<void> {
  await unpackDeb(pkg.file, dest);
}
