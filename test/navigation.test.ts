import request from 'supertest';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_HOPS } from '../src/capture/navigation.js';
import {
  colourPage,
  startFixtures,
  type FixtureServer,
  startInternalServer,
  type InternalServer,
} from './helpers/fixtures.js';
import { binary, shutdownClean, startService, type TestService } from './helpers/service.js';

let fixtures: FixtureServer;
let svc: TestService;
let internal: InternalServer;

const afterLoad = (js: string) =>
  '<!doctype html><body style="margin:0;background:#fff"><p>first</p>' +
  `<script>addEventListener('load', () => { ${js} });</script></body>`;
const metaRefresh = (content: string) =>
  `<!doctype html><meta http-equiv="refresh" content="${content}"><body style="background:#fff">wait</body>`;

beforeAll(async () => {
  internal = await startInternalServer();
  const inside = `127.0.0.1:${internal.port}`;
  fixtures = await startFixtures({
    '/dest': colourPage('#0000ff', '<p style="margin:40px">landed</p>'),
    '/js-redirect': afterLoad(`setTimeout(() => { location.href = '/dest'; }, 0);`),
    '/js-assign-at-load': afterLoad(`location.assign('/dest');`),
    '/two-hops': afterLoad(`location.href = '/js-redirect';`),
    '/meta-refresh': metaRefresh('0;url=/dest'),
    '/meta-refresh-soon': metaRefresh('0.5;url=/dest'),
    '/to-no-content': afterLoad(`location.href = '/no-content';`),
    '/to-missing': afterLoad(`location.href = '/missing';`),
    '/to-blocked': afterLoad(`location.href = 'http://${inside}/secret';`),
    '/to-blocked-https': afterLoad(`setTimeout(() => { location.href = 'https://${inside}/secret'; }, 0);`),
    '/meta-to-blocked': metaRefresh(`0;url=http://${inside}/meta`),
    '/loop': afterLoad(`location.href = '/loop?' + Date.now() + Math.random();`),
    '/meta-loop': metaRefresh('0'),
    '/inline-loop': `<!doctype html><script>location.replace('/inline-loop?' + Date.now() + Math.random());</script>`,
    '/fetch-later': afterLoad(FETCH_LATE('/slower')),
    '/to-fetch-later': afterLoad(`setTimeout(() => { location.href = '/fetch-later'; }, 900);`),
  });
  fixtures.route('/no-content', (_req, res) => res.writeHead(204).end());
  // Answer after 1.5 s and 4 s, to any origin (raw HTML's document is about:blank).
  for (const [path, ms] of [
    ['/slow', 1500],
    ['/slower', 4000],
    ['/quick', 0],
  ] as const) {
    fixtures.route(path, (_req, res) => {
      setTimeout(() => res.writeHead(200, { 'access-control-allow-origin': '*' }).end('ok'), ms);
    });
  }
  // A long deadline: every answer below that is not a 504 came from following, not from running out.
  svc = await startService({ EGRESS_ALLOW: fixtures.allowEntry, REQUEST_TIMEOUT_MS: '20000' });
});

afterAll(async () => {
  await shutdownClean(svc);
  await fixtures.close();
  await internal.close();
});

const shoot = (query: Record<string, unknown>) =>
  request(svc.app.server)
    .get('/')
    .query({ width: 64, height: 64, ...query })
    .buffer(true)
    .parse(binary);

/** The JSON error body (the binary parser keeps every body as bytes). */
const error = (res: { body: Buffer }) => JSON.parse(res.body.toString('utf8')) as Record<string, unknown>;

async function corner(body: Buffer): Promise<number[]> {
  const { data } = await sharp(body).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return [...data.subarray(0, 3)];
}

/** After load, fetches `url` (slow) and only then turns the page blue. */
function FETCH_LATE(url: string): string {
  return `setTimeout(() => fetch('${url}').then((r) => r.text()).then(() => { document.body.style.background = '#0000ff'; }), 50);`;
}

const BLUE = [0, 0, 255];
const WHITE = [255, 255, 255];

describe('a page that navigates after load is captured where it lands', () => {
  const pages = ['/js-redirect', '/js-assign-at-load', '/meta-refresh', '/meta-refresh-soon', '/two-hops'];
  it.each(pages)('%s', async (path) => {
    fixtures.hits.length = 0;
    const res = await shoot({ url: `${fixtures.origin}${path}` });
    expect(res.status, res.body.toString('utf8').slice(0, 300)).toBe(200);
    expect(await corner(res.body)).toEqual(BLUE);
    expect(res.headers['x-target-status']).toBe('200');
    expect(fixtures.hits).toContain('/dest');
    expect(res.headers['server-timing']).toMatch(/navigate;dur=.*settle;dur=.*capture;dur=/);
  });

  it('with settle off too', async () => {
    const res = await shoot({ url: `${fixtures.origin}/meta-refresh`, settle: false });
    expect(res.status).toBe(200);
    expect(await corner(res.body)).toEqual(BLUE);
    expect(res.headers['server-timing']).not.toMatch(/settle/);
  });

  it('raw HTML that redirects', async () => {
    const res = await request(svc.app.server)
      .post('/')
      .send({ html: afterLoad(`location.href = '${fixtures.origin}/dest';`), width: 64, height: 64 })
      .buffer(true)
      .parse(binary);
    expect(res.status, res.body.toString('utf8').slice(0, 300)).toBe(200);
    expect(await corner(res.body)).toEqual(BLUE);
  });

  it('X-Target-Status is the status of the page it landed on', async () => {
    const res = await shoot({ url: `${fixtures.origin}/to-missing` });
    expect(res.status).toBe(200);
    expect(res.headers['x-target-status']).toBe('404');
    expect(fixtures.hits).toContain('/missing');
  });

  it('a navigation that ends in 204 No Content leaves the page as it was', async () => {
    const res = await shoot({ url: `${fixtures.origin}/to-no-content` });
    expect(res.status, res.body.toString('utf8').slice(0, 300)).toBe(200);
    expect(await corner(res.body)).toEqual(WHITE);
    expect(res.headers['x-target-status']).toBe('200');
  });
});

describe('networkidle0 waits for what the page fetches after load', () => {
  // settle=false: the settle step waits for requests in flight by itself; here only waitUntil does.
  it('raw HTML', async () => {
    const res = await request(svc.app.server)
      .post('/')
      .send({ html: afterLoad(FETCH_LATE(`${fixtures.origin}/slow`)), waitUntil: 'networkidle0', settle: false })
      .buffer(true)
      .parse(binary);
    expect(res.status, res.body.toString('utf8').slice(0, 300)).toBe(200);
    expect(await corner(res.body)).toEqual(BLUE);
  });

  it('networkidle2: two requests in flight, coming and going, are quiet enough', async () => {
    // One request open for 4 s, and a quick one every 300 ms: never more than two at once. Quiet, as
    // puppeteer and Chromium count it, is at most two for 500 ms, however often the count changes.
    const html = afterLoad(
      `fetch('${fixtures.origin}/slower'); setInterval(() => fetch('${fixtures.origin}/quick'), 300); ` +
        `document.body.style.background = '#0000ff';`,
    );
    const res = await request(svc.app.server)
      .post('/')
      .send({ html, waitUntil: 'networkidle2', settle: false, bestAttempt: true, width: 64, height: 64 })
      .buffer(true)
      .parse(binary);
    expect(res.status, res.body.toString('utf8').slice(0, 300)).toBe(200);
    expect(res.headers['x-best-attempt']).toBeUndefined(); // no wait was given up
    expect(await corner(res.body)).toEqual(BLUE);
  });

  it('on the page a navigation after load lands on', async () => {
    // The navigation starts during the 1.5 s delay, after the first page was idle: it is followed, and
    // the page it lands on fetches for 4 s. Not waiting, the capture would come 0.5 + 1.5 s after it landed.
    const res = await shoot({
      url: `${fixtures.origin}/to-fetch-later`,
      waitUntil: 'networkidle0',
      settle: false,
      delay: 1500,
    });
    expect(res.status, res.body.toString('utf8').slice(0, 300)).toBe(200);
    expect(await corner(res.body)).toEqual(BLUE);
    expect(fixtures.hits).toContain('/slower');
  });
});

describe('a navigation to a refused destination', () => {
  const pages = ['/to-blocked', '/to-blocked-https', '/meta-to-blocked'];
  it.each(pages)('%s answers 403 and nothing is contacted', async (path) => {
    const res = await shoot({ url: `${fixtures.origin}${path}` });
    expect(res.status, res.body.toString('utf8')).toBe(403);
    expect(error(res)).toMatchObject({ error: 'blocked', reason: 'ipv4-loopback' });
    expect(internal.connections).toBe(0);
  });
});

describe('a page that keeps navigating', () => {
  const pages = ['/loop', '/meta-loop', '/inline-loop'];
  it.each(pages)('%s answers 502 navigation_loop after a bounded number of hops', async (path) => {
    fixtures.hits.length = 0;
    const res = await shoot({ url: `${fixtures.origin}${path}` });
    expect(res.status, res.body.toString('utf8')).toBe(502);
    expect(error(res)).toMatchObject({ error: 'navigation_loop', reason: 'too_many_navigations' });
    // The first page, MAX_HOPS followed, and the one that was one too many (maybe not yet requested).
    const loads = fixtures.hits.filter((h) => h.startsWith(path)).length;
    expect(loads).toBeGreaterThanOrEqual(MAX_HOPS + 1);
    expect(loads).toBeLessThanOrEqual(MAX_HOPS + 2);
  });
});
