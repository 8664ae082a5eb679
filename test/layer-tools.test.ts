/**
 * The pieces that replace system tools in the build, each checked against the tool it replaces
 * where that tool exists (the comparison is skipped, not the test, where it does not): the .deb
 * unpacker against `dpkg-deb -x`, our zips against `unzip`, the ELF reader against `readelf -V`,
 * and the signed index against tampering.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCleartextMessage, generateKey, readPrivateKey, sign } from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aptMirror, debianMirror, releaseHash, verifyInRelease } from '../fc/layers/apt-index.js';
import { buildAll, type BuildResult } from '../fc/layers/build.js';
import { unpackDeb, readAr } from '../fc/layers/deb.js';
import { fetchPackages } from '../fc/layers/debian.js';
import { versionNeeds } from '../fc/layers/elf.js';
import { defaultCache } from '../fc/layers/fonts.js';
import { glibcNeededBy } from '../fc/layers/glibc.js';
import { FONT_PACKAGES, LIB_PACKAGES } from '../fc/layers/targets.js';
import { extractZip, treeEntries, writeZip } from '../fc/layers/zip.js';
import { onPath, snapshot } from './helpers/tree.js';

const work = mkdtempSync(join(tmpdir(), 'fcshot-tools-'));
let built: BuildResult;

beforeAll(async () => {
  built = await buildAll({ log: () => undefined }); // cached: what the global setup built
}, 600_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the .deb unpacker', () => {
  const names = [...LIB_PACKAGES, ...FONT_PACKAGES.map((f) => f.name)];

  it('reads the ar archive: debian-binary, control, data', async () => {
    const [pkg] = await fetchPackages(['libnspr4'], 'bookworm', defaultCache());
    const members = readAr(readFileSync(pkg!.file));
    expect(members.map((m) => m.name)).toEqual([
      'debian-binary',
      expect.stringMatching(/^control\.tar/),
      'data.tar.xz',
    ]);
    expect(members[0]!.data.toString()).toBe('2.0\n');
  });

  it.each(['bookworm', 'bullseye'])(
    'gives the same tree as dpkg-deb -x for every package the build takes from %s',
    async (suite) => {
      const pkgs = await fetchPackages(names, suite, defaultCache());
      for (const pkg of pkgs) {
        const ours = join(work, `${suite}-${pkg.name}-node`);
        await unpackDeb(pkg.file, ours);
        const tree = snapshot(ours);
        // Real content: files with their modes and Debian's symlinks.
        expect(Object.keys(tree).length).toBeGreaterThan(3);
        if (onPath('dpkg-deb')) {
          const theirs = join(work, `${suite}-${pkg.name}-dpkg`);
          execFileSync('dpkg-deb', ['-x', pkg.file, theirs]);
          expect(tree, pkg.name).toEqual(snapshot(theirs));
          rmSync(theirs, { recursive: true, force: true });
        }
        rmSync(ours, { recursive: true, force: true });
      }
    },
    300_000,
  );
});

describe('zips', () => {
  /** A small tree with what a layer has: an executable, a read-only file, a symlink, an empty folder. */
  function sampleTree(root: string) {
    mkdirSync(join(root, 'bin'), { recursive: true });
    mkdirSync(join(root, 'empty'), { recursive: true });
    mkdirSync(join(root, 'lib', 'deep'), { recursive: true });
    writeFileSync(join(root, 'bin', 'tool'), '#!/bin/sh\necho hi\n');
    chmodSync(join(root, 'bin', 'tool'), 0o755);
    writeFileSync(join(root, 'lib', 'deep', 'data.txt'), 'x'.repeat(10_000));
    chmodSync(join(root, 'lib', 'deep', 'data.txt'), 0o600);
    symlinkSync('../bin/tool', join(root, 'lib', 'tool-link'));
    symlinkSync('deep', join(root, 'lib', 'deep-link'));
  }

  it('keep modes, symlinks and empty folders through our own extraction, and match unzip', async () => {
    const src = join(work, 'zip-src');
    sampleTree(src);
    const zip = join(work, 'sample.zip');
    await writeZip(src, zip);
    const ours = join(work, 'zip-ours');
    await extractZip(zip, ours);
    expect(snapshot(ours)).toEqual(snapshot(src));
    expect(snapshot(ours)['bin/tool']).toMatch(/^file 755 /);
    expect(snapshot(ours)['lib/tool-link']).toBe('-> ../bin/tool');
    if (onPath('unzip')) {
      const theirs = join(work, 'zip-unzip');
      execFileSync('unzip', ['-q', zip, '-d', theirs]);
      expect(snapshot(theirs)).toEqual(snapshot(ours));
    }
  });

  it('are byte-identical for an unchanged tree, whenever and in whatever order it was made', async () => {
    const a = join(work, 'same-a');
    const b = join(work, 'same-b');
    sampleTree(a);
    await new Promise((r) => setTimeout(r, 1100)); // other mtimes
    sampleTree(b);
    await writeZip(a, join(work, 'a.zip'));
    await writeZip(b, join(work, 'b.zip'));
    expect(readFileSync(join(work, 'a.zip')).equals(readFileSync(join(work, 'b.zip')))).toBe(true);
    writeFileSync(join(b, 'bin', 'tool'), 'changed');
    await writeZip(b, join(work, 'b.zip'));
    expect(readFileSync(join(work, 'a.zip')).equals(readFileSync(join(work, 'b.zip')))).toBe(false);
  });

  it('refuse an entry that would land under a symlink', async () => {
    const src = join(work, 'evil');
    mkdirSync(src, { recursive: true });
    symlinkSync('/tmp', join(src, 'a'));
    const zip = join(work, 'evil.zip');
    await writeZip(src, zip);
    // The same archive with a file added under the link: built by hand from our writer's output.
    const yazl = (await import('yazl')).default;
    const z = new yazl.ZipFile();
    z.addBuffer(Buffer.from('/tmp'), 'a', { mode: 0o120777 });
    z.addBuffer(Buffer.from('pwned'), 'a/x.txt');
    z.end();
    const { createWriteStream } = await import('node:fs');
    const { pipeline } = await import('node:stream/promises');
    await pipeline(z.outputStream, createWriteStream(zip));
    await expect(extractZip(zip, join(work, 'evil-out'))).rejects.toThrow(/under a symlink/);
  });

  it.each(['chromium', 'fonts', 'deps', 'node', 'code'] as const)(
    'the built %s zip unpacks to its tree (and unzip agrees)',
    async (key) => {
      const art = key === 'fonts' ? built.fonts! : key === 'chromium' ? built.chromium : built[key]!;
      const out = join(work, `layer-${key}`);
      await extractZip(art.zip, out);
      const entries = key === 'chromium' ? ['chromium', 'lib'] : key === 'fonts' ? ['fonts'] : undefined;
      const expected = snapshot(art.tree);
      const want = entries
        ? Object.fromEntries(Object.entries(expected).filter(([p]) => entries.some((e) => p.startsWith(`${e}/`))))
        : expected;
      const got = snapshot(out);
      expect(got).toEqual(want);
      if (key === 'chromium') expect(got['chromium/chromium']).toMatch(/^file 755 /);
      if (key === 'node') expect(got['node/bin/node']).toMatch(/^file 755 /);
      if (key === 'deps') expect(Object.values(got).some((v) => v.startsWith('-> '))).toBe(true);
      if (onPath('unzip')) {
        const theirs = join(work, `layer-${key}-unzip`);
        execFileSync('unzip', ['-q', art.zip, '-d', theirs]);
        expect(snapshot(theirs)).toEqual(got);
        rmSync(theirs, { recursive: true, force: true });
      }
      rmSync(out, { recursive: true, force: true });
    },
    120_000,
  );
});

describe('GLIBC needs read from ELF', () => {
  it('agree with readelf -V -W on every ELF file of the Chromium layer and on node', () => {
    const files = [
      ...treeEntries(built.chromium.tree)
        .filter((e) => e.type === 'file')
        .map((e) => join(built.chromium.tree, e.path)),
      join(built.node!.tree, 'node', 'bin', 'node'),
      process.execPath,
    ];
    const elves = files.filter((f) => readFileSync(f).subarray(0, 4).toString('latin1') === '\x7fELF');
    expect(elves.length).toBeGreaterThan(8);
    const needs = Object.fromEntries(elves.map((f) => [f, glibcNeededBy(f)]));
    expect(needs[join(built.chromium.tree, 'lib', 'libnss3.so')]).toMatch(/^2\.\d+$/);
    expect(Object.values(needs).filter(Boolean).length).toBeGreaterThan(8);
    if (!onPath('readelf')) return;
    for (const file of elves) {
      const out = execFileSync('readelf', ['-V', '-W', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
      const section = out.slice(out.indexOf('.gnu.version_r'));
      const names = out.includes('.gnu.version_r')
        ? [...section.matchAll(/Name: (\S+)\s+Flags/g)].map((m) => m[1])
        : [];
      expect(versionNeeds(file), file).toEqual(names);
    }
  });
});

describe('the mirror', () => {
  it('is FCSHOT_DEBIAN_MIRROR when set, else the apt configuration’s; without either the error names the setting', () => {
    const etc = join(work, 'etc-apt');
    mkdirSync(join(etc, 'sources.list.d'), { recursive: true });
    expect(aptMirror(etc)).toBeUndefined();
    expect(() => debianMirror({}, etc)).toThrow(/set FCSHOT_DEBIAN_MIRROR to a Debian mirror URL/);
    expect(debianMirror({ FCSHOT_DEBIAN_MIRROR: 'http://mirror.invalid/debian/' }, etc)).toBe(
      'http://mirror.invalid/debian',
    );
    writeFileSync(
      join(etc, 'sources.list.d', 'debian.sources'),
      'Types: deb\nURIs: http://apt.invalid/debian\nSuites: bookworm\nComponents: main\n',
    );
    expect(debianMirror({}, etc)).toBe('http://apt.invalid/debian');
    expect(debianMirror({ FCSHOT_DEBIAN_MIRROR: 'http://mirror.invalid/debian' }, etc)).toBe(
      'http://mirror.invalid/debian',
    );
    writeFileSync(join(etc, 'sources.list'), 'deb [arch=amd64] http://list.invalid/debian bookworm main\n');
    expect(aptMirror(etc)).toBe('http://list.invalid/debian');
    // as many mirrors write it: a trailing slash, and the security archive beside it (not the main one)
    writeFileSync(
      join(etc, 'sources.list'),
      'deb https://sec.invalid/debian-security bookworm-security main\ndeb https://slash.invalid/debian/ bookworm main\n',
    );
    expect(aptMirror(etc)).toBe('https://slash.invalid/debian');
  });
});

describe('the signed index', () => {
  let inRelease: string;
  beforeAll(() => {
    inRelease = readFileSync(join(defaultCache(), 'debian', 'bookworm', 'InRelease'), 'utf8');
  });

  it("verifies Debian's InRelease with the committed archive keys", async () => {
    const { text, signedBy } = await verifyInRelease(inRelease);
    expect(text).toMatch(/^Codename: bookworm$/m);
    // the bookworm automatic signing subkey and the bookworm stable release key
    expect(signedBy).toEqual(expect.arrayContaining(['6ED0E7B82643E131', 'F8D2585B8783D481']));
    expect(releaseHash(text, 'main/binary-amd64/Packages.gz').sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses an InRelease whose text was changed after signing', async () => {
    const { sha256 } = releaseHash((await verifyInRelease(inRelease)).text, 'main/binary-amd64/Packages.gz');
    const forged = inRelease.replace(
      sha256,
      sha256.replace(/^./, (c) => (c === '0' ? '1' : '0')),
    );
    expect(forged).not.toBe(inRelease);
    await expect(verifyInRelease(forged)).rejects.toThrow(/no good signature/);
  });

  it('refuses an InRelease signed by a key that is not an archive key', async () => {
    const { privateKey } = await generateKey({ type: 'curve25519', userIDs: [{ name: 'not Debian' }] });
    const text = inRelease.slice(inRelease.indexOf('\n\n') + 2, inRelease.indexOf('-----BEGIN PGP SIGNATURE'));
    const signed = await sign({
      message: await createCleartextMessage({ text }),
      signingKeys: await readPrivateKey({ armoredKey: privateKey }),
    });
    await expect(verifyInRelease(signed)).rejects.toThrow(/no good signature/);
  });
});
