/**
 * The local default (`npm ci && npm start`, no layer): the embedded Chromium of @sparticuz/chromium
 * renders with the layer's font set, fetched by `npm start`'s font step, so Chinese, Japanese, Korean
 * and emoji come out as real glyphs rather than as blanks or boxes.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureLocalFonts } from '../fc/layers/local-fonts.js';
import { ROOT } from '../fc/paths.js';
import { loadConfig } from '../src/config.js';
import { startFixtures, type FixtureServer } from './helpers/fixtures.js';
import { expectRealGlyphs, glyphPages } from './helpers/glyphs.js';
import { rgbPixels } from './helpers/pixels.js';
import { binary, shutdownClean, startService, type TestService } from './helpers/service.js';

let fixtures: FixtureServer;
let svc: TestService;

beforeAll(async () => {
  // What `npm start` runs before the server, as a command.
  const fontStep = join(ROOT, 'fc/layers/local-fonts.ts');
  execFileSync(process.execPath, ['--import', 'tsx', fontStep], { cwd: ROOT, stdio: 'ignore' });
  fixtures = await startFixtures(glyphPages());
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
  return rgbPixels(res.body as Buffer);
}

describe('the embedded Chromium of a local run', () => {
  it('is the one used, with the layer’s font set', async () => {
    await raw('/glyph-zh');
    const source = svc.browser.source!;
    expect(source.source).toBe('embedded');
    const conf = await ensureLocalFonts(loadConfig({}).localFontsDir);
    expect(source.env.FONTCONFIG_FILE).toBe(conf);
  });

  it('renders Chinese, Japanese, Korean and emoji as real glyphs: not like a private-use character', async () => {
    await expectRealGlyphs(raw);
  });
});
