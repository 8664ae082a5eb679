/**
 * The capture options against real Chromium, framing and emulation: full page in slices, lazy content,
 * element and clip capture, transparency, devices, dark mode, time zone and locale.
 */
import { KnownDevices } from 'puppeteer-core';
import request from 'supertest';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { FORMATS, spec } from '../src/formats.js';
import { pixelAt, rgbAt } from './helpers/pixels.js';

import { fixtures, svc, seen, get, BANDS, bandRgb, setUpFeatureSuite } from './helpers/feature-suite.js';

setUpFeatureSuite();

/** The /bands page whole: 30 000 px, past the 16384-pixel texture limit. */
const allBands = (extra: Record<string, string> = {}) =>
  get({ url: `${fixtures.origin}/bands`, width: 200, height: 300, fullPage: true, fullPageMaxHeight: 30000, ...extra });

describe('framing', () => {
  it('fullPage beyond the 16384-pixel texture limit comes out whole, band by band, no band repeated', async () => {
    const res = await allBands();
    expect(res.status).toBe(200);
    const meta = await sharp(res.body).metadata();
    expect([meta.width, meta.height]).toEqual([200, 30000]);
    for (let i = 0; i < BANDS.length; i++) {
      expect(await rgbAt(res.body, 100, i * 5000 + 2500), `band ${i}`).toEqual(bandRgb(BANDS[i]!));
      expect(await rgbAt(res.body, 100, i * 5000 + 10), `band ${i} top`).toEqual(bandRgb(BANDS[i]!));
    }
    expect(await rgbAt(res.body, 100, 29999), 'bottom stripe').toEqual(bandRgb(BANDS[5]!));
  });

  it('jpeg: a full page past the texture limit joined from bands, an element as one screenshot, framed like PNG', async () => {
    const near = (got: number[], want: number[]) => got.every((v, i) => Math.abs(v - want[i]!) <= 12);
    const tall = await allBands({ format: 'jpeg' });
    expect(tall.headers['content-type']).toBe('image/jpeg');
    const meta = await sharp(tall.body).metadata();
    expect([meta.width, meta.height]).toEqual([200, 30000]);
    for (let i = 0; i < BANDS.length; i++) {
      const rgb = await rgbAt(tall.body, 100, i * 5000 + 2500);
      expect(near(rgb, bandRgb(BANDS[i]!)), `band ${i}: ${rgb}`).toBe(true);
    }
    const box = await get({ url: `${fixtures.origin}/box`, selector: '#box', width: 400, height: 300, format: 'jpeg' });
    const px = await pixelAt(box.body, 60, 40);
    expect([px.width, px.height]).toEqual([120, 80]);
    expect(near(px.rgba.slice(0, 3), [0, 0, 255]), `${px.rgba}`).toBe(true);
  });

  it('fullPage stops at fullPageMaxHeight and says so', async () => {
    const res = await get({
      url: `${fixtures.origin}/bands`,
      width: 100,
      height: 300,
      fullPage: true,
      fullPageMaxHeight: 6000,
    });
    expect((await sharp(res.body).metadata()).height).toBe(6000);
    expect(res.headers['x-truncated']).toBe('fullPageMaxHeight=6000');
  });

  it('fullPage loads lazy content first', async () => {
    const res = await get({ url: `${fixtures.origin}/lazy`, width: 300, height: 400, fullPage: true });
    expect((await sharp(res.body).metadata()).height).toBe(3400);
    expect(await rgbAt(res.body, 150, 3200)).toEqual([0, 255, 0]);
    expect(await rgbAt(res.body, 150, 10)).toEqual([255, 255, 255]);
  });

  it('selector captures one element, even below the fold; a missing one is 404', async () => {
    const res = await get({ url: `${fixtures.origin}/box`, selector: '#box', width: 400, height: 300 });
    expect(res.status).toBe(200);
    const px = await pixelAt(res.body, 60, 40);
    expect([px.width, px.height]).toEqual([120, 80]);
    expect(px.rgba.slice(0, 3)).toEqual([0, 0, 255]);
    const missing = await request(svc.app.server)
      .get('/')
      .query({ url: `${fixtures.origin}/box`, selector: '#nope' });
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ error: 'not_found', field: 'selector' });
  });

  it('clip captures a rectangle of the page', async () => {
    const res = await get({ url: `${fixtures.origin}/box`, clip: '40,1190,60,40', width: 400, height: 300, scale: 2 });
    const px = await pixelAt(res.body, 110, 70);
    expect([px.width, px.height]).toEqual([120, 80]);
    expect(px.rgba.slice(0, 3)).toEqual([0, 0, 255]);
    expect(await rgbAt(res.body, 2, 2)).toEqual([255, 255, 255]);
  });

  it('omitBackground gives transparency in every format that keeps it', async () => {
    for (const format of FORMATS.filter((f) => spec(f).transparency && !spec(f).printed)) {
      const res = await get({
        url: `${fixtures.origin}/transparent`,
        omitBackground: true,
        format,
        width: 100,
        height: 100,
      });
      expect((await pixelAt(res.body, 90, 90)).rgba[3], format).toBe(0);
      expect((await pixelAt(res.body, 10, 10)).rgba[3], format).toBe(255);
    }
  });
});

describe('device and media', () => {
  it('device presets set viewport, scale and user agent', async () => {
    const res = await get({ url: `${fixtures.origin}/ua`, device: 'iPhone 15' });
    const vp = KnownDevices['iPhone 15'].viewport;
    const meta = await sharp(res.body).metadata();
    expect([meta.width, meta.height]).toEqual([vp.width * vp.deviceScaleFactor!, vp.height * vp.deviceScaleFactor!]);
    expect(seen.ua!.at(-1)!['user-agent']).toContain('iPhone');
  });

  it('the screen is as large as the viewport (screen.width, device-width media queries)', async () => {
    // Green only where the page sees a screen of exactly the viewport's size.
    const page = (w: number, h: number) => `<body style="margin:0"><script>
      const ok = screen.width === ${w} && screen.height === ${h} && matchMedia('(device-width: ${w}px)').matches;
      document.body.style.background = ok ? '#0f0' : '#f00';
    </script></body>`;
    for (const [width, height] of [
      [1280, 800],
      [1920, 1080],
      [375, 667],
    ] as const) {
      const res = await request(svc.app.server)
        .post('/')
        .send({ html: page(width, height), width, height });
      expect(res.status).toBe(200);
      expect(await rgbAt(res.body, 5, 5), `${width} × ${height}`).toEqual([0, 255, 0]);
    }
  });

  it('darkMode, reducedMotion, timezone and locale reach the page', async () => {
    expect(
      await rgbAt((await get({ url: `${fixtures.origin}/dark`, darkMode: true, width: 50, height: 50 })).body, 25, 25),
    ).toEqual([0, 0, 0]);
    expect(await rgbAt((await get({ url: `${fixtures.origin}/dark`, width: 50, height: 50 })).body, 25, 25)).toEqual([
      255, 255, 255,
    ]);
    expect(
      await rgbAt(
        (await get({ url: `${fixtures.origin}/motion`, reducedMotion: true, width: 50, height: 50 })).body,
        25,
        25,
      ),
    ).toEqual([0, 255, 0]);
    expect(await rgbAt((await get({ url: `${fixtures.origin}/motion`, width: 50, height: 50 })).body, 25, 25)).toEqual([
      255, 0, 0,
    ]);
    const tz = await get({
      url: `${fixtures.origin}/tz`,
      timezone: 'Asia/Shanghai',
      locale: 'zh-CN',
      width: 50,
      height: 50,
    });
    expect(await rgbAt(tz.body, 25, 25)).toEqual([0, 255, 0]);
  });

  it('locale is sent as Accept-Language', async () => {
    await get({ url: `${fixtures.origin}/ua`, locale: 'ja-JP', width: 50, height: 50 });
    expect(seen.ua!.at(-1)!['accept-language']).toContain('ja-JP');
  });
});
