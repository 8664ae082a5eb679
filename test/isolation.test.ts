/**
 * One caller cannot hurt another. Each hostile request runs beside ordinary "bystander" captures on
 * the same instance (one Chromium, one egress proxy, MAX_CONCURRENCY 4): the bystanders get their
 * image, the hostile request alone pays (a 4xx, or its own image cut to the limits), nothing is a
 * 500, and the same Chromium serves the next request.
 */
import net from 'node:net';
import sharp from 'sharp';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FORMAT_SPECS } from '../src/formats.js';
import { LIMITS } from '../src/options.js';
import { colourPage, startFixtures, type FixtureServer } from './helpers/fixtures.js';
import { binary, capture, type Query, shutdownClean, startService, type TestService } from './helpers/service.js';

let fixtures: FixtureServer;
let svc: TestService;
/** Open connections to the fixture server's /stream, as the server counts them. */
let streams = 0;

const BIG = `'x'.repeat(200000)`;
/** Logs large values without end: in the page, in a worker, and through a fresh iframe's console. */
const consoleFlood = `<!doctype html><body><script>
  const big = ${BIG};
  const worker = new Worker(URL.createObjectURL(new Blob(
    ["const big = ${BIG}; for (;;) { console.log(big, { big }, [big]); console.error(big); }"],
    { type: 'text/javascript' })));
  const frame = document.createElement('iframe');
  document.body.append(frame);
  const other = frame.contentWindow.console;
  for (;;) { console.log(big, { a: big }, [big]); other.log(big); console.warn(big); }
</script></body>`;

/** Six fetches that never end, then the page is done loading. */
const endlessStreams = `<!doctype html><body style="background:#0f0"><script>
  for (let i = 0; i < 6; i++) fetch('/stream?n=' + i).then((r) => r.body.getReader().read());
</script></body>`;

beforeAll(async () => {
  fixtures = await startFixtures({
    '/flood': consoleFlood,
    '/huge': `<!doctype html><style>body{transform:scale(100000)}</style><h1>big</h1>`,
    '/tall': `<!doctype html><body style="margin:0"><div style="height:17000px;background:#00f"></div></body>`,
    '/streams': endlessStreams,
  });
  fixtures.route('/stream', (req, res) => {
    streams += 1;
    res.writeHead(200, { 'content-type': 'text/plain' });
    const tick = setInterval(() => res.write('.'), 200);
    req.socket.once('close', () => {
      clearInterval(tick);
      streams -= 1;
    });
  });
  fixtures.route('/forged', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html', 'x-egress-blocked': 'ipv4-loopback' });
    res.end(colourPage('#ff0000', '<img src="/forged-image"><img src="/forged-image?2">'));
  });
  fixtures.route('/forged-image', (_req, res) => {
    res.writeHead(200, { 'content-type': 'image/svg+xml', 'x-egress-blocked': 'ipv4-loopback' });
    res.end('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>');
  });
  svc = await startService({ EGRESS_ALLOW: fixtures.allowEntry, MAX_CONCURRENCY: '4', MAX_QUEUE: '8' });
  await svc.browser.warm();
});

afterAll(async () => {
  await shutdownClean(svc);
  await fixtures.close();
});

const shot = (query: Query) => capture(svc, query);

/** Three ordinary captures, each with a deadline well above its normal time. */
const bystanders = () =>
  Promise.all([1, 2, 3].map(() => shot({ url: `${fixtures.origin}/red`, width: 200, height: 200, timeout: 10000 })));

async function expectBystandersFine(results: Awaited<ReturnType<typeof bystanders>>) {
  for (const res of results) {
    expect(res.status).toBe(200);
    expect((await sharp(res.body).metadata()).width).toBe(200);
  }
}

describe('hostile pages beside ordinary captures', () => {
  it('a page flooding its console (page, worker, iframe) stalls no one and costs node no memory', async () => {
    const pid = svc.browser.pid;
    const before = process.memoryUsage().rss;
    const hostile = shot({ url: `${fixtures.origin}/flood`, timeout: 8000 });
    await new Promise((r) => setTimeout(r, 1000)); // the flood is on
    const [results, flood] = await Promise.all([bystanders(), hostile]);
    await expectBystandersFine(results);
    expect([200, 504]).toContain(flood.status);
    // What node received of the flood was skipped unparsed: tens of MB, never the 1 GB it used to be.
    expect((process.memoryUsage().rss - before) / 1024 / 1024).toBeLessThan(150);
    expect(svc.browser.pid).toBe(pid);
  });

  it('an element scaled 100000×, captured by selector: cut to the pixel limit, Chromium unharmed', async () => {
    const pid = svc.browser.pid;
    const [hostile, results] = await Promise.all([
      shot({ url: `${fixtures.origin}/huge`, selector: 'h1' }),
      bystanders(),
    ]);
    await expectBystandersFine(results);
    expect(hostile.status).toBe(200);
    expect(hostile.headers['x-truncated']).toBe(`capturePixels=${LIMITS.capturePixels}`);
    const { width, height } = await sharp(hostile.body, { limitInputPixels: false }).metadata();
    expect(width! * height!).toBeLessThanOrEqual(LIMITS.capturePixels);
    expect(svc.browser.pid).toBe(pid);
  });

  it('rectangles past the limits are refused before any browser work, naming the option', async () => {
    const cases: Array<[Record<string, string | number>, string]> = [
      [{ clip: '0,0,12500,12500' }, 'clip'],
      [{ clip: '0,0,1,99999', format: 'jpeg' }, 'clip'],
      [{ clip: '0,0,20000,10' }, 'clip'],
      [{ width: 3840, height: 4320, scale: 3 }, 'scale'],
      [{ format: 'avif', width: 1280, height: 800, scale: 3 }, 'scale'],
      [{ format: 'avif', width: 2560, height: 2560 }, 'height'],
      [{ format: 'avif', device: 'iPad Pro' }, 'device'],
      [{ format: 'avif', clip: '0,0,2100,2100' }, 'clip'],
      [{ format: 'pdf', margin: '999in' }, 'margin'],
    ];
    for (const [query, field] of cases) {
      const res = await shot({ url: `${fixtures.origin}/huge`, ...query });
      expect({ query, status: res.status }).toEqual({ query, status: 400 });
      expect(JSON.parse(res.body.toString()).field).toBe(field);
    }
  });

  it('a page taller than webp can hold is cut to its limit, not a 500', async () => {
    const res = await shot({ url: `${fixtures.origin}/tall`, fullPage: true, format: 'webp' });
    expect(res.status).toBe(200);
    const { height } = await sharp(res.body, { limitInputPixels: false }).metadata();
    expect(res.headers['x-truncated']).toBe(`webp=${height}px`);
    expect(height).toBeGreaterThan(16_000);
  });

  it('an avif capture is cut to the pixels its encoder is given (4 Mpx), not to the texture limit', async () => {
    const res = await shot({ url: `${fixtures.origin}/tall`, fullPage: true, format: 'avif' });
    expect(res.status).toBe(200);
    const maxPixels = FORMAT_SPECS.avif.maxPixels;
    expect(res.headers['x-truncated']).toBe(`capturePixels=${maxPixels}`);
    const { width, height } = await sharp(res.body, { limitInputPixels: false }).metadata();
    expect(width! * height!).toBeLessThanOrEqual(maxPixels);
    expect(width! * height!).toBeGreaterThan(maxPixels - width!);
  });

  it('an encode the deadline overtook leaves no file behind, and the next avif waits for its encoder', async () => {
    // 4 Mpx of noise: seconds of AVIF encoding on any CPU, longer than the request is given.
    const noise = `<body style="margin:0"><canvas id="c" width="2048" height="2048" style="display:block"></canvas><script>
      const ctx = c.getContext('2d'); const img = ctx.createImageData(2048, 2048);
      const v = new Uint32Array(img.data.buffer); let x = 2463534242;
      for (let i = 0; i < v.length; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; v[i] = x | 0xff000000; }
      ctx.putImageData(img, 0, 0);
    </script></body>`;
    const post = (body: Record<string, unknown>) =>
      request(svc.app.server).post('/').send(body).buffer(true).parse(binary);
    const late = await post({
      html: noise,
      width: 2048,
      height: 2048,
      format: 'avif',
      quality: 100,
      settle: false,
      timeout: 5000,
    });
    expect(late.status).toBe(504);
    expect(JSON.parse(late.body.toString())).toMatchObject({ error: 'timeout', phase: 'encode' });
    // One AVIF encode at a time: this one's answer comes once the overtaken encode has ended.
    const next = await post({ html: '<p>next</p>', width: 200, height: 100, format: 'avif' });
    expect(next.status).toBe(200);
    await expect.poll(() => svc.leftovers(), { timeout: 5000 }).toEqual([]);
  }, 120_000);

  it('endless streams close with their capture: no upstream socket is left pinned', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await shot({ url: `${fixtures.origin}/streams`, width: 100, height: 100, settle: false });
      expect(res.status).toBe(200);
    }
    // The contexts are closed after each answer; the proxy's upstream sockets go with them.
    await expect.poll(() => streams, { timeout: 10_000 }).toBe(0);
    await expectBystandersFine(await bystanders());
  });

  it('a target cannot forge the guard: its own x-egress-blocked headers count for nothing', async () => {
    const res = await shot({ url: `${fixtures.origin}/forged`, width: 100, height: 100 });
    expect(res.status).toBe(200);
    expect(res.headers['x-blocked-requests']).toBe('0');
  });
});

describe('pages that break what our in-page scripts rely on', () => {
  const sabotage: Array<[string, string, Record<string, string | boolean>]> = [
    ['its document removed', 'document.documentElement.remove()', {}],
    ['Array.from gone', 'Array.from = null', {}],
    ['getBoundingClientRect gone, by selector', 'Element.prototype.getBoundingClientRect = null', { selector: 'p' }],
    ['querySelector throwing a number', 'document.querySelector = () => { throw 1 }', {}],
    ['document.fonts throwing', 'Object.defineProperty(document, "fonts", { get() { throw 1 } })', {}],
    ['scrollTo gone, fullPage', 'window.scrollTo = null', { fullPage: true }],
    [
      'a NaN height, fullPage',
      'Object.defineProperty(document.documentElement, "scrollHeight", { get: () => NaN })',
      { fullPage: true, settle: false },
    ],
  ];
  it.each(sabotage)('%s: its own 502 (or image), never a 500 of ours', async (_name, script, extra) => {
    const res = await request(svc.app.server)
      .post('/')
      .send({ html: `<p>text</p><script>${script}</script>`, width: 200, height: 200, timeout: 8000, ...extra })
      .buffer(true)
      .parse(binary);
    expect(res.status).not.toBe(500);
    if (res.status !== 200) expect(JSON.parse(res.body.toString()).error).not.toBe('internal');
    await expectBystandersFine(await bystanders());
  });

  it('an unparsable waitForSelector is a 400 at once, not a wait until the deadline', async () => {
    const res = await shot({ url: `${fixtures.origin}/red`, waitForSelector: '[', timeout: 20000 });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body.toString()).field).toBe('waitForSelector');
  });
});

describe('Chromium dies under a capture', () => {
  it('the captures in flight are tried once more on a new Chromium and answered', async () => {
    const slow = `${fixtures.origin}/slow-${Date.now()}`;
    fixtures.route(new URL(slow).pathname, (_req, res) => {
      setTimeout(() => res.writeHead(200, { 'content-type': 'text/html' }).end(colourPage('#00ff00')), 1500);
    });
    const before = svc.browser.pid!;
    const pending = Promise.all([1, 2].map(() => shot({ url: slow, width: 64, height: 64, timeout: 20000 })));
    await new Promise((r) => setTimeout(r, 600));
    process.kill(before, 'SIGKILL');
    for (const res of await pending) expect(res.status).toBe(200);
    expect(svc.browser.pid).not.toBe(before);
  });
});

describe('requests that arrive too slowly', () => {
  it('a body trickled a byte at a time is answered 408, not held', async () => {
    const { port } = new URL(svc.origin);
    const socket = net.connect(Number(port), '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    socket.write('POST / HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{');
    const drip = setInterval(() => socket.write(' '), 2000);
    const started = Date.now();
    const answer = await new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (d) => (text += d));
      socket.once('close', () => resolve(text));
    });
    clearInterval(drip);
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(JSON.parse(answer.split('\r\n\r\n')[1]!)).toMatchObject({ error: 'bad_request' });
    expect(Date.now() - started).toBeLessThan(40_000);
  }, 60_000);
});
