/**
 * The capture options against real Chromium, what comes out: PDF, POST and raw HTML, ETag and the
 * capture cache, 400s naming the option, and the OpenAPI document (the playground: playground.test.ts).
 */
import net from 'node:net';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { OptionsSchema } from '../src/options.js';
import { pixelAt, rgbAt } from './helpers/pixels.js';
import { binary, withOwnService } from './helpers/service.js';

import { fixtures, svc, seen, get, post, setUpFeatureSuite } from './helpers/feature-suite.js';

setUpFeatureSuite();

describe('other outputs and inputs', () => {
  it('format=pdf prints the page', async () => {
    const a4 = await get({ url: `${fixtures.origin}/print`, format: 'pdf' });
    expect(a4.status).toBe(200);
    expect(a4.headers['content-type']).toBe('application/pdf');
    expect(a4.body.subarray(0, 5).toString()).toBe('%PDF-');
    const mediaBox = (pdf: Buffer) =>
      /\/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)/.exec(pdf.toString('latin1'))!.slice(1).map(Number);
    const [w, h] = mediaBox(a4.body);
    expect(Math.abs(w! - 595.3)).toBeLessThan(1.5); // A4: 210 × 297 mm
    expect(Math.abs(h! - 841.9)).toBeLessThan(1.5);
    const landscape = await get({
      url: `${fixtures.origin}/print`,
      format: 'pdf',
      paper: 'letter',
      landscape: true,
      margin: '10mm',
    });
    const [lw, lh] = mediaBox(landscape.body);
    expect(Math.abs(lw! - 792)).toBeLessThan(1.5); // letter, landscape: 11 × 8.5 in
    expect(Math.abs(lh! - 612)).toBeLessThan(1.5);
  });

  it('POST takes every option in JSON, and raw html instead of a url', async () => {
    const res = await post({
      html: '<body style="margin:0;background:#00f"></body>',
      width: 120,
      height: 60,
      format: 'webp',
    });
    expect(res.status, res.body.toString()).toBe(200);
    expect(res.headers['content-type']).toBe('image/webp');
    const px = await pixelAt(res.body, 60, 30);
    expect([px.width, px.height]).toEqual([120, 60]);
    expect(px.rgba[2]).toBeGreaterThan(240);
    const withUrl = await post({
      url: `${fixtures.origin}/changes`,
      hide: ['#a'],
      remove: ['#b', '#btn'],
      width: 50,
      height: 50,
    });
    expect(await rgbAt(withUrl.body, 25, 25)).toEqual([255, 255, 255]);
    const bad = await request(svc.app.server).post('/').send({ html: '<p>x</p>', url: 'https://example.com' });
    expect(bad.status).toBe(400);
    expect(bad.body.field).toBe('html');
    const unknown = await request(svc.app.server).post('/').send({ colour: 'red' });
    expect(unknown.body).toMatchObject({ error: 'invalid_option', field: 'colour' });
  });

  it('html sub-resources obey the egress guard, and only what it refused is counted', async () => {
    const res = await post({
      // Refused by the guard: two. Failed without reaching it (the page's own CSP, a broken data: URL, a
      // revoked blob: URL, a port Chromium itself never connects to): none.
      html: `<meta http-equiv="Content-Security-Policy" content="img-src http://127.0.0.1:65000 http://169.254.169.254 data: blob:">
        <img src="http://127.0.0.1:65000/x.png"><img src="http://169.254.169.254/latest">
        <img src="https://csp-refuses-this.test/x.png"><img src="data:image/png;base64,AAAA"><img src="http://127.0.0.1:1/x.png">
        <script>const u = URL.createObjectURL(new Blob(['x'])); URL.revokeObjectURL(u); fetch(u).catch(() => {});</script>`,
      width: 50,
      height: 50,
    });
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
    const reordered = await request(svc.app.server).get(
      `/?height=64&width=64&url=${encodeURIComponent(query.url)}&scale=1`,
    );
    expect(reordered.headers.etag).toBe(first.headers.etag);
  });
});

describe('capture cache on disk', () => {
  it('keeps captures as files in CAPTURE_CACHE_DIR and answers hits from them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fcshot-cachedir-'));
    try {
      await withOwnService(
        { EGRESS_ALLOW: fixtures.allowEntry, CAPTURE_CACHE_MB: '8', CAPTURE_CACHE_DIR: dir },
        async (own) => {
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
        },
      );
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
    // a property missing inside an option names the option
    [{ cookies: '[{"name":"a"}]' }, 'cookies'],
    // C1 control characters (U+0085 is a line break to some parsers), as C0 ones
    [{ headers: '{"x-a":"a\u0085b"}' }, 'headers'],
    [{ cookies: '[{"name":"a","value":"a\u0085b"}]' }, 'cookies'],
    [{ userAgent: 'a\u0085b' }, 'userAgent'],
    [{ auth: 'a\nb:c' }, 'auth'],
    [{ auth: 'a:b\u0000' }, 'auth'],
  ])('%j gives 400 naming %s', async (query, field) => {
    const res = await request(svc.app.server)
      .get('/')
      .query({ url: `${fixtures.origin}/red`, ...query });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_option', field });
  });
});

describe('requests node refuses before any route', () => {
  /** The raw answer to `bytes` sent on a connection of its own. */
  async function rawAnswer(bytes: string) {
    const socket = net.connect(Number(new URL(svc.origin).port), '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    socket.write(bytes);
    const text = await new Promise<string>((resolve) => {
      let got = '';
      socket.on('data', (d) => (got += d));
      socket.once('close', () => resolve(got));
    });
    const [head = '', body = ''] = text.split('\r\n\r\n');
    return {
      status: Number(head.split(' ')[1]),
      type: /content-type: ([^\r]*)/i.exec(head)?.[1],
      body: JSON.parse(body),
    };
  }

  it.each([
    [
      'a body longer than its Content-Length',
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}GARBAGE\r\n\r\n',
      400,
    ],
    ['not HTTP', 'HELLO THERE\r\n\r\n', 400],
    ['headers too large', `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
  ])('%s: %i, in the JSON of every error', async (_name, bytes, status) => {
    const answer = await rawAnswer(bytes);
    expect(answer.status).toBe(status);
    expect(answer.type).toBe('application/json');
    expect(answer.body).toMatchObject({ error: 'bad_request', message: expect.any(String) });
  });
});

describe('documentation', () => {
  it('GET /openapi.json describes every option the server validates', async () => {
    const res = await request(svc.app.server).get('/openapi.json');
    expect(res.status).toBe(200);
    const doc = res.body;
    expect(doc.openapi).toBe('3.1.0');
    const params = doc.paths['/'].get.parameters.map((p: { name: string }) => p.name).sort();
    expect(params).toEqual(
      Object.keys(OptionsSchema.properties)
        .filter((k) => k !== 'html')
        .sort(),
    );
    expect(Object.keys(doc.paths['/'].post.requestBody.content['application/json'].schema.properties)).toContain(
      'html',
    );
    expect(doc.paths['/'].get.responses['400']).toBeDefined();
  });
});
