/**
 * The local default (`npm ci && npm start`, no layer): the embedded Chromium of @sparticuz/chromium
 * renders with the layer's font set, fetched by `npm start`'s font step, so Chinese, Japanese, Korean
 * and emoji come out as real glyphs rather than as blanks or boxes.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import request from 'supertest';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureLocalFonts } from '../fc/layers/local-fonts.js';
import { ROOT } from '../fc/paths.js';
import { loadConfig } from '../src/config.js';
import { startFixtures, type FixtureServer } from './helpers/fixtures.js';
import { binary, shutdownClean, startService, type TestService } from './helpers/service.js';

const glyphPage = (text: string) =>
  '<!doctype html><meta charset="utf-8"><style>html,body{margin:0;background:#fff}' +
  `span{font:96px serif;line-height:120px}</style><span>${text}</span>`;
const GLYPHS = { zh: '你', zh2: '好', ja: 'こ', ko: '안', emoji: '😀', pua: '\uE000' };

let fixtures: FixtureServer;
let svc: TestService;

beforeAll(async () => {
  // What `npm start` runs before the server, as a command.
  const fontStep = join(ROOT, 'fc/layers/local-fonts.ts');
  execFileSync(process.execPath, ['--import', 'tsx', fontStep], { cwd: ROOT, stdio: 'ignore' });
  const pages = Object.entries(GLYPHS).map(([k, t]) => [`/glyph-${k}`, glyphPage(t)]);
  fixtures = await startFixtures(Object.fromEntries(pages));
  // The defaults of a local run: no CHROMIUM_PATH, no layer under LAYER_ROOT.
  svc = await startService({ EGRESS_ALLOW: fixtures.allowEntry, LAYER_ROOT: '/nonexistent' });
}, 300_000);

afterAll(async () => {
  await shutdownClean(svc);
  await fixtures.close();
});

async function raw(path: string): Promise<Buffer> {
  const res = await request(svc.app.server)
    .get('/')
    .query({ url: `${fixtures.origin}${path}`, width: 120, height: 120 })
    .buffer(true)
    .parse(binary);
  expect(res.status).toBe(200);
  return sharp(res.body as Buffer)
    .removeAlpha()
    .raw()
    .toBuffer();
}

function differingPixels(a: Buffer, b: Buffer): number {
  let n = 0;
  for (let i = 0; i < a.length; i += 3) {
    if (Math.abs(a[i]! - b[i]!) + Math.abs(a[i + 1]! - b[i + 1]!) + Math.abs(a[i + 2]! - b[i + 2]!) > 60) n++;
  }
  return n;
}
const ink = (a: Buffer) => differingPixels(a, Buffer.alloc(a.length, 255));

describe('the embedded Chromium of a local run', () => {
  it('is the one used, with the layer’s font set', async () => {
    await raw('/glyph-zh');
    const source = svc.browser.source!;
    expect(source.source).toBe('embedded');
    const conf = ensureLocalFonts(loadConfig({}).localFontsDir);
    expect(source.env.FONTCONFIG_FILE).toBe(conf);
  });

  it('renders Chinese, Japanese, Korean and emoji as real glyphs: not like a private-use character', async () => {
    const shots = Object.fromEntries(
      await Promise.all(Object.keys(GLYPHS).map(async (k) => [k, await raw(`/glyph-${k}`)] as const)),
    );
    const real = ['zh', 'zh2', 'ja', 'ko', 'emoji'];
    for (const k of real) {
      expect(ink(shots[k]!), k).toBeGreaterThan(300);
      // a missing glyph is drawn like the private-use character: the same box (or nothing)
      expect(differingPixels(shots[k]!, shots.pua!), `${k} vs private-use`).toBeGreaterThan(300);
    }
    for (let i = 0; i < real.length; i++) {
      for (let j = i + 1; j < real.length; j++) {
        expect(differingPixels(shots[real[i]!]!, shots[real[j]!]!), `${real[i]} vs ${real[j]}`).toBeGreaterThan(200);
      }
    }
  });
});
