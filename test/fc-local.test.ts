/**
 * The built artefacts, run through the FC-faithful harness (`npm run fc:local`): stand-in /opt from
 * the zips, the code package's entry point, exactly s.yaml's environment. Proves the layer's own
 * Chromium and NSS are what runs, that CJK text and emoji render as real glyphs, that TLS works
 * with the layer's NSS, and that s.yaml agrees with the fc3 rules and with what was built.
 */
import { existsSync, readFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocal, underStandIn, type LocalFunction } from '../fc/harness/fc-local.js';
import { TARGETS } from '../fc/layers/targets.js';
import { BUILD, ROOT } from '../fc/paths.js';
import { loadFunctionSpec } from '../fc/s-yaml.js';
import { loadConfig } from '../src/config.js';
import { FORMATS, spec as formatSpec } from '../src/formats.js';
import { startFixtures, type FixtureServer } from './helpers/fixtures.js';
import { expectRealGlyphs, glyphPages } from './helpers/glyphs.js';
import { rgbPixels } from './helpers/pixels.js';
import { makeTestCert } from './corpus/cert.js';
import { layerChromiumOf } from './helpers/processes.js';

let fixtures: FixtureServer;
let fn: LocalFunction;
let tlsServer: https.Server;
let tlsPort: number;

beforeAll(async () => {
  fixtures = await startFixtures(glyphPages());
  const { key, cert } = await makeTestCert(['127.0.0.1'], { cn: '127.0.0.1', rsa: true });
  tlsServer = https.createServer({ key, cert }, (_q, s) => s.end('tls'));
  await new Promise<void>((r) => tlsServer.listen(0, '127.0.0.1', r));
  tlsPort = (tlsServer.address() as AddressInfo).port;
  fn = await startLocal({
    port: 0,
    extraEnv: { EGRESS_ALLOW: `${fixtures.allowEntry},127.0.0.1:${tlsPort}`, LOG_LEVEL: 'info' },
  });
});

afterAll(async () => {
  expect(await fn.stop()).toBe(0);
  await fixtures.close();
  tlsServer.close();
});

const shoot = (query: Record<string, string>) => fetch(`http://127.0.0.1:${fn.port}/?${new URLSearchParams(query)}`);

async function raw(path: string) {
  const res = await shoot({ url: `${fixtures.origin}${path}`, width: '120', height: '120' });
  expect(res.status).toBe(200);
  return rgbPixels(Buffer.from(await res.arrayBuffer()));
}

describe('the function under the harness', () => {
  it('runs the layer’s Chromium with the layer’s NSS mapped, not the system’s', async () => {
    const pid = await layerChromiumOf(fn);
    expect(pid).toBeDefined();
    const maps = readFileSync(`/proc/${pid}/maps`, 'utf8');
    expect(maps).toContain(join(fn.layout.opt, 'lib', 'libnss3.so'));
    expect(maps).toContain(join(fn.layout.opt, 'lib', 'libnspr4.so'));
    expect(maps).not.toMatch(/\/usr\/lib\/x86_64-linux-gnu\/libnss3\.so/);
    expect(fn.output()).toContain(`"source":"CHROMIUM_PATH","path":"${join(fn.layout.opt, 'chromium', 'chromium')}"`);
  });

  it('renders Chinese, Japanese, Korean and emoji as real glyphs, not boxes', async () => {
    await expectRealGlyphs(raw);
  });

  it('speaks TLS through the layer’s NSS: a self-signed site fails on its certificate, not on the crypto', async () => {
    for (const f of ['libsoftokn3.so', 'libfreeblpriv3.so', 'libnssckbi.so', 'libnssutil3.so']) {
      expect(existsSync(join(fn.layout.opt, 'lib', f)), f).toBe(true);
    }
    const res = await shoot({ url: `https://127.0.0.1:${tlsPort}/` });
    expect(res.status).toBe(502);
    expect((await res.json()).message).toMatch(/ERR_CERT_AUTHORITY_INVALID/);
  });

  it('captures with every image format through the bundled code and the deps layer’s sharp', async () => {
    for (const format of FORMATS.filter((f) => !formatSpec(f).printed)) {
      const res = await shoot({ url: `${fixtures.origin}/red`, width: '100', height: '80', format });
      expect(res.status, format).toBe(200);
      const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
      expect([meta.width, meta.height]).toEqual([100, 80]);
    }
    // sharp (loaded on first use) is the layer's: the code's folder has no node_modules above it, as on FC.
    const maps = readFileSync(`/proc/${fn.child.pid}/maps`, 'utf8');
    expect(maps).toMatch(new RegExp(`${join(fn.layout.opt, 'nodejs', 'node_modules')}/@img/sharp-libvips-linux-x64/`));
    expect(fn.layout.code.startsWith(ROOT)).toBe(false);
  });
});

describe('s.yaml', () => {
  const spec = loadFunctionSpec();
  const manifest = JSON.parse(
    readFileSync(join(BUILD, 'layers', 'chromium-custom.debian12', 'chromium', 'manifest.json'), 'utf8'),
  );

  it('follows the fc3 rules', () => {
    expect(Object.keys(TARGETS)).toContain(spec.runtime);
    expect(spec.runtime.startsWith('custom')).toBe(true);
    expect(spec.memorySize).toBe(1024);
    expect(spec.memorySize % 64).toBe(0);
    expect(spec.timeout * 1000).toBeGreaterThan(loadConfig({ ...spec.env } as NodeJS.ProcessEnv).requestTimeoutMs);
    expect(spec.instanceConcurrency).toBeGreaterThanOrEqual(1);
    expect(spec.layers.length).toBeLessThanOrEqual(5);
    expect(spec.triggers[0]!.triggerType).toBe('http');
    expect(spec.triggers[0]!.triggerConfig.methods).toEqual(expect.arrayContaining(['GET', 'HEAD']));
  });

  it('starts the server on the port the server listens on by default', () => {
    expect(spec.port).toBe(loadConfig({}).port);
    expect(spec.command.join(' ')).toMatch(/server\.cjs$/);
    expect(existsSync(join(BUILD, 'code', 'server.cjs'))).toBe(true);
  });

  it('names only paths that exist inside the built layers', () => {
    const opt = fn.layout.opt;
    const paths = [
      spec.env.CHROMIUM_PATH!,
      spec.env.FONTCONFIG_FILE!,
      spec.env.NODE_PATH!,
      ...spec.env.LD_LIBRARY_PATH!.split(':'),
      spec.command[0]!,
    ];
    for (const p of paths) {
      expect(p.startsWith('/opt/'), p).toBe(true);
      expect(existsSync(underStandIn(p, opt)), p).toBe(true);
    }
    expect(existsSync(join(opt, 'nodejs', 'node_modules', 'puppeteer-core'))).toBe(true);
    expect(manifest.target).toBe(spec.runtime);
  });

  it('the code package stays tiny and the manifest accounts for every file', () => {
    expect(readFileSync(join(BUILD, 'code.zip')).length).toBeLessThan(1 << 20);
    expect(manifest.files.length).toBeGreaterThan(10);
    for (const f of manifest.files) expect(f.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(manifest.files.map((f: { path: string }) => f.path)).toEqual(
      expect.arrayContaining([
        'chromium/chromium',
        'lib/libnss3.so',
        'fonts/fonts.conf',
        'fonts/NotoSansCJK-Regular.ttc',
        'fonts/NotoColorEmoji.ttf',
      ]),
    );
  });
});
