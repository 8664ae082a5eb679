/**
 * Debian's packages for a release, fetched with apt-get and unpacked with dpkg-deb, cached by file
 * name under the build cache so a rebuild downloads nothing. For a release other than the
 * machine's own, a private apt state is set up from the machine's own mirror configuration.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface DebPackage {
  name: string;
  version: string;
  file: string;
}

function sh(cmd: string, args: string[], cwd?: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function hostSuite(): string {
  return /VERSION_CODENAME=(\w+)/.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? 'bookworm';
}

/** The mirror this machine's apt already uses for its main archive (never hard-coded here). */
function hostMirror(): string {
  const files = [
    '/etc/apt/sources.list',
    ...listDir('/etc/apt/sources.list.d').map((f) => join('/etc/apt/sources.list.d', f)),
  ];
  for (const file of files) {
    if (!existsSync(file)) continue;
    const text = readFileSync(file, 'utf8');
    const uri =
      /^URIs:\s*(\S+\/debian)\s*$/m.exec(text)?.[1] ?? /^deb\s+(?:\[[^\]]*\]\s+)?(\S+\/debian)\s/m.exec(text)?.[1];
    if (uri) return uri;
  }
  throw new Error('no Debian mirror found in the apt configuration');
}

function listDir(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir) : [];
}

/** apt-get options that point at a private state for `suite` (or none for the host's own suite). */
function aptOptions(suite: string, cacheDir: string): string[] {
  if (suite === hostSuite()) return [];
  const root = join(cacheDir, `apt-${suite}`);
  mkdirSync(join(root, 'lists', 'partial'), { recursive: true });
  mkdirSync(join(root, 'archives', 'partial'), { recursive: true });
  const sources = join(root, 'sources.list');
  if (!existsSync(sources)) writeFileSync(sources, `deb [trusted=yes] ${hostMirror()} ${suite} main\n`);
  const opts = [
    `-o`,
    `Dir::Etc::SourceList=${sources}`,
    `-o`,
    `Dir::Etc::SourceParts=/nonexistent`,
    `-o`,
    `Dir::State::Lists=${join(root, 'lists')}`,
    `-o`,
    `Dir::Cache::Archives=${join(root, 'archives')}`,
    `-o`,
    `Dir::State::Status=/dev/null`,
    `-o`,
    `APT::Sandbox::User=root`,
  ];
  if (!existsSync(join(root, 'updated'))) {
    sh('apt-get', [...opts, 'update', '-qq']);
    writeFileSync(join(root, 'updated'), new Date().toISOString());
  }
  return opts;
}

/**
 * Downloads `names` for `suite` into `${cacheDir}/debs/${suite}` unless already there, and returns
 * each package's version and .deb path.
 */
export function fetchPackages(names: string[], suite: string, cacheDir: string): DebPackage[] {
  const dir = join(cacheDir, 'debs', suite);
  mkdirSync(dir, { recursive: true });
  const cached = () => listDir(dir).filter((f) => f.endsWith('.deb'));
  const find = (name: string) => cached().find((f) => f.startsWith(`${name}_`));
  const missing = names.filter((n) => !find(n));
  if (missing.length) {
    const opts = aptOptions(suite, cacheDir);
    try {
      sh('apt-get', [...opts, '-o', 'APT::Sandbox::User=root', 'download', ...missing], dir);
    } catch (err) {
      if (suite !== hostSuite()) throw err;
      // The host's lists may be missing on a fresh machine: refresh once and retry.
      sh('apt-get', ['update', '-qq']);
      sh('apt-get', ['-o', 'APT::Sandbox::User=root', 'download', ...missing], dir);
    }
  }
  return names.map((name) => {
    const file = find(name);
    if (!file) throw new Error(`apt-get did not fetch ${name} for ${suite}`);
    const version = sh('dpkg-deb', ['-f', join(dir, file), 'Version']).trim();
    return { name, version, file: join(dir, file) };
  });
}

/** Unpacks a .deb's file tree into `dest`. */
export function extractDeb(pkg: DebPackage, dest: string): void {
  mkdirSync(dest, { recursive: true });
  sh('dpkg-deb', ['-x', pkg.file, dest]);
}
