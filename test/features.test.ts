/**
 * The capture options against real Chromium on fixture pages: framing, device and media emulation,
 * waits, page changes, request rules and what is sent to the target only, PDF, POST and raw HTML,
 * caching, the OpenAPI document, and the playground driven in a real browser.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KnownDevices } from 'puppeteer-core';
import puppeteer from 'puppeteer-core';
import request from 'supertest';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unpackEmbedded } from '../src/browser/locate.js';
import { loadConfig } from '../src/config.js';
import { OptionsSchema } from '../src/options.js';
import { colourPage, startFixtures, type FixtureServer } from './helpers/fixtures.js';
import { pixelAt, rgbAt } from './helpers/pixels.js';
import { binary, shutdownClean, startService, withOwnService, type TestService } from './helpers/service.js';

let fixtures: FixtureServer;
let other: FixtureServer;
let svc: TestService;
const seen: Record<string, http.IncomingHttpHeaders[]> = {};

const get = (query: Record<string, string | number | boolean | string[]>) =>
  request(svc.app.server).get('/').query(query).buffer(true).parse(binary);
const post = (body: Record<string, unknown>) => request(svc.app.server).post('/').send(body).buffer(true).parse(binary);


const record = (name: string): http.RequestListener => (req, res) => {
  (seen[name] ??= []).push(req.headers);
  res.writeHead(200, { 'content-type': 'image/svg+xml' }).end('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>');
};

/** Bands of 5000 px in six colours: any repeated or missing band shows. */
const BANDS = ['#ff0000', '#00ff00', '#0000ff', '#ffff00', '#00ffff', '#ff00ff'];
const bandRgb = (hex: string) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));

beforeAll(async () => {
  other = await startFixtures();
  other.route('/pixel.svg', record('third-party'));
  fixtures = await startFixtures({
    '/bands': `<!doctype html><style>html,body{margin:0}div{height:5000px}</style>${BANDS.map((c) => `<div style="background:${c}"></div>`).join('')}`,
    '/lazy': `<!doctype html><style>html,body{margin:0}#far{height:400px;background:#f00}</style><div style="height:3000px;background:#fff"></div><div id="far"></div>
      <script>new IntersectionObserver((es) => es.forEach((e) => { if (e.isIntersecting) e.target.style.background = '#0f0'; })).observe(document.getElementById('far'));</script>`,
    '/box': `<!doctype html><style>html,body{margin:0;background:#fff}#box{position:absolute;left:50px;top:1200px;width:120px;height:80px;background:#00f}</style><div style="height:2000px"></div><div id="box"></div>`,
    '/transparent': '<!doctype html><style>html,body{margin:0;background:transparent}</style><div style="width:50px;height:50px;background:#f00"></div>',
    '/dark': '<!doctype html><style>html,body{margin:0;background:#fff}@media (prefers-color-scheme: dark){html,body{background:#000}}</style>',
    '/motion': `<!doctype html><style>html,body{margin:0}@keyframes go{from{background:#f00}to{background:#f00}}
      body{background:#0f0;animation:go 100s infinite}</style>`,
    '/tz': `<!doctype html><style>html,body{margin:0}</style><script>
      const ok = Intl.DateTimeFormat().resolvedOptions().timeZone === 'Asia/Shanghai' && navigator.language === 'zh-CN';
      document.documentElement.style.background = ok ? '#0f0' : '#f00';</script>`,
    '/late': `<!doctype html><style>html,body{margin:0;background:#f00}</style><script>
      setTimeout(() => { const d = document.createElement('div'); d.id = 'late'; d.style.cssText = 'height:100vh;background:#0f0'; document.body.append(d); }, 400);</script>`,
    '/changes': `<!doctype html><style>html,body{margin:0;background:#fff}div{height:100px}</style>
      <div id="a" style="background:#f00"></div><div id="b" style="background:#00f"></div><button id="btn" style="height:100px;width:100%;background:#000"
      onclick="document.documentElement.style.background='#0f0';document.body.style.background='#0f0';this.remove()">x</button>`,
    '/images': `<!doctype html><body style="margin:0"><img src="/img/a.png"><img src="/img/b.png"></body>`,
    '/headers': `<!doctype html><body><img src="${other.origin}/pixel.svg"></body>`,
    '/ua': '<!doctype html><p>ua</p>',
    '/print': '<!doctype html><h1>Print me</h1>',
    '/counted': colourPage('#0f0'),
  });
  fixtures.route('/img/a.png', record('img'));
  fixtures.route('/img/b.png', record('img'));
  const withHeaders = (name: string, body: string): http.RequestListener => (req, res) => {
    (seen[name] ??= []).push(req.headers);
    res.writeHead(200, { 'content-type': 'text/html' }).end(body);
  };
  // another host, not just another port: cookies are per host
  fixtures.route('/headers', withHeaders('target', `<!doctype html><body><img src="http://localhost:${other.port}/pixel.svg"></body>`));
  fixtures.route('/ua', withHeaders('ua', '<p>ua</p>'));
  fixtures.route('/counted', withHeaders('counted', colourPage('#0f0')));
  fixtures.route('/secret', (req, res) => {
    if (req.headers.authorization !== `Basic ${Buffer.from('alice:s3cret').toString('base64')}`) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="x"', 'content-type': 'text/html' }).end(colourPage('#f00'));
    } else res.writeHead(200, { 'content-type': 'text/html' }).end(colourPage('#0f0'));
  });
  svc = await startService({
    EGRESS_ALLOW: `${fixtures.allowEntry},127.0.0.1:${other.port}`, // reached as localhost: another site
    CAPTURE_CACHE_MB: '16',
    CACHE_TTL_SECONDS: '120',
  });
});

afterAll(async () => {
  await shutdownClean(svc);
  await fixtures.close();
  await other.close();
});

describe('framing', () => {
  it('fullPage beyond the 16384-pixel texture limit comes out whole, band by band, no band repeated', async () => {
    const res = await get({ url: `${fixtures.origin}/bands`, width: 200, height: 300, fullPage: true, fullPageMaxHeight: 30000 });
    expect(res.status).toBe(200);
    const meta = await sharp(res.body).metadata();
    expect([meta.width, meta.height]).toEqual([200, 30000]);
    for (let i = 0; i < BANDS.length; i++) {
      expect(await rgbAt(res.body, 100, i * 5000 + 2500), `band ${i}`).toEqual(bandRgb(BANDS[i]!));
      expect(await rgbAt(res.body, 100, i * 5000 + 10), `band ${i} top`).toEqual(bandRgb(BANDS[i]!));
    }
    expect(await rgbAt(res.body, 100, 29999), 'bottom stripe').toEqual(bandRgb(BANDS[5]!));
  });

  it('fullPage stops at fullPageMaxHeight and says so', async () => {
    const res = await get({ url: `${fixtures.origin}/bands`, width: 100, height: 300, fullPage: true, fullPageMaxHeight: 6000 });
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
    const missing = await request(svc.app.server).get('/').query({ url: `${fixtures.origin}/box`, selector: '#nope' });
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

  it('omitBackground gives transparency in png and webp', async () => {
    for (const format of ['png', 'webp']) {
      const res = await get({ url: `${fixtures.origin}/transparent`, omitBackground: true, format, width: 100, height: 100 });
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

  it('darkMode, reducedMotion, timezone and locale reach the page', async () => {
    expect(await rgbAt((await get({ url: `${fixtures.origin}/dark`, darkMode: true, width: 50, height: 50 })).body, 25, 25)).toEqual([0, 0, 0]);
    expect(await rgbAt((await get({ url: `${fixtures.origin}/dark`, width: 50, height: 50 })).body, 25, 25)).toEqual([255, 255, 255]);
    expect(await rgbAt((await get({ url: `${fixtures.origin}/motion`, reducedMotion: true, width: 50, height: 50 })).body, 25, 25)).toEqual([0, 255, 0]);
    expect(await rgbAt((await get({ url: `${fixtures.origin}/motion`, width: 50, height: 50 })).body, 25, 25)).toEqual([255, 0, 0]);
    const tz = await get({ url: `${fixtures.origin}/tz`, timezone: 'Asia/Shanghai', locale: 'zh-CN', width: 50, height: 50 });
    expect(await rgbAt(tz.body, 25, 25)).toEqual([0, 255, 0]);
  });

  it('locale is sent as Accept-Language', async () => {
    await get({ url: `${fixtures.origin}/ua`, locale: 'ja-JP', width: 50, height: 50 });
    expect(seen.ua!.at(-1)!['accept-language']).toContain('ja-JP');
  });
});

describe('waiting', () => {
  it('waitForSelector waits for the element', async () => {
    const res = await get({ url: `${fixtures.origin}/late`, waitForSelector: '#late', width: 50, height: 50 });
    expect(await rgbAt(res.body, 25, 25)).toEqual([0, 255, 0]);
  });

  it('a wait that times out is 504, or a capture with X-Best-Attempt under bestAttempt', async () => {
    const strict = await request(svc.app.server).get('/').query({ url: `${fixtures.origin}/late`, waitForSelector: '#never', timeout: 2000 });
    expect(strict.status).toBe(504);
    expect(strict.body.phase).toBe('prepare');
    const lenient = await get({ url: `${fixtures.origin}/late`, waitForSelector: '#never', timeout: 4000, bestAttempt: true, width: 50, height: 50 });
    expect(lenient.status).toBe(200);
    expect(lenient.headers['x-best-attempt']).toBe('timed out: waitForSelector');
    const nav = await get({ url: `${fixtures.origin}/never`, timeout: 3000, bestAttempt: true, width: 50, height: 50 });
    expect(nav.status).toBe(200);
    expect(nav.headers['x-best-attempt']).toBe('timed out: waitUntil');
  });
});

describe('changing the page', () => {
  it('hide, remove, css and click apply before the capture', async () => {
    const res = await get({ url: `${fixtures.origin}/changes`, hide: '#a', remove: ['#b'], css: '#btn{outline:none}', click: '#btn', width: 100, height: 300 });
    expect(res.status).toBe(200);
    expect(await rgbAt(res.body, 50, 50), 'hidden #a shows the body').toEqual([0, 255, 0]);
    expect(await rgbAt(res.body, 50, 150), 'removed #b, clicked button gone').toEqual([0, 255, 0]);
  });

  it('css is injected', async () => {
    const res = await get({ url: `${fixtures.origin}/changes`, css: 'html,body{background:#00f!important} div,button{display:none}', width: 50, height: 50 });
    expect(await rgbAt(res.body, 25, 25)).toEqual([0, 0, 255]);
  });

  it('click on nothing is 404; a broken selector is 400', async () => {
    const missing = await request(svc.app.server).get('/').query({ url: `${fixtures.origin}/changes`, click: '#none' });
    expect(missing.status).toBe(404);
    expect(missing.body.field).toBe('click');
    const broken = await request(svc.app.server).get('/').query({ url: `${fixtures.origin}/changes`, hide: 'div[' });
    expect(broken.status).toBe(400);
    expect(broken.body.field).toBe('hide');
  });

  it('blockResources and blockUrls keep requests from leaving', async () => {
    seen.img = [];
    await get({ url: `${fixtures.origin}/images`, blockResources: 'image', width: 50, height: 50 });
    expect(seen.img).toHaveLength(0);
    await get({ url: `${fixtures.origin}/images`, blockUrls: '*/img/a.png', width: 50, height: 50 });
    expect(seen.img).toHaveLength(1);
  });
});

describe('sent to the target only', () => {
  it('headers, cookies and user agent reach the target; headers and cookies never a third party', async () => {
    seen['third-party'] = [];
    const res = await get({
      url: `${fixtures.origin}/headers`,
      headers: JSON.stringify({ 'X-Api-Key': 'k-123' }),
      cookies: JSON.stringify([{ name: 'session', value: 'abc' }]),
      userAgent: 'fc-screenshot-test/1',
      width: 50,
      height: 50,
    });
    expect(res.status).toBe(200);
    const target = seen.target!.at(-1)!;
    expect(target['x-api-key']).toBe('k-123');
    expect(target.cookie).toContain('session=abc');
    expect(target['user-agent']).toBe('fc-screenshot-test/1');
    const third = seen['third-party']!.at(-1)!;
    expect(third['x-api-key']).toBeUndefined();
    expect(third.cookie).toBeUndefined();
  });

  it('basic auth opens a protected page', async () => {
    const denied = await get({ url: `${fixtures.origin}/secret`, width: 50, height: 50 });
    expect(await rgbAt(denied.body, 25, 25)).toEqual([255, 0, 0]);
    const allowed = await get({ url: `${fixtures.origin}/secret`, auth: 'alice:s3cret', width: 50, height: 50 });
    expect(await rgbAt(allowed.body, 25, 25)).toEqual([0, 255, 0]);
  });
});

describe('other outputs and inputs', () => {
  it('format=pdf prints the page', async () => {
    const a4 = await get({ url: `${fixtures.origin}/print`, format: 'pdf' });
    expect(a4.status).toBe(200);
    expect(a4.headers['content-type']).toBe('application/pdf');
    expect(a4.body.subarray(0, 5).toString()).toBe('%PDF-');
    const mediaBox = (pdf: Buffer) => /\/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)/.exec(pdf.toString('latin1'))!.slice(1).map(Number);
    const [w, h] = mediaBox(a4.body);
    expect(Math.abs(w! - 595.3)).toBeLessThan(1.5); // A4: 210 × 297 mm
    expect(Math.abs(h! - 841.9)).toBeLessThan(1.5);
    const landscape = await get({ url: `${fixtures.origin}/print`, format: 'pdf', paper: 'letter', landscape: true, margin: '10mm' });
    const [lw, lh] = mediaBox(landscape.body);
    expect(Math.abs(lw! - 792)).toBeLessThan(1.5); // letter, landscape: 11 × 8.5 in
    expect(Math.abs(lh! - 612)).toBeLessThan(1.5);
  });

  it('POST takes every option in JSON, and raw html instead of a url', async () => {
    const res = await post({ html: '<body style="margin:0;background:#00f"></body>', width: 120, height: 60, format: 'webp' });
    expect(res.status, res.body.toString()).toBe(200);
    expect(res.headers['content-type']).toBe('image/webp');
    const px = await pixelAt(res.body, 60, 30);
    expect([px.width, px.height]).toEqual([120, 60]);
    expect(px.rgba[2]).toBeGreaterThan(240);
    const withUrl = await post({ url: `${fixtures.origin}/changes`, hide: ['#a'], remove: ['#b', '#btn'], width: 50, height: 50 });
    expect(await rgbAt(withUrl.body, 25, 25)).toEqual([255, 255, 255]);
    const bad = await request(svc.app.server).post('/').send({ html: '<p>x</p>', url: 'https://example.com' });
    expect(bad.status).toBe(400);
    expect(bad.body.field).toBe('html');
    const unknown = await request(svc.app.server).post('/').send({ colour: 'red' });
    expect(unknown.body).toMatchObject({ error: 'invalid_option', field: 'colour' });
  });

  it('html sub-resources obey the egress guard', async () => {
    const res = await post({ html: '<img src="http://127.0.0.1:1/x.png"><img src="http://169.254.169.254/latest">', width: 50, height: 50 });
    expect(res.status).toBe(200);
    expect(Number(res.headers['x-blocked-requests'])).toBe(2);
  });
});

describe('caching', () => {
  it('a strong ETag of the image, 304 on If-None-Match, Cache-Control with the TTL, and a capture cache', async () => {
    seen.counted = [];
    const query = { url: `${fixtures.origin}/counted`, width: 64, height: 64 };
    const first = await get(query);
    expect(first.status).toBe(200);
    expect(first.headers.etag).toMatch(/^"[\w-]{32}"$/);
    expect(first.headers['cache-control']).toBe('public, max-age=120');
    expect(first.headers['x-cache']).toBe('miss');
    const again = await get(query);
    expect(again.headers['x-cache']).toBe('hit');
    expect(again.body.equals(first.body)).toBe(true);
    expect(seen.counted).toHaveLength(1);
    const notModified = await request(svc.app.server).get('/').query(query).set('if-none-match', first.headers.etag!);
    expect(notModified.status).toBe(304);
    const other = await get({ ...query, width: 65 });
    expect(other.headers.etag).not.toBe(first.headers.etag);
    // the same options in another order or spelling are the same image
    const reordered = await request(svc.app.server).get(`/?height=64&width=64&url=${encodeURIComponent(query.url)}&scale=1`);
    expect(reordered.headers.etag).toBe(first.headers.etag);
  });
});

describe('capture cache on disk', () => {
  it('keeps captures as files in CAPTURE_CACHE_DIR and answers hits from them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fcshot-cachedir-'));
    try {
      await withOwnService({ EGRESS_ALLOW: fixtures.allowEntry, CAPTURE_CACHE_MB: '8', CAPTURE_CACHE_DIR: dir }, async (own) => {
        seen.counted = [];
        const query = { url: `${fixtures.origin}/counted`, width: 40, height: 40 };
        const shoot = () => request(own.app.server).get('/').query(query).buffer(true).parse(binary);
        const first = await shoot();
        expect(first.headers['x-cache']).toBe('miss');
        expect(readdirSync(dir)).toHaveLength(1);
        const second = await shoot();
        expect(second.headers['x-cache']).toBe('hit');
        expect(second.body.equals(first.body)).toBe(true);
        expect(seen.counted).toHaveLength(1);
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('bad options', () => {
  it.each([
    [{ device: 'Nokia 3310' }, 'device'],
    [{ clip: '1,2,3' }, 'clip'],
    [{ clip: '0,0,0,10' }, 'clip'],
    [{ fullPage: 'true', selector: '#a' }, 'selector'],
    [{ format: 'jpeg', omitBackground: 'true' }, 'omitBackground'],
    [{ format: 'pdf', quality: '50' }, 'quality'],
    [{ headers: '{"Host":"evil"}' }, 'headers'],
    [{ headers: 'not json' }, 'headers'],
    [{ timezone: 'Mars/Olympus_Mons' }, 'timezone'],
    [{ locale: 'not a locale' }, 'locale'],
    [{ blockResources: 'everything' }, 'blockResources'],
    [{ paper: 'a9' }, 'paper'],
    [{ margin: 'wide' }, 'margin'],
    [{ auth: 'no-colon' }, 'auth'],
    [{ fullPageMaxHeight: '10' }, 'fullPageMaxHeight'],
  ])('%j gives 400 naming %s', async (query, field) => {
    const res = await request(svc.app.server).get('/').query({ url: `${fixtures.origin}/red`, ...query });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_option', field });
  });
});

describe('documentation', () => {
  it('GET /openapi.json describes every option the server validates', async () => {
    const res = await request(svc.app.server).get('/openapi.json');
    expect(res.status).toBe(200);
    const doc = res.body;
    expect(doc.openapi).toBe('3.1.0');
    const params = doc.paths['/'].get.parameters.map((p: { name: string }) => p.name).sort();
    expect(params).toEqual(Object.keys(OptionsSchema.properties).filter((k) => k !== 'html').sort());
    expect(Object.keys(doc.paths['/'].post.requestBody.content['application/json'].schema.properties)).toContain('html');
    expect(doc.paths['/'].get.responses['400']).toBeDefined();
  });

  it('the playground builds a request and shows the image and its timing, in a real browser', async () => {
    const executablePath = `${await unpackEmbedded(loadConfig().embeddedChromiumDir)}/chromium`;
    const browser = await puppeteer.launch({
      executablePath,
      headless: 'shell',
      pipe: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
      env: { ...process.env, LD_LIBRARY_PATH: `${executablePath.replace(/chromium$/, '')}lib` },
    });
    try {
      const page = await browser.newPage();
      await page.goto(`${svc.origin}/playground`);
      await page.type('#url', `${fixtures.origin}/counted`);
      await page.$eval('input[name=width]', (el) => ((el as HTMLInputElement).value = '320'));
      await page.$eval('input[name=height]', (el) => ((el as HTMLInputElement).value = '200'));
      await page.click('#go');
      await page.waitForFunction(() => {
        const img = document.querySelector('#shot') as HTMLImageElement | null;
        return img?.complete && img.naturalWidth > 0;
      }, { timeout: 15000 });
      const size = await page.$eval('#shot', (img) => [(img as HTMLImageElement).naturalWidth, (img as HTMLImageElement).naturalHeight]);
      expect(size).toEqual([320, 200]);
      const timing = await page.$eval('#timing', (el) => el.textContent);
      expect(timing).toMatch(/^200 · \d+ ms · .*capture \d/);
    } finally {
      await browser.close();
    }
  });
});
