/**
 * The settle step against real Chromium: elements that animate in (a 2 s CSS animation, a Web
 * Animations API one, a CSS transition), a web font that arrives late and swaps in, and a lazy image
 * in the viewport are captured in their end state; with `settle=false` they are not (which is what
 * proves the pages test something).
 */
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import request from 'supertest';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unpackEmbedded } from '../src/browser/locate.js';
import { ROOT } from '../fc/paths.js';
import { loadConfig } from '../src/config.js';
import { startFixtures, type FixtureServer } from './helpers/fixtures.js';
import { binary, shutdownClean, startService, type TestService } from './helpers/service.js';

let fixtures: FixtureServer;
let svc: TestService;

const page = (head: string, body: string) =>
  `<!doctype html><html><head><meta charset="utf-8"><style>html,body{margin:0;background:#fff}` +
  `.box{position:absolute;left:0;top:0;width:100px;height:100px;background:#00ff00}</style>${head}</head>` +
  `<body>${body}</body></html>`;

const LATE_TEXT = `<p style="font:700 40px Late, monospace;margin:0">Settled WWW</p>`;
const lateFont = (delayMs: number) =>
  '<style>@font-face{font-family:Late;font-display:swap;' +
  `src:url(/late.ttf?delay=${delayMs}) format("truetype")}</style>`;

beforeAll(async () => {
  // A real font we did not make: the one @sparticuz/chromium ships, served slowly as a web font.
  const embedded = await unpackEmbedded(loadConfig({}).embeddedChromiumDir);
  const font = await readFile(join(embedded, 'fonts', 'Open_Sans', 'OpenSans-Italic.ttf'));
  const square = { width: 100, height: 100, channels: 3 as const, background: '#00ff00' };
  const green = await sharp({ create: square }).png().toBuffer();
  fixtures = await startFixtures({
    '/css-animation': page(
      '<style>@keyframes in{from{opacity:0}to{opacity:1}}.box{animation:in 2s linear}</style>',
      '<div class="box"></div>',
    ),
    '/web-animation': page(
      '',
      `<div class="box" id="b"></div><script>addEventListener('load', () => document.getElementById('b')
        .animate([{ transform: 'translateX(300px)' }, { transform: 'none' }], { duration: 2000 }));</script>`,
    ),
    '/transition': page(
      '<style>.box{background:#fff;transition:background-color 2s linear}.box.on{background:#00ff00}</style>',
      `<div class="box" id="b"></div><script>addEventListener('load', () => {
        const b = document.getElementById('b');
        getComputedStyle(b).backgroundColor;
        b.classList.add('on');
      });</script>`,
    ),
    '/late-font': page(
      lateFont(1200),
      `<script>addEventListener('load', () => document.body.insertAdjacentHTML('beforeend', '${LATE_TEXT}'));</script>`,
    ),
    '/lazy-image': page('', '<img loading="lazy" src="/slow.png" width="100" height="100" style="display:block">'),
    // A moment after load, then the content: a timeout before the page adds its images (no size given)…
    '/timer-images': page(
      '',
      `<script>addEventListener('load', () => setTimeout(() =>
        document.body.insertAdjacentHTML('afterbegin', '<img src="/slow.png" style="display:block">'), 150));</script>`,
    ),
    // …or before it fetches its data and draws it.
    '/timer-fetch': page(
      '',
      `<script>addEventListener('load', () => setTimeout(() => fetch('/data').then((r) => r.text()).then((t) =>
        document.body.insertAdjacentHTML('afterbegin', t)), 400));</script>`,
    ),
    // lazysizes (npm), which looks for images to load on a throttled timer, below the fold in a tall page.
    '/lazysizes': page(
      '<script src="/lazysizes.js" async></script>',
      Array.from(
        { length: 10 },
        (_, i) =>
          `<div style="height:500px"></div><img class="lazyload" data-src="/green.png?n=${i}" width="100" height="100" style="display:block">`,
      ).join(''),
    ),
  });
  fixtures.route('/data', (_req, res) => {
    setTimeout(() => res.writeHead(200, { 'content-type': 'text/html' }).end('<div class="box"></div>'), 500);
  });
  fixtures.route('/green.png', (_req, res) => void res.writeHead(200, { 'content-type': 'image/png' }).end(green));
  const lazysizes = await readFile(join(ROOT, 'node_modules', 'lazysizes', 'lazysizes.min.js'));
  fixtures.route(
    '/lazysizes.js',
    (_req, res) => void res.writeHead(200, { 'content-type': 'text/javascript' }).end(lazysizes),
  );
  fixtures.route('/late.ttf', (req, res) => {
    const delay = Number(new URL(req.url!, 'http://x').searchParams.get('delay') ?? 0);
    setTimeout(() => res.writeHead(200, { 'content-type': 'font/ttf' }).end(font), delay);
  });
  fixtures.route('/slow.png', (_req, res) => {
    setTimeout(() => res.writeHead(200, { 'content-type': 'image/png' }).end(green), 1000);
  });
  svc = await startService({ EGRESS_ALLOW: fixtures.allowEntry });
});

afterAll(async () => {
  await shutdownClean(svc);
  await fixtures.close();
});

async function shoot(path: string, query: Record<string, unknown> = {}) {
  const res = await request(svc.app.server)
    .get('/')
    .query({ url: `${fixtures.origin}${path}`, width: 320, height: 120, ...query })
    .buffer(true)
    .parse(binary);
  expect(res.status, res.body.toString('utf8').slice(0, 200)).toBe(200);
  const { data, info } = await sharp(res.body as Buffer)
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const at = (x: number, y: number) => (y * info.width + x) * 3;
  return { res, data, pixel: (x: number, y: number) => [...data.subarray(at(x, y), at(x, y) + 3)] };
}

function differingPixels(a: Buffer, b: Buffer): number {
  let n = 0;
  for (let i = 0; i < a.length; i += 3) {
    if (Math.abs(a[i]! - b[i]!) + Math.abs(a[i + 1]! - b[i + 1]!) + Math.abs(a[i + 2]! - b[i + 2]!) > 60) n++;
  }
  return n;
}

const GREEN = [0, 255, 0];

describe('the settle step (on by default)', () => {
  const ends = ['/css-animation', '/web-animation', '/transition', '/lazy-image', '/timer-images', '/timer-fetch'];
  it.each(ends)('%s is captured in its end state', async (path) => {
    const settled = await shoot(path);
    expect(settled.pixel(50, 50)).toEqual(GREEN);
    expect(settled.res.headers['server-timing']).toMatch(/settle;dur=/);
    // Without it, the same page is caught on its way (the test page would not prove anything otherwise).
    const raw = await shoot(path, { settle: false });
    expect(raw.pixel(50, 50)).not.toEqual(GREEN);
    expect(raw.res.headers['server-timing']).not.toMatch(/settle/);
  });

  it('fullPage loads every image lazysizes holds back, though it looks for them only every ~125 ms', async () => {
    const { data, res } = await shoot('/lazysizes', { fullPage: true, width: 200 });
    const height = Number((await sharp(res.body as Buffer).metadata()).height);
    expect(height).toBeGreaterThanOrEqual(6000);
    const missing = Array.from({ length: 10 }, (_, i) => i).filter((i) => {
      const y = (i + 1) * 500 + i * 100 + 50; // the middle of image i
      const at = (y * 200 + 50) * 3;
      return ![...data.subarray(at, at + 3)].every((v, c) => v === GREEN[c]);
    });
    expect(missing).toEqual([]);
  });

  it('a web font that arrives late is swapped in before the capture', async () => {
    // What the page looks like once the font is surely there.
    const reference = await shoot('/late-font', { delay: 2500 });
    const settled = await shoot('/late-font');
    const raw = await shoot('/late-font', { settle: false });
    expect(differingPixels(raw.data, reference.data)).toBeGreaterThan(300);
    expect(differingPixels(settled.data, reference.data)).toBe(0);
  });

  it('infinite animations are left running and do not hold the capture up', async () => {
    const res = await request(svc.app.server)
      .post('/')
      .send({
        html: page(
          '<style>@keyframes spin{to{transform:rotate(1turn)}}.box{animation:spin 1s linear infinite}</style>',
          '<div class="box"></div>',
        ),
        width: 120,
        height: 120,
      });
    expect(res.status).toBe(200);
  });
});
