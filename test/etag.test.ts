/**
 * The ETag stands for the bytes it was sent with: a page that changes between two requests gets a
 * new ETag and a 200, never a 304 for an image the client does not hold.
 */
import request from 'supertest';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { colourPage, startFixtures, type FixtureServer } from './helpers/fixtures.js';
import { binary, shutdownClean, startService, withOwnService, type TestService } from './helpers/service.js';

let fixtures: FixtureServer;
let svc: TestService;
/** What /changing shows right now; the tests change it between requests. */
let colour = '#ff0000';

beforeAll(async () => {
  fixtures = await startFixtures();
  fixtures.route('/changing', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' }).end(colourPage(colour));
  });
  svc = await startService({ EGRESS_ALLOW: fixtures.allowEntry });
});

afterAll(async () => {
  await shutdownClean(svc);
  await fixtures.close();
});

const query = () => ({ url: `${fixtures.origin}/changing`, width: 32, height: 32 });

async function firstPixel(body: Buffer): Promise<number[]> {
  const { data } = await sharp(body).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return [...data.subarray(0, 3)];
}

describe('ETag without a capture cache', () => {
  it('changes with the page: 200 and the new image when the page changed, 304 only for the same bytes', async () => {
    const get = (etag?: string) => {
      const req = request(svc.app.server).get('/').query(query());
      return (etag ? req.set('if-none-match', etag) : req).buffer(true).parse(binary);
    };
    colour = '#ff0000';
    const red = await get();
    expect(red.status).toBe(200);
    expect(red.headers.etag).toMatch(/^"[\w-]{32}"$/);
    expect(await firstPixel(red.body)).toEqual([255, 0, 0]);

    colour = '#0000ff';
    const blue = await get(red.headers.etag);
    expect(blue.status).toBe(200);
    expect(blue.headers.etag).not.toBe(red.headers.etag);
    expect(await firstPixel(blue.body)).toEqual([0, 0, 255]);

    // The page did not change since: the fresh capture has the client's bytes.
    const same = await get(blue.headers.etag);
    expect(same.status).toBe(304);
    expect(same.headers.etag).toBe(blue.headers.etag);
    expect(same.body.length).toBe(0);
    expect(same.headers['server-timing']).toMatch(/capture;dur=/);
    expect(svc.leftovers()).toEqual([]);
  });
});

describe('ETag with a capture cache', () => {
  it('a cached capture answers 304 for its own bytes; a fresh capture of a changed page gets a new ETag', async () => {
    await withOwnService({ EGRESS_ALLOW: fixtures.allowEntry, CAPTURE_CACHE_MB: '8' }, async (own) => {
      const get = (etag?: string) => {
        const req = request(own.app.server).get('/').query(query());
        return (etag ? req.set('if-none-match', etag) : req).buffer(true).parse(binary);
      };
      colour = '#ff0000';
      const red = await get();
      expect(red.headers['x-cache']).toBe('miss');
      colour = '#00ff00';
      // Within the cache's lifetime the cache holds the red bytes, and the client holds them too.
      const cachedRed = await get(red.headers.etag);
      expect(cachedRed.status).toBe(304);
      expect(cachedRed.headers['x-cache']).toBe('hit');
      expect(cachedRed.headers.etag).toBe(red.headers.etag);

      // Another spelling of the same options is the same cache entry: still the red bytes.
      const again = await request(own.app.server).get(`/?height=32&width=32&url=${encodeURIComponent(query().url)}`);
      expect(again.headers.etag).toBe(red.headers.etag);
      // Other options are another entry: a fresh capture of the page as it is now, with its own ETag.
      const green = await request(own.app.server)
        .get('/')
        .query({ ...query(), width: 33 })
        .set('if-none-match', red.headers.etag!)
        .buffer(true)
        .parse(binary);
      expect(green.status).toBe(200);
      expect(green.headers['x-cache']).toBe('miss');
      expect(green.headers.etag).not.toBe(red.headers.etag);
      expect(await firstPixel(green.body)).toEqual([0, 255, 0]);
    });
  });
});
