/**
 * `npm run proof:bare-debian`: "it ran locally but failed on FC", checked on a root
 * that has none of Chromium's dependencies.
 *
 * A minimal Debian root of the target release is made with debootstrap (minbase: no NSS, no fonts,
 * no fontconfig), the built zips are laid in as FC lays them (/opt from the layers, /code from the
 * code package, Node.js from our node layer), and the function is started inside
 * it with chroot and exactly s.yaml's environment. A page with CJK text is captured from outside.
 * Needs root, debootstrap (apt-get install debootstrap) and the chroot's own tools (mount, chroot, tar
 * to keep the root between runs); the zips are unpacked in node (fc/layers/zip.ts). The mirror is the
 * build's (fc/layers/apt-index.ts).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { debianMirror } from '../layers/apt-index.js';
import { buildAll } from '../layers/build.js';
import { extractZip } from '../layers/zip.js';
import { BUILD } from '../paths.js';
import { loadFunctionSpec } from '../s-yaml.js';

const sh = (cmd: string, args: string[]) =>
  execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });

/** A minbase root for `suite`, made once and kept as a tarball in the cache. */
function bareRoot(suite: string, dest: string, cache: string): void {
  const tarball = join(cache, `bare-${suite}.tar`);
  if (!existsSync(tarball)) {
    console.log(`[root] debootstrap --variant=minbase ${suite} (once; cached afterwards)`);
    const tmp = `${dest}.debootstrap`;
    rmSync(tmp, { recursive: true, force: true });
    const debootstrap = existsSync('/usr/sbin/debootstrap') ? '/usr/sbin/debootstrap' : 'debootstrap';
    sh(debootstrap, ['--variant=minbase', suite, tmp, debianMirror()]);
    mkdirSync(cache, { recursive: true });
    sh('tar', ['-C', tmp, '-cf', tarball, '.']);
    rmSync(tmp, { recursive: true, force: true });
  }
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(dest, { recursive: true });
  sh('tar', ['-C', dest, '-xf', tarball]);
}

export async function proveOnBareDebian(): Promise<{ png: string; width: number; height: number }> {
  const spec = loadFunctionSpec();
  const built = await buildAll({ target: spec.runtime, log: (l) => console.log(l) });
  const cache = process.env.FCSHOT_CACHE_DIR || join(homedir(), '.cache', 'fc-screenshot');
  const root = join(BUILD, 'bare-root');
  bareRoot(built.target.suite, root, cache);

  for (const lib of ['libnss3.so', 'libnspr4.so']) {
    if (existsSync(join(root, 'usr/lib/x86_64-linux-gnu', lib)))
      throw new Error(`the bare root has ${lib}; it is not bare`);
  }
  console.log('[lay out] the layers (Node.js among them) into /opt, the code package into /code');
  for (const layer of built.layers!) await extractZip(layer.zip, join(root, 'opt'));
  await extractZip(built.code!.zip, join(root, 'code'));

  const page =
    '<!doctype html><meta charset="utf-8"><body style="margin:0;background:#0a0;font:48px sans-serif">函数计算 関数 함수 OK</body>';
  const fixture = http.createServer((_q, s) =>
    s.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page),
  );
  await new Promise<void>((r) => fixture.listen(0, '127.0.0.1', r));
  const fixturePort = (fixture.address() as AddressInfo).port;

  mkdirSync(join(root, 'dev/shm'), { recursive: true });
  sh('mount', ['-t', 'proc', 'proc', join(root, 'proc')]);
  sh('mount', ['-t', 'tmpfs', 'shm', join(root, 'dev/shm')]);
  const port = 9000 + Math.floor(Math.random() * 500);
  const [cmd, ...args] = spec.command;
  const child = spawn('/usr/sbin/chroot', [root, '/bin/sh', '-c', `cd /code && exec ${[cmd, ...args].join(' ')}`], {
    env: {
      PATH: '/usr/bin:/bin',
      ...spec.env,
      FC_CUSTOM_LISTEN_PORT: String(port),
      EGRESS_ALLOW: `127.0.0.1:${fixturePort}`,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.once('error', (err) => (out += `\n${err.message}`));
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  try {
    const deadline = Date.now() + 30_000;
    while (!/chromium launched|chromium failed/.test(out) && Date.now() < deadline && child.exitCode === null) {
      await new Promise((r) => setTimeout(r, 200));
    }
    if (!/chromium launched/.test(out)) throw new Error(`the function did not start inside the bare root:\n${out}`);
    console.log('[capture] a CJK page, from outside the root');
    const res = await fetch(
      `http://127.0.0.1:${port}/?url=${encodeURIComponent(`http://127.0.0.1:${fixturePort}/`)}&width=640&height=120`,
    );
    if (res.status !== 200) throw new Error(`capture answered ${res.status}: ${await res.text()}\n${out}`);
    const body = Buffer.from(await res.arrayBuffer());
    const png = join(BUILD, 'bare-debian-proof.png');
    writeFileSync(png, body);
    const meta = await sharp(body).metadata();
    const { data } = await sharp(body).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const corner = [...data.subarray(data.length - 3)];
    if (meta.width !== 640 || meta.height !== 120 || corner.join() !== '0,170,0') {
      throw new Error(`unexpected capture: ${meta.width}×${meta.height}, bottom-right pixel ${corner.join(',')}`);
    }
    console.log(
      `[ok] ${meta.width}×${meta.height} ${meta.format} from Chromium in a bare Debian ${built.target.suite} root → ${png}`,
    );
    return { png, width: meta.width!, height: meta.height! };
  } finally {
    if (child.exitCode === null && child.pid) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    fixture.close();
    sh('umount', [join(root, 'dev/shm')]);
    sh('umount', [join(root, 'proc')]);
    rmSync(root, { recursive: true, force: true });
  }
}

const isMain = process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  proveOnBareDebian().catch((err: Error) => {
    console.error(`\nproof failed: ${err.message}`);
    process.exit(1);
  });
}
