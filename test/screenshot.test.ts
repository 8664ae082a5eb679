/**
 * The core service end to end: real Chromium, real HTTP (supertest against the listening server),
 * real sharp decoding of what comes back, real files in the capture directory.
 */
import request from 'supertest';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { startFixtures, type FixtureServer } from './helpers/fixtures.js';
import { pixelAt } from './helpers/pixels.js';
import {
  capture,
  type Query,
  shutdownClean,
  startService,
  withOwnService,
  type TestService,
} from './helpers/service.js';

let fixtures: FixtureServer;
let svc: TestService;
const api = () => request(svc.app.server);

const get = (query: Query, headers: Record<string, string> = {}) => capture(svc, query, headers);

beforeAll(async () => {
  fixtures = await startFixtures({
    '/set-cookie': `<script>document.cookie = 'who=first; max-age=3600'; localStorage.setItem('who', 'first');</script>`,
    '/show-cookie': `<!doctype html><style>html,body{margin:0}</style><script>
      const seen = document.cookie.includes('who=') || localStorage.getItem('who');
      document.documentElement.style.background = seen ? '#ff0000' : '#00ff00';</script>`,
  });
  svc = await startService({ EGRESS_ALLOW: fixtures.allowEntry, DEFAULT_URL: `${fixtures.origin}/blue` });
});

afterAll(async () => {
  await shutdownClean(svc);
  await fixtures.close();
});

describe('GET /', () => {
  it('captures a page of one colour at the requested size', async () => {
    const res = await get({ url: `${fixtures.origin}/red`, width: 320, height: 200 });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('image/png');
    expect(Number(res.headers['content-length'])).toBe(res.body.length);
    const px = await pixelAt(res.body, 160, 100);
    expect([px.width, px.height]).toEqual([320, 200]);
    expect(px.rgb).toEqual([255, 0, 0]);
    const corner = await pixelAt(res.body, 319, 199);
    expect(corner.rgb).toEqual([255, 0, 0]);
  });

  it.each([
    ['png', [0x89, 0x50, 0x4e, 0x47], 'png'],
    ['jpeg', [0xff, 0xd8, 0xff], 'jpeg'],
    ['webp', [0x52, 0x49, 0x46, 0x46], 'webp'],
    ['avif', [0x00, 0x00, 0x00], 'heif'],
  ])('format=%s gives a real %s file', async (format, magic, sharpFormat) => {
    const res = await get({ url: `${fixtures.origin}/red`, width: 200, height: 100, format });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe(`image/${format}`);
    expect([...res.body.subarray(0, magic.length)]).toEqual(magic);
    if (format === 'avif') expect(res.body.subarray(4, 12).toString('latin1')).toBe('ftypavif');
    const meta = await sharp(res.body).metadata();
    expect(meta.format).toBe(sharpFormat);
    expect([meta.width, meta.height]).toEqual([200, 100]);
    const px = await pixelAt(res.body, 100, 50);
    // lossy formats come close to pure red, not exactly
    expect(px.rgb[0]).toBeGreaterThan(235);
    expect(px.rgb[1]).toBeLessThan(20);
  });

  it('picks the format from Accept when none is named, png otherwise', async () => {
    const webp = await get(
      { url: `${fixtures.origin}/red`, width: 100, height: 100 },
      { accept: 'image/avif;q=0.5,image/webp,*/*;q=0.8' },
    );
    expect(webp.headers['content-type']).toBe('image/webp');
    const jpeg = await get({ url: `${fixtures.origin}/red`, width: 100, height: 100 }, { accept: 'image/jpeg' });
    expect(jpeg.headers['content-type']).toBe('image/jpeg');
    const any = await get({ url: `${fixtures.origin}/red`, width: 100, height: 100 }, { accept: '*/*' });
    expect(any.headers['content-type']).toBe('image/png');
    expect(webp.headers.vary).toContain('Accept');
  });

  it('quality changes the size of lossy images', async () => {
    fixtures.route('/noise', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(
        `<body style="margin:0">${Array.from({ length: 400 }, (_, i) => `<span style="color:hsl(${i * 37},80%,40%)">word${i} </span>`).join('')}</body>`,
      );
    });
    const sizes: Record<string, number> = {};
    for (const quality of [10, 95]) {
      const res = await get({ url: `${fixtures.origin}/noise`, width: 400, height: 300, format: 'jpeg', quality });
      expect(res.status).toBe(200);
      sizes[quality] = res.body.length;
    }
    expect(sizes[10]).toBeLessThan(sizes[95]! * 0.6);
  });

  it('scale multiplies the pixel size', async () => {
    const res = await get({ url: `${fixtures.origin}/red`, width: 300, height: 150, scale: 2 });
    const meta = await sharp(res.body).metadata();
    expect([meta.width, meta.height]).toEqual([600, 300]);
  });

  it('fullPage captures the whole page height', async () => {
    const res = await get({ url: `${fixtures.origin}/tall`, width: 400, height: 300, fullPage: true });
    expect(res.status).toBe(200);
    const top = await pixelAt(res.body, 200, 10);
    const bottom = await pixelAt(res.body, 200, 2990);
    expect([top.width, top.height]).toEqual([400, 3000]);
    expect(top.rgb).toEqual([0, 255, 0]);
    expect(bottom.rgb).toEqual([0, 0, 255]);
  });

  it('without url captures the configured default page', async () => {
    const res = await get({ width: 100, height: 100 });
    expect(res.status).toBe(200);
    expect((await pixelAt(res.body, 50, 50)).rgb).toEqual([0, 0, 255]);
  });

  it('answers HEAD with the headers and no body', async () => {
    const res = await api()
      .head('/')
      .query({ url: `${fixtures.origin}/red`, width: 100, height: 100 });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('image/png');
    expect(Number(res.headers['content-length'])).toBeGreaterThan(0);
    expect(res.body).toEqual({});
  });

  it('sends X-Request-Id (FC’s when given) and Server-Timing with the phases', async () => {
    const res = await get(
      { url: `${fixtures.origin}/red`, width: 100, height: 100 },
      { 'x-fc-request-id': 'fc-req-123' },
    );
    expect(res.headers['x-request-id']).toBe('fc-req-123');
    const phases = String(res.headers['server-timing'])
      .split(', ')
      .map((p) => p.split(';')[0]);
    expect(phases).toEqual(expect.arrayContaining(['queue', 'navigate', 'capture', 'encode']));
    const other = await get({ url: `${fixtures.origin}/red`, width: 100, height: 100 });
    expect(other.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('gives every request its own browser context: no cookies or storage carried over', async () => {
    await get({ url: `${fixtures.origin}/set-cookie`, width: 100, height: 100 });
    const res = await get({ url: `${fixtures.origin}/show-cookie`, width: 100, height: 100 });
    expect((await pixelAt(res.body, 50, 50)).rgb).toEqual([0, 255, 0]);
  });

  it('reuses one Chromium across requests', async () => {
    const pid = svc.browser.pid;
    await get({ url: `${fixtures.origin}/red`, width: 100, height: 100 });
    await get({ url: `${fixtures.origin}/blue`, width: 100, height: 100 });
    expect(svc.browser.pid).toBe(pid);
  });
});

describe('failures of the target page', () => {
  it('a page that cannot be reached gives 502 with the navigation error', async () => {
    const closed = await startFixtures();
    const url = `${closed.origin}/red`;
    await closed.close(); // nothing listens there now
    await withOwnService({ EGRESS_ALLOW: `127.0.0.1:${closed.port}` }, async (other) => {
      const res = await request(other.app.server).get('/').query({ url });
      expect(res.status).toBe(502);
      expect(res.body.error).toBe('bad_gateway');
      expect(res.body.message).toMatch(/net::ERR_/);
    });
  });

  it('a page that never answers gives 504 naming the phase', async () => {
    const res = await api()
      .get('/')
      .query({ url: `${fixtures.origin}/never`, timeout: 1500 });
    expect(res.status).toBe(504);
    expect(res.body).toMatchObject({ error: 'timeout', phase: 'navigate' });
    // and the browser is still fine
    const next = await get({ url: `${fixtures.origin}/red`, width: 100, height: 100 });
    expect(next.status).toBe(200);
  });
});

describe('bad input', () => {
  const long = `https://example.com/${'a'.repeat(2100)}`;
  const cases: Array<[Record<string, string>, string]> = [
    [{ width: 'abc' }, 'width'],
    [{ width: '0' }, 'width'],
    [{ width: '99999' }, 'width'],
    [{ width: '12.5' }, 'width'],
    [{ height: '-1' }, 'height'],
    [{ height: '100000' }, 'height'],
    [{ scale: '0' }, 'scale'],
    [{ scale: '4' }, 'scale'],
    [{ scale: 'x' }, 'scale'],
    [{ fullPage: 'maybe' }, 'fullPage'],
    [{ format: 'gif' }, 'format'],
    [{ format: 'jpeg', quality: '0' }, 'quality'],
    [{ format: 'jpeg', quality: '101' }, 'quality'],
    [{ format: 'png', quality: '50' }, 'quality'],
    [{ waitUntil: 'whenever' }, 'waitUntil'],
    [{ delay: '-5' }, 'delay'],
    [{ delay: '600000' }, 'delay'],
    [{ timeout: '10' }, 'timeout'],
    [{ timeout: '99999999' }, 'timeout'],
    [{ colour: 'red' }, 'colour'],
    [{ url: 'file:///etc/passwd' }, 'url'],
    [{ url: 'javascript:alert(1)' }, 'url'],
    [{ url: 'data:text/html,<h1>x</h1>' }, 'url'],
    [{ url: 'ftp://example.com/' }, 'url'],
    [{ url: 'http://' }, 'url'],
    [{ url: 'https://user:pw@example.com/' }, 'url'],
    [{ url: long }, 'url'],
    [{ url: '' }, 'url'],
  ];
  it.each(cases.map(([query, field]) => [JSON.stringify(query).slice(0, 60), query, field] as const))(
    '%s gives 400 naming the field',
    async (_label, query, field) => {
      const res = await api().get('/').query(query);
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(/application\/json/);
      expect(res.body).toMatchObject({ error: 'invalid_option', field });
      expect(typeof res.body.message).toBe('string');
    },
  );

  it('a name outside a list says which names there are (all of them when the list is short)', async () => {
    const format = await api().get('/').query({ format: 'gif' });
    expect(format.body).toMatchObject({
      field: 'format',
      message: 'format must be one of: png, jpeg, webp, avif, pdf',
    });
    const device = await api().get('/').query({ device: 'Pixel 7' });
    expect(device.status).toBe(400);
    expect(device.body.field).toBe('device');
    expect(device.body.message).toMatch(/^device must be one of: .+… \(all in \/openapi\.json\)$/);
  });
});

describe('configuration', () => {
  it('targets the Serverless Devs homepage by default', () => {
    expect(loadConfig({}).defaultUrl).toBe('https://www.serverless-devs.com');
  });
  it('listens on PORT, else FC_SERVER_PORT, else 9000', () => {
    expect(loadConfig({}).port).toBe(9000);
    expect(loadConfig({ FC_SERVER_PORT: '8080' }).port).toBe(8080);
    expect(loadConfig({ PORT: '7000', FC_SERVER_PORT: '8080' }).port).toBe(7000);
  });
});
