/**
 * A Debian suite's package index, fetched over HTTP and verified the way apt verifies it: the suite's
 * InRelease must carry a good OpenPGP signature by one of Debian's archive keys committed in
 * fc/layers/keys/, and main/binary-amd64/Packages.gz must have the SHA-256 that signed file lists.
 * The index is cached under the build cache (a rebuild downloads nothing) and verified again on
 * every use. The mirror is FCSHOT_DEBIAN_MIRROR, else the one this machine's apt configuration uses
 * for Debian; no mirror is written into this repository.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { readCleartextMessage, readKeys, verify, type Key } from 'openpgp';

/**
 * The archive keys, exported armored from Debian's debian-archive-keyring package. Debian signs each
 * suite's InRelease with the automatic signing keys of the current and the previous release and with
 * the suite's stable release key; one good signature by any of these is enough:
 *   debian-archive-bookworm-automatic.asc  B8B8 0B5B 623E AB6A D877 5C45 B7C5 D7D6 3509 47F8 (12/bookworm;
 *                                          signing subkey 4CB5 0190 207B 4758 A3F7 3A79 6ED0 E7B8 2643 E131)
 *   debian-archive-bookworm-stable.asc     4D64 FEC1 19C2 0290 67D6 E791 F8D2 585B 8783 D481 (Stable Release Key 12)
 *   debian-archive-bullseye-automatic.asc  1F89 983E 0081 FDE0 18F3 CC96 73A4 F27B 8DD4 7936 (11/bullseye;
 *                                          signing subkey A723 6886 F3CC CAAD 148A 27F8 0E98 404D 386F A1D9)
 *   debian-archive-bullseye-stable.asc     A428 5295 FC7B 1A81 6000 62A9 605C 66F0 0D6C 9793 (Stable Release Key 11)
 */
export const KEYS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'keys');

export const MIRROR_SETTING = 'FCSHOT_DEBIAN_MIRROR';

const listDir = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []);

/** The Debian mirror this machine's apt already uses for its main archive, if any. */
export function aptMirror(etc = '/etc/apt'): string | undefined {
  const files = [
    join(etc, 'sources.list'),
    ...listDir(join(etc, 'sources.list.d')).map((f) => join(etc, 'sources.list.d', f)),
  ];
  for (const file of files) {
    if (!existsSync(file)) continue;
    const text = readFileSync(file, 'utf8');
    // The main archive's folder ends in /debian, with or without a trailing slash (not /debian-security).
    const uri =
      /^URIs:\s*(\S+\/debian)\/?\s*$/m.exec(text)?.[1] ??
      /^deb\s+(?:\[[^\]]*\]\s+)?(\S+\/debian)\/?\s/m.exec(text)?.[1];
    if (uri) return uri;
  }
  return undefined;
}

/** FCSHOT_DEBIAN_MIRROR when set, else the apt configuration's Debian mirror; fails naming the setting. */
export function debianMirror(env: NodeJS.ProcessEnv = process.env, etc = '/etc/apt'): string {
  const mirror = env[MIRROR_SETTING]?.trim() || aptMirror(etc);
  if (!mirror) {
    throw new Error(
      `no Debian mirror: this machine's apt configuration names none; set ${MIRROR_SETTING} to a Debian mirror URL (the folder holding dists/ and pool/, e.g. http://MIRROR-HOST/debian)`,
    );
  }
  return mirror.replace(/\/+$/, '');
}

export const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

export async function download(url: string): Promise<Buffer> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

/** Writes `data` to `file` through a temporary name, so a broken download is never taken for a whole one. */
export function writeAtomic(file: string, data: Buffer | string): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.part-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}

let keyring: Promise<Key[]> | undefined;
const archiveKeys = () =>
  (keyring ??= Promise.all(
    readdirSync(KEYS_DIR)
      .filter((f) => f.endsWith('.asc'))
      .map((f) => readKeys({ armoredKeys: readFileSync(join(KEYS_DIR, f), 'utf8') })),
  ).then((sets) => sets.flat()));

/**
 * The text of a clear-signed InRelease whose signature verifies with one of the archive keys;
 * throws otherwise. Returns the signing key IDs too.
 */
export async function verifyInRelease(signed: string): Promise<{ text: string; signedBy: string[] }> {
  const message = await readCleartextMessage({ cleartextMessage: signed });
  const result = await verify({ message, verificationKeys: await archiveKeys() });
  const signedBy: string[] = [];
  for (const sig of result.signatures) {
    try {
      if (await sig.verified) signedBy.push(sig.keyID.toHex().toUpperCase());
    } catch {
      // signed by a key we do not carry (e.g. the next release's), or a bad signature: not counted
    }
  }
  if (!signedBy.length) throw new Error('InRelease has no good signature by a Debian archive key');
  return { text: message.getText(), signedBy };
}

export interface SuiteIndex {
  suite: string;
  mirror: string;
  /** Packages by name, from the verified index (the fields a build needs). */
  packages: Map<string, Stanza>;
}

export type Stanza = Record<string, string>;

/** The SHA-256 the Release text lists for `path`. */
export function releaseHash(release: string, path: string): { sha256: string; size: number } {
  const block = /^SHA256:\n((?:[ \t].*\n?)*)/m.exec(release)?.[1] ?? '';
  for (const line of block.split('\n')) {
    const [hash, size, name] = line.trim().split(/\s+/);
    if (name === path) return { sha256: hash!, size: Number(size) };
  }
  throw new Error(`the signed Release lists no SHA256 for ${path}`);
}

/** Parses a Packages file's stanzas, keeping only packages named in `wanted`. */
export function parsePackages(text: string, wanted: Set<string>): Map<string, Stanza> {
  const found = new Map<string, Stanza>();
  for (const chunk of text.split(/\n\n+/)) {
    const name = /^Package: (\S+)$/m.exec(chunk)?.[1];
    if (!name || !wanted.has(name)) continue;
    const stanza: Stanza = {};
    for (const m of chunk.matchAll(/^([\w-]+):[ \t]*(.*)$/gm)) stanza[m[1]!] = m[2]!;
    if (found.has(name) && found.get(name)!.Version !== stanza.Version) {
      throw new Error(`the index lists ${name} twice (${found.get(name)!.Version}, ${stanza.Version})`);
    }
    found.set(name, stanza);
  }
  return found;
}

const PACKAGES = 'main/binary-amd64/Packages.gz';

/**
 * The verified index of `suite` for the packages in `names`, cached in `dir`; `refresh` fetches the
 * InRelease again (a cached one may point at files the mirror has since dropped).
 */
export async function suiteIndex(suite: string, names: string[], dir: string, refresh = false): Promise<SuiteIndex> {
  const mirror = debianMirror();
  const inReleaseFile = join(dir, 'InRelease');
  if (refresh || !existsSync(inReleaseFile)) {
    writeAtomic(inReleaseFile, await download(`${mirror}/dists/${suite}/InRelease`));
  }
  const { text } = await verifyInRelease(readFileSync(inReleaseFile, 'utf8'));
  const codename = /^Codename:\s*(\S+)$/m.exec(text)?.[1];
  if (codename !== suite) throw new Error(`the InRelease fetched for ${suite} is ${codename}'s`);

  const want = releaseHash(text, PACKAGES);
  const packagesFile = join(dir, `Packages-${want.sha256}.gz`);
  const cached = existsSync(packagesFile) ? readFileSync(packagesFile) : undefined;
  const gz = cached && sha256(cached) === want.sha256 ? cached : await download(`${mirror}/dists/${suite}/${PACKAGES}`);
  if (gz !== cached) {
    if (sha256(gz) !== want.sha256) throw new Error(`${suite} ${PACKAGES}: SHA-256 differs from the signed InRelease`);
    for (const old of listDir(dir).filter((f) => /^Packages-.*\.gz$/.test(f))) rmSync(join(dir, old));
    writeAtomic(packagesFile, gz);
  }
  return { suite, mirror, packages: parsePackages(gunzipSync(gz).toString('utf8'), new Set(names)) };
}
