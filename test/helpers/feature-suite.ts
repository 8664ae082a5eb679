/**
 * The fixture pages and the service the capture-option tests share (test/capture-*.test.ts): each file
 * calls setUpFeatureSuite() and gets its own service and Chromium on the same pages.
 */
import type http from 'node:http';
import request from 'supertest';
import { afterAll, beforeAll } from 'vitest';
import { colourPage, startFixtures, type FixtureServer } from './fixtures.js';
import { binary, capture, type Query, shutdownClean, startService, type TestService } from './service.js';

export let fixtures: FixtureServer;
export let other: FixtureServer;
export let svc: TestService;
export const seen: Record<string, http.IncomingHttpHeaders[]> = {};

export const get = (query: Query) => capture(svc, query);
export const post = (body: Record<string, unknown>) =>
  request(svc.app.server).post('/').send(body).buffer(true).parse(binary);

const record =
  (name: string): http.RequestListener =>
  (req, res) => {
    (seen[name] ??= []).push(req.headers);
    res
      .writeHead(200, { 'content-type': 'image/svg+xml' })
      .end('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>');
  };

/** Bands of 5000 px in six colours: any repeated or missing band shows. */
export const BANDS = ['#ff0000', '#00ff00', '#0000ff', '#ffff00', '#00ffff', '#ff00ff'];
export const bandRgb = (hex: string) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));

/** Registers the shared fixtures and service for the calling test file. */
export function setUpFeatureSuite(): void {
  beforeAll(async () => {
    other = await startFixtures();
    other.route('/pixel.svg', record('third-party'));
    fixtures = await startFixtures({
      '/bands': `<!doctype html><style>html,body{margin:0}div{height:5000px}</style>${BANDS.map((c) => `<div style="background:${c}"></div>`).join('')}`,
      '/lazy': `<!doctype html><style>html,body{margin:0}#far{height:400px;background:#f00}</style><div style="height:3000px;background:#fff"></div><div id="far"></div>
        <script>new IntersectionObserver((es) => es.forEach((e) => { if (e.isIntersecting) e.target.style.background = '#0f0'; })).observe(document.getElementById('far'));</script>`,
      '/box': `<!doctype html><style>html,body{margin:0;background:#fff}#box{position:absolute;left:50px;top:1200px;width:120px;height:80px;background:#00f}</style><div style="height:2000px"></div><div id="box"></div>`,
      '/transparent':
        '<!doctype html><style>html,body{margin:0;background:transparent}</style><div style="width:50px;height:50px;background:#f00"></div>',
      '/dark':
        '<!doctype html><style>html,body{margin:0;background:#fff}@media (prefers-color-scheme: dark){html,body{background:#000}}</style>',
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
    const withHeaders =
      (name: string, body: string): http.RequestListener =>
      (req, res) => {
        (seen[name] ??= []).push(req.headers);
        res.writeHead(200, { 'content-type': 'text/html' }).end(body);
      };
    // another host, not just another port: cookies are per host
    fixtures.route(
      '/headers',
      withHeaders('target', `<!doctype html><body><img src="http://localhost:${other.port}/pixel.svg"></body>`),
    );
    fixtures.route('/ua', withHeaders('ua', '<p>ua</p>'));
    fixtures.route('/counted', withHeaders('counted', colourPage('#0f0')));
    fixtures.route('/secret', (req, res) => {
      if (req.headers.authorization !== `Basic ${Buffer.from('alice:s3cret').toString('base64')}`) {
        res
          .writeHead(401, { 'www-authenticate': 'Basic realm="x"', 'content-type': 'text/html' })
          .end(colourPage('#f00'));
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
}
