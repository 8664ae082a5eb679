/**
 * Warm tabs (src/browser/warm-tabs.ts, scrubbed by src/browser/own-tab.ts): a capture of a site runs
 * in the tab, and the renderer process, an earlier capture of that site left; nothing that capture did
 * may be visible to it. A hostile page writes every kind of state it can (cookies, local and session
 * storage, IndexedDB, Cache Storage, a service worker, the window's name, history entries, a global,
 * cached responses, a same-site frame's storage) and keeps writing from timers and as it is left; the
 * next capture of the site (MAX_CONCURRENCY 1, so it is served by the same tab, which its Server-Timing
 * says) reports what it finds to the fixture server.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestCert } from './corpus/cert.js';
import { startFixtures, type FixtureServer } from './helpers/fixtures.js';
import { capture, shutdownClean, startService, type TestService, withOwnService } from './helpers/service.js';

let fixtures: FixtureServer;
/** A second site (another loopback address), for the cross-site frame. */
let other: http.Server;
let otherOrigin: string;
/** Another origin of the same site (the same address, another port), for a same-site frame. */
let sibling: http.Server;
let siblingOrigin: string;
/** A third origin of the site, for a frame the page removes again. */
let cousin: http.Server;
let cousinOrigin: string;
let svc: TestService;
const reports: Array<Record<string, unknown>> = [];
let beacons = 0;

/** What a page can find of an earlier page of its site, sent to /report. */
const READ = `
  async function findings() {
    const out = {};
    out.cookie = document.cookie;
    out.local = Object.keys(localStorage);
    out.session = Object.keys(sessionStorage);
    out.name = window.name;
    out.history = history.length;
    out.global = typeof window.leftBehind;
    out.idb = (await indexedDB.databases()).map((d) => d.name);
    out.caches = await caches.keys();
    out.workers = (await navigator.serviceWorker.getRegistrations()).length;
    out.controlled = Boolean(navigator.serviceWorker.controller);
    out.dark = matchMedia('(prefers-color-scheme: dark)').matches;
    out.zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    out.agent = navigator.userAgent;
    out.visible = document.visibilityState;
    out.raf = await new Promise((r) => { requestAnimationFrame(() => r('ran')); setTimeout(() => r('stuck'), 500); });
    out.width = innerWidth;
    return out;
  }`;

const hostile = (other: string, removed = '') => `<!doctype html><body style="background:#f00">
<img src="/cached.png"><link rel="stylesheet" href="/cached.css">
<iframe src="${other}/frame-write"></iframe>
<script>
  if ('${removed}') {
    const gone = document.createElement('iframe');
    gone.src = '${removed}/frame-write';
    gone.onload = () => setTimeout(() => gone.remove(), 50);
    document.body.append(gone);
  }
  document.cookie = 'left=1; max-age=3600';
  localStorage.setItem('left', '1');
  sessionStorage.setItem('left', '1');
  window.name = 'left';
  window.leftBehind = 1;
  history.pushState({}, '', '?a'); history.pushState({}, '', '?b');
  indexedDB.open('left', 1).onupgradeneeded = (e) => e.target.result.createObjectStore('s');
  caches.open('left').then((c) => c.put('/left', new Response('left')));
  navigator.serviceWorker.register('/sw.js');
  fetch('/cached.txt');
  // Goes on writing after its capture, for as long as it runs (and as it is left), and saying so.
  addEventListener('pagehide', () => { sessionStorage.setItem('hide', '1'); localStorage.setItem('hide', '1'); });
  setInterval(() => {
    sessionStorage.setItem('late' + Date.now(), '1');
    localStorage.setItem('late' + Date.now(), '1');
    document.cookie = 'late=1; max-age=3600';
  }, 10);
  setInterval(() => fetch('/beacon').catch(() => {}), 150);
</script></body>`;

const reader = (other: string, removed = '') => `<!doctype html><body style="background:#0f0">
<img src="/cached.png"><link rel="stylesheet" href="/cached.css">
<iframe src="${other}/frame-read"></iframe>
${removed ? `<iframe src="${removed}/frame-read?removed"></iframe>` : ''}
<script>${READ}
  fetch('/cached.txt');
  findings().then((out) => fetch('/report', { method: 'POST', body: JSON.stringify(out) }));
</script></body>`;

/**
 * A capture once the last one’s tab is scrubbed and kept, and every context closed: what each test
 * expects of the tabs then does not hang on how fast the last scrub was.
 */
async function settledCapture(query: Parameters<typeof capture>[1]) {
  await svc.browser.openContexts();
  return capture(svc, query);
}

const hits = (path: string) => fixtures.hits.filter((h) => h === path).length;
const hintHeaders: http.IncomingHttpHeaders[] = [];
/** An HTTPS site, and the client port each of its requests came from. */
let tls: https.Server;
let tlsOrigin: string;
const tlsPorts: number[] = [];
const done = { waitForSelector: '#done', timeout: '15000' };

beforeAll(async () => {
  fixtures = await startFixtures();
  const frames = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const html = (body: string) => res.writeHead(200, { 'content-type': 'text/html' }).end(body);
    if (req.url === '/frame-write')
      html(`<script>
        const write = () => {
          localStorage.setItem('frame' + Date.now(), '1');
          sessionStorage.setItem('frame' + Date.now(), '1');
          document.cookie = 'frame=1; max-age=3600';
        };
        write();
        setInterval(write, 5);
        addEventListener('pagehide', write);
      </script>`);
    else if (req.url?.startsWith('/frame-read')) {
      const key = req.url.endsWith('?removed') ? 'removedFrame' : 'frame';
      html(
        `<script>fetch('${fixtures.origin}/report', { method: 'POST', body: JSON.stringify({ ${key}: Object.keys(localStorage), ${key}Session: Object.keys(sessionStorage), ${key}Cookie: document.cookie }) });</script>`,
      );
    } else if (req.url === '/frame-plain') html('<p>a frame of the site</p>');
    else res.writeHead(404).end();
  };
  other = http.createServer(frames);
  sibling = http.createServer(frames);
  cousin = http.createServer(frames);
  await new Promise<void>((r) => cousin.listen(0, '127.0.0.1', r));
  cousinOrigin = `http://127.0.0.1:${(cousin.address() as AddressInfo).port}`;
  await new Promise<void>((r) => other.listen(0, '127.0.0.2', r));
  await new Promise<void>((r) => sibling.listen(0, '127.0.0.1', r));
  otherOrigin = `http://127.0.0.2:${(other.address() as AddressInfo).port}`;
  siblingOrigin = `http://127.0.0.1:${(sibling.address() as AddressInfo).port}`;
  const page = (body: string) => (_q: http.IncomingMessage, r: http.ServerResponse) =>
    void r.writeHead(200, { 'content-type': 'text/html' }).end(body);
  fixtures.route('/hostile', (q, r) => page(hostile(siblingOrigin, cousinOrigin))(q, r));
  fixtures.route('/read', (q, r) => page(reader(siblingOrigin, cousinOrigin))(q, r));
  // 120 MB of arrays in the JavaScript heap, held until the page is left: garbage once scrubbed.
  fixtures.route('/heavy', (q, r) =>
    page(`<script>window.junk = Array.from({ length: 15 }, (_, i) => new Array(1e6).fill(i + 0.5));</script>`)(q, r),
  );
  fixtures.route('/with-sibling-frame', (q, r) => page(`<iframe src="${siblingOrigin}/frame-plain"></iframe>`)(q, r));
  fixtures.route('/pop-up', (q, r) => page(`<script>window.open('${siblingOrigin}/frame-write');</script>`)(q, r));
  fixtures.route('/cross-site-frame', (q, r) => page(hostile(otherOrigin))(q, r));
  fixtures.route('/cross-site-read', (q, r) => page(reader(otherOrigin))(q, r));
  // A frame of the site inside a data: document (an opaque origin): its storage is partitioned too.
  const inOpaque = (path: string) =>
    `<iframe src="data:text/html,<iframe src='${siblingOrigin}${path}'></iframe>"></iframe>`;
  fixtures.route('/opaque-frame', (q, r) => page(inOpaque('/frame-write'))(q, r));
  fixtures.route('/opaque-frame-read', (q, r) => page(inOpaque('/frame-read'))(q, r));
  // The same, one frame deeper: the data: document writes the site's frame into a frame of its own that
  // never navigates (its document stays the opaque one it was made with).
  const inOpaqueNested = (path: string) => {
    const inner = `<iframe id="f"></iframe><script>f.contentDocument.body.innerHTML = '<iframe src="${siblingOrigin}${path}"></iframe>';</script>`;
    return `<iframe src="data:text/html,${encodeURIComponent(inner)}"></iframe>`;
  };
  fixtures.route('/opaque-nested', (q, r) => page(inOpaqueNested('/frame-write'))(q, r));
  fixtures.route('/opaque-nested-read', (q, r) => page(inOpaqueNested('/frame-read'))(q, r));
  fixtures.route('/options', (_q, r) =>
    r
      .writeHead(200, { 'content-type': 'text/html' })
      .end(
        `<script>${READ}; findings().then((out) => fetch('/report', { method: 'POST', body: JSON.stringify(out) }));</script>`,
      ),
  );
  const cached = (type: string, body: string | Buffer) => (_q: http.IncomingMessage, r: http.ServerResponse) =>
    void r.writeHead(200, { 'content-type': type, 'cache-control': 'max-age=3600' }).end(body);
  fixtures.route(
    '/cached.png',
    cached('image/svg+xml', '<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"/>'),
  );
  fixtures.route('/cached.css', cached('text/css', 'p{color:red}'));
  fixtures.route('/cached.txt', cached('text/plain', 'cached'));
  fixtures.route(
    '/sw.js',
    cached(
      'text/javascript',
      `self.addEventListener('fetch', (e) => e.respondWith(new Response('<h1>poisoned</h1>', { headers: { 'content-type': 'text/html' } })));`,
    ),
  );
  fixtures.route('/beacon', (_q, r) => {
    beacons += 1;
    r.writeHead(204).end();
  });
  fixtures.route('/report', (req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      reports.push(JSON.parse(body));
      res.writeHead(204, { 'access-control-allow-origin': '*' }).end();
    });
  });
  // The page opens a window once the scrub has begun (its service worker removed is the sign).
  fixtures.route('/noop-sw.js', (_q, r) => void r.writeHead(200, { 'content-type': 'text/javascript' }).end(''));
  fixtures.route(
    '/opener',
    page(`<script>
      navigator.serviceWorker.register('/noop-sw.js').then(() => navigator.serviceWorker.ready).then(() => {
        const poll = setInterval(async () => {
          if ((await navigator.serviceWorker.getRegistrations()).length === 0) { clearInterval(poll); window.open('/lurker'); }
        }, 1);
      });
    </script>`),
  );
  fixtures.route(
    '/lurker',
    page(`<script>
      setInterval(() => {
        document.cookie = 'lurk=1; max-age=3600';
        try {
          if (opener.location.pathname === '/victim' && opener.document.body) {
            fetch('/report', { method: 'POST', body: JSON.stringify({ stolen: opener.document.getElementById('secret').textContent }) });
            opener.document.body.style.background = '#ff00ff';
          }
        } catch {}
      }, 20);
    </script>`),
  );
  fixtures.route(
    '/victim',
    page(`<body style="margin:0;background:#fff"><p id="secret">victim-secret</p><script>
      setTimeout(() => fetch('/report', { method: 'POST', body: JSON.stringify({ victimCookie: document.cookie }) })
        .then(() => document.body.append(Object.assign(document.createElement('div'), { id: 'done', textContent: 'done' }))), 1000);
    </script></body>`),
  );
  // A keepalive request sent as the page is left, answered with a cookie after a while.
  fixtures.route(
    '/keepalive',
    page(`<script>addEventListener('pagehide', () => fetch('/late-cookie', { keepalive: true }));</script>`),
  );
  fixtures.route('/late-cookie', (_q, res) => {
    setTimeout(() => res.writeHead(200, { 'set-cookie': 'late=1; Max-Age=3600; Path=/' }).end(), 1200);
  });
  const later = (script: string) =>
    page(`<body><script>(async () => { ${script} })()
      .then((out) => fetch('/report', { method: 'POST', body: JSON.stringify(out) }))
      .then(() => document.body.append(Object.assign(document.createElement('div'), { id: 'done', textContent: 'done' })));</script></body>`);
  fixtures.route(
    '/cookie-later',
    later(`await new Promise((r) => setTimeout(r, 2000)); return { lateCookie: document.cookie };`),
  );
  // The HTTP authentication cache: a page logs in with a user and password.
  const basic = (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (req.headers.authorization) res.writeHead(200).end('in');
    else res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' }).end('no');
  };
  fixtures.route('/auth/login', basic);
  fixtures.route('/auth/data', basic);
  fixtures.route(
    '/log-in',
    page(
      `<script>const x = new XMLHttpRequest(); x.open('GET', '/auth/login', false, 'user', 'secret'); x.send();</script>`,
    ),
  );
  fixtures.route('/auth-read', later(`return { authStatus: (await fetch('/auth/data')).status };`));
  // Client hints a page asks for (Accept-CH), which Chromium then sends to its origin.
  fixtures.route(
    '/hints',
    (_q, r) =>
      void r
        .writeHead(200, { 'content-type': 'text/html', 'accept-ch': 'Sec-CH-UA-Arch, Device-Memory' })
        .end('<p>hints</p>'),
  );
  fixtures.route('/hint-read', (req, r) => {
    hintHeaders.push(req.headers);
    r.writeHead(200, { 'content-type': 'text/html' }).end('<p>read</p>');
  });
  fixtures.route('/no-background', page('<body style="margin:0"></body>'));
  fixtures.route('/go-back', page(`<script>setTimeout(() => history.back(), 50);</script>`));
  fixtures.route('/go-back-at-once', page(`<script>history.back();</script>`));
  fixtures.route('/go-back-later', page(`<script>onload = () => setTimeout(() => history.back(), 300);</script>`));
  // The way back starts at once and waits on a slow beforeunload: the history cannot be reset meanwhile.
  fixtures.route(
    '/go-back-slowly',
    page(
      `<script>addEventListener('beforeunload', () => { const t = Date.now(); while (Date.now() - t < 300); }); history.back();</script>`,
    ),
  );
  fixtures.route(
    '/history-length',
    page(`<script>onload = () => setTimeout(() => fetch('/history-length-was-' + history.length), 200);</script>`),
  );

  const cert = await makeTestCert(['127.0.0.1']);
  tls = https.createServer({ key: cert.key, cert: cert.cert }, (req, res) => {
    tlsPorts.push(req.socket.remotePort ?? 0);
    res.writeHead(200, { 'content-type': 'text/html' }).end('<p>tls</p>');
  });
  await new Promise<void>((r) => tls.listen(0, '127.0.0.1', r));
  tlsOrigin = `https://127.0.0.1:${(tls.address() as AddressInfo).port}`;

  svc = await startService({
    TRUST_SPKI: cert.spki,
    EGRESS_ALLOW: [
      fixtures.allowEntry,
      `127.0.0.2:${(other.address() as AddressInfo).port}`,
      `127.0.0.1:${(sibling.address() as AddressInfo).port}`,
      `127.0.0.1:${(cousin.address() as AddressInfo).port}`,
      `127.0.0.1:${(tls.address() as AddressInfo).port}`,
    ].join(','),
    MAX_CONCURRENCY: '1',
  });
  // The site has been captured before: its tabs are worth keeping from now on.
  expect((await settledCapture({ url: `${fixtures.origin}/red` })).status).toBe(200);
});

afterAll(async () => {
  await shutdownClean(svc);
  await fixtures.close();
  await new Promise((r) => other.close(r));
  await new Promise((r) => sibling.close(r));
  await new Promise((r) => cousin.close(r));
  tls.closeAllConnections();
  await new Promise((r) => tls.close(r));
});

/** Captures `path` and returns the reports its page (and its frames) sent. */
async function reported(path: string, query: Record<string, string> = {}) {
  const before = reports.length;
  const res = await settledCapture({ url: `${fixtures.origin}${path}`, ...query });
  if (process.env.DEBUG_SCRUB) console.error(path, res.headers['server-timing']);
  expect(res.status).toBe(200);
  return { res, found: Object.assign({}, ...reports.slice(before)) as Record<string, unknown> };
}

describe('a warm tab shows the next capture of its site nothing of the last', () => {
  it('runs the next capture of the site in the same tab, and it finds no trace of a hostile page', async () => {
    const first = await settledCapture({ url: `${fixtures.origin}/hostile` });
    expect(first.status).toBe(200);
    expect(first.headers['server-timing']).not.toMatch(/page;desc=warm/);
    expect(hits('/sw.js')).toBe(1); // the worker was registered before the capture ended
    const { res, found } = await reported('/read');
    expect(res.headers['server-timing']).toMatch(/page;desc=warm/);
    expect(found).toMatchObject({
      cookie: '',
      local: [],
      session: [],
      name: '',
      global: 'undefined',
      idb: [],
      caches: [],
      workers: 0,
      controlled: false,
      frame: [],
      frameSession: [],
      frameCookie: '',
    });
    // The hostile page's entries are gone; the blank page between the captures is the one before it.
    expect(found.history).toBeLessThanOrEqual(2);
    // Nothing came from the renderer's memory or the HTTP cache: each capture fetched its own.
    expect(hits('/cached.png')).toBe(2);
    expect(hits('/cached.css')).toBe(2);
    expect(hits('/cached.txt')).toBe(2);
  });

  it('closes, rather than keeps, a tab that showed a frame of another site (its storage is partitioned)', async () => {
    await settledCapture({ url: `${fixtures.origin}/cross-site-frame` });
    const { res, found } = await reported('/cross-site-read');
    expect(res.headers['server-timing']).not.toMatch(/page;desc=warm/);
    expect(found).toMatchObject({ local: [], session: [], frame: [], frameSession: [], frameCookie: '' });
  });

  it.each([
    ['a data: frame', '/opaque-frame'],
    ['a frame that never navigated, inside a data: frame', '/opaque-nested'],
  ])(
    'closes, rather than keeps, a tab that showed a frame of its site inside %s (storage partitioned)',
    async (_where, plant) => {
      await settledCapture({ url: `${fixtures.origin}${plant}` });
      const { res, found } = await reported(`${plant}-read`);
      expect(found).toHaveProperty('frame');
      expect(found).toMatchObject({ frame: [], frameSession: [] });
      expect(res.headers['server-timing']).not.toMatch(/page;desc=warm/);
    },
  );

  it('closes, rather than keeps, a tab whose page opened a pop-up (a tab of its own, in the same context)', async () => {
    await settledCapture({ url: `${fixtures.origin}/pop-up` });
    const { res, found } = await reported('/read');
    expect(res.headers['server-timing']).not.toMatch(/page;desc=warm/);
    expect(found).toMatchObject({ frame: [], frameSession: [] });
  });

  it('stops everything the last page left running', async () => {
    await settledCapture({ url: `${fixtures.origin}/hostile` });
    await settledCapture({ url: `${fixtures.origin}/read` });
    const settled = beacons;
    await new Promise((r) => setTimeout(r, 600));
    expect(beacons).toBe(settled);
  });

  it('leaves none of a capture’s options to the next', async () => {
    await reported('/options', {
      darkMode: 'true',
      timezone: 'Asia/Tokyo',
      userAgent: 'CallerAgent/1.0',
      width: '700',
    });
    const { res, found } = await reported('/options');
    expect(res.headers['server-timing']).toMatch(/page;desc=warm/);
    expect(found.dark).toBe(false);
    expect(found.zone).not.toBe('Asia/Tokyo');
    expect(found.agent).not.toContain('CallerAgent');
    expect(found.width).toBe(1280);
  });

  it('leaves no transparent background (omitBackground) to the next capture (such a tab is never kept)', async () => {
    await settledCapture({ url: `${fixtures.origin}/no-background`, omitBackground: 'true', format: 'png' });
    const res = await settledCapture({ url: `${fixtures.origin}/no-background`, format: 'png' });
    const { data, info } = await sharp(res.body).raw().toBuffer({ resolveWithObject: true });
    expect(info.channels).toBe(3);
    expect([...data.subarray(0, 3)]).toEqual([255, 255, 255]);
  });

  it('shows no pixel of the last page while the next has painted nothing yet (a frame host reused)', async () => {
    for (let i = 0; i < 2; i++) await settledCapture({ url: `${fixtures.origin}/red` }); // the site recurs: kept
    const res = await settledCapture({
      url: `${fixtures.origin}/no-background`,
      settle: 'false',
      waitUntil: 'domcontentloaded',
      format: 'png',
    });
    expect(res.headers['server-timing']).toMatch(/page;desc=warm/);
    const { data, info } = await sharp(res.body).raw().toBuffer({ resolveWithObject: true });
    let red = 0;
    for (let i = 0; i < data.length; i += info.channels) if (data[i]! > 200 && data[i + 1]! < 80) red += 1;
    expect(red).toBe(0);
  });

  it('keeps no tab after a capture that failed or sent the caller’s credentials', async () => {
    await settledCapture({ url: `${fixtures.origin}/red` });
    expect(svc.browser.warmTabs).toBe(1);
    const failed = await settledCapture({ url: `${fixtures.origin}/red`, waitForSelector: '#never', timeout: '1500' });
    expect(failed.status).toBe(504);
    expect(svc.browser.warmTabs).toBe(0);
    await settledCapture({ url: `${fixtures.origin}/red`, cookies: JSON.stringify([{ name: 'session', value: 'x' }]) });
    expect(svc.browser.warmTabs).toBe(0);
  });
});

describe('what a page leaves as it goes, and state no scrub clears', () => {
  it('a pop-up opened while the tab is scrubbed: the next page is neither read nor repainted', async () => {
    await settledCapture({ url: `${fixtures.origin}/opener` });
    // Whether the pop-up beats the page's end varies; either way the next page is untouched.
    const { res, found } = await reported('/victim', done);
    const { data } = await sharp(res.body).raw().toBuffer({ resolveWithObject: true });
    expect({ ...found, corner: [...data.subarray(0, 3)] }).toEqual({ victimCookie: '', corner: [255, 255, 255] });
  });

  it('a keepalive request from pagehide is waited for, and the cookie it sets cleared', async () => {
    await settledCapture({ url: `${fixtures.origin}/keepalive` });
    const { found } = await reported('/cookie-later', done);
    expect(found.lateCookie).toBe('');
  });

  it('a page that logged in (HTTP auth cache) or asked for client hints: the tab is closed', async () => {
    await settledCapture({ url: `${fixtures.origin}/log-in` });
    const auth = await reported('/auth-read', done);
    expect(auth.res.headers['server-timing']).not.toMatch(/page;desc=warm/);
    expect(auth.found.authStatus).toBe(401);
    await settledCapture({ url: `${fixtures.origin}/hints` });
    const read = await settledCapture({ url: `${fixtures.origin}/hint-read` });
    expect(read.headers['server-timing']).not.toMatch(/page;desc=warm/);
    expect(hintHeaders.at(-1)).not.toHaveProperty('device-memory');
  });

  it('no connection of the last capture carries the next one (a server cannot link them by it)', async () => {
    for (let i = 0; i < 3; i++) await settledCapture({ url: `${tlsOrigin}/page-${i}` });
    const res = await settledCapture({ url: `${tlsOrigin}/page-3` });
    expect(res.headers['server-timing']).toMatch(/page;desc=warm/);
    expect(new Set(tlsPorts.slice(-2)).size).toBe(2);
  });

  it.each(['/go-back-at-once', '/go-back', '/go-back-later', '/go-back-slowly'])(
    'history.back() in the next capture leads to no page of the last, nor to the scrub’s (%s)',
    async (path) => {
      for (let i = 0; i < 2; i++) await settledCapture({ url: `${fixtures.origin}/red` }); // the site recurs: kept
      const before = fixtures.hits.length;
      const res = await settledCapture({ url: `${fixtures.origin}${path}`, delay: '800' });
      expect(res.headers['server-timing']).toMatch(/page;desc=warm/);
      expect(fixtures.hits.slice(before)).toEqual([path]);
    },
  );
});

describe('the history a warm capture sees', () => {
  it('holds only its own page once loaded, as in a fresh tab (the blank document before it is gone)', async () => {
    for (let i = 0; i < 2; i++) await settledCapture({ url: `${fixtures.origin}/red` }); // the site recurs: kept
    const res = await settledCapture({ url: `${fixtures.origin}/history-length`, delay: '600' });
    expect(res.headers['server-timing']).toMatch(/page;desc=warm/);
    expect(fixtures.hits).toContain('/history-length-was-1');
    expect(fixtures.hits).not.toContain('/history-length-was-2');
  });
});

describe('which tabs are kept', () => {
  it('keeps none for a site captured once, and one once the site comes up again', async () => {
    const timing = async () => (await settledCapture({ url: `${otherOrigin}/plain` })).headers['server-timing'];
    expect(await timing()).not.toMatch(/desc=warm/); // first capture of the site: its tab is closed
    expect(await timing()).not.toMatch(/desc=warm/); // the site recurs: this tab is kept
    expect(await timing()).toMatch(/page;desc=warm/);
  });

  it('keeps a tab whose page has a frame of its site from another port, capture after capture', async () => {
    const url = `${fixtures.origin}/with-sibling-frame`;
    const timings: string[] = [];
    for (let i = 0; i < 4; i++) timings.push(String((await settledCapture({ url })).headers['server-timing']));
    // The second scrub runs on the session the first opened: its blank documents need their frame too.
    expect(timings.slice(2)).toEqual([
      expect.stringMatching(/page;desc=warm/),
      expect.stringMatching(/page;desc=warm/),
    ]);
  });

  it('a capture that comes while its site’s tab is still being scrubbed waits for it, though a fresh tab is ready', async () => {
    const url = `${otherOrigin}/plain`;
    for (let i = 0; i < 2; i++) await settledCapture({ url }); // the site recurs: this tab is kept
    await svc.browser.openContexts(); // its scrub done, and a fresh spare tab ready beside it
    expect((await capture(svc, { url })).headers['server-timing']).toMatch(/page;desc=warm/);
    // That tab's scrub began as its capture ended, before the answer was sent, and still runs: the next
    // request, sent now, finds it being scrubbed (with the spare ready) and waits for it.
    expect(svc.browser.scrubsInProgress).toBe(1);
    expect((await capture(svc, { url })).headers['server-timing']).toMatch(/page;desc=warm/);
  });
});

describe('the spare tab', () => {
  it('is given back while kept tabs serve every capture, and made again once a capture needs a fresh tab', async () => {
    // A service of its own: how long a streak gives the spare up depends on what came before.
    await withOwnService({ EGRESS_ALLOW: fixtures.allowEntry, MAX_CONCURRENCY: '1' }, async (own) => {
      const url = `${fixtures.origin}/red`;
      const timing = async (query: Parameters<typeof capture>[1]) => {
        await own.browser.openContexts();
        const res = await capture(own, query);
        expect(res.status).toBe(200);
        expect(await own.browser.openContexts()).toBe(0); // a spare given up is closed, not leaked
        return String(res.headers['server-timing']);
      };
      // Never kept (a transparent background), so always a fresh tab.
      const fresh = { url, omitBackground: 'true', format: 'png' };
      for (let i = 0; i < 2; i++) await timing({ url }); // the site recurs: its tab is kept
      expect(await timing(fresh)).not.toMatch(/desc=warm/);
      expect(own.browser.hasSpare).toBe(true);
      // MAX_CONCURRENCY 1, so one kept tab: two captures in a row served by it, and the spare goes.
      expect(await timing({ url })).toMatch(/page;desc=warm/);
      expect(own.browser.hasSpare).toBe(true);
      expect(await timing({ url })).toMatch(/page;desc=warm/);
      expect(own.browser.hasSpare).toBe(false);
      // The next capture that needs a fresh tab opens one itself, and the spare comes back after it.
      expect(await timing(fresh)).not.toMatch(/desc=warm/);
      expect(own.browser.hasSpare).toBe(true);
      // Giving it up proved wrong, so the streak that gives it up is now twice as long: four captures.
      for (let i = 0; i < 3; i++) expect(await timing({ url })).toMatch(/page;desc=warm/);
      expect(own.browser.hasSpare).toBe(true);
      expect(await timing({ url })).toMatch(/page;desc=warm/);
      expect(own.browser.hasSpare).toBe(false);
    });
  });
});

describe('what a tab carries of puppeteer', () => {
  it('no request listener of its own, fresh or kept: one, the tab’s watch for credentials in URLs', async () => {
    // Puppeteer's page tracks requests in flight for waitForNetworkIdle with a chain of rxjs
    // observables per request; the service never uses it, and OwnTab.open removes its listener
    // (with it, two).
    const listeners = () => svc.browser.withPage(async (tab) => tab.page.listenerCount('request'));
    expect(await listeners()).toBe(1); // a fresh tab
    // Puppeteer's wait, which would count nothing now, fails instead of ending early.
    await expect(svc.browser.withPage((tab) => tab.page.waitForNetworkIdle())).rejects.toThrow(/in-flight/);
    const url = new URL(`${fixtures.origin}/red`);
    for (let i = 0; i < 2; i++) await settledCapture({ url: url.href }); // the site recurs: its tab is kept
    await svc.browser.openContexts();
    const site = `${url.protocol}//${url.hostname}`; // the key warm tabs are kept by (render-page.ts)
    const kept = await svc.browser.withPage(
      async (tab, { warm }) => ({ warm, n: tab.page.listenerCount('request') }),
      undefined,
      site,
    );
    expect(kept).toEqual({ warm: true, n: 1 });
  });
});

describe('a kept tab', () => {
  it('gives back the JavaScript heap the last page left before the next capture takes it', async () => {
    const { processTree, anonMb } = await import('../src/browser/memory.js');
    const { readFileSync } = await import('node:fs');
    const renderers = async () =>
      (await processTree(svc.browser.pid!)).filter((pid) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes('--type=renderer');
        } catch {
          return false;
        }
      });
    const largest = async () => Math.max(0, ...(await renderers()).map((pid) => anonMb(pid)));
    await settledCapture({ url: `${fixtures.origin}/heavy` });
    // The site recurs: this tab is kept. While the page is held (delay), its renderer holds the arrays.
    let held = 0;
    const capturing = settledCapture({ url: `${fixtures.origin}/heavy`, delay: 1500 });
    for (let waited = 0; waited < 1400; waited += 100) {
      held = Math.max(held, await largest());
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await capturing).status).toBe(200);
    expect(held).toBeGreaterThan(120);
    await svc.browser.openContexts(); // its scrub done
    expect(svc.browser.warmTabs).toBe(1);
    // The scrub collected them, with no idle wait.
    expect(await largest()).toBeLessThan(60);
    // And the kept tab is still the next capture's.
    expect((await capture(svc, { url: `${fixtures.origin}/red` })).headers['server-timing']).toMatch(/desc=warm/);
  });
});

describe('WARM_TABS', () => {
  it('0 gives every capture a fresh context', async () => {
    await withOwnService({ EGRESS_ALLOW: fixtures.allowEntry, MAX_CONCURRENCY: '1', WARM_TABS: '0' }, async (own) => {
      for (let i = 0; i < 2; i++) {
        const res = await capture(own, { url: `${fixtures.origin}/red` });
        expect(res.status).toBe(200);
        expect(res.headers['server-timing']).not.toMatch(/desc=warm/);
      }
      expect(own.browser.warmTabs).toBe(0);
    });
  });
});

describe('under memory pressure', () => {
  it('the memory guard sees a renderer its zygote started after Chromium last listed its processes', async () => {
    const { spawn } = await import('node:child_process');
    const { MemoryGuard, budgetFor, anonMb, processTreeNow } = await import('../src/browser/memory.js');
    // A stand-in browser (this process) with a stand-in zygote (`--type=zygote`, as Chromium's) that forks a
    // "renderer" on demand; the renderer's command line reads as the zygote's until it has started, as a
    // freshly forked renderer's does, and then says renderer.
    const renderer = `const keep = Buffer.alloc(300 << 20, 1);
      process.stdin.once('data', () => { process.title = 'renderer --' + 'type=renderer'; });
      setInterval(() => keep[0]++, 1000);`;
    const zygote = spawn(
      process.execPath,
      [
        '-e',
        `let child; process.stdin.on('data', (d) => {
          if (!child) child = require('node:child_process').spawn(process.execPath,
            ['-e', ${JSON.stringify(renderer)}, '--', '--' + 'type=zygote'], { stdio: ['pipe', 'ignore', 'ignore'] });
          else child.stdin.write('now a renderer\\n');
        })`,
        '--',
        '--type=zygote',
      ],
      { stdio: ['pipe', 'ignore', 'ignore'] },
    );
    let pid: number | undefined;
    try {
      await new Promise((r) => setTimeout(r, 300));
      const base = processTreeNow(process.pid).reduce((sum, p) => sum + anonMb(p), 0);
      // A budget 150 MB above what runs now: the new renderer's 300 MB puts the tree over it.
      let instanceMb = Math.ceil(base) + 150;
      while (budgetFor(instanceMb, 0, 1).budgetMb < base + 150) instanceMb += 1;
      const log = { info: () => undefined, warn: () => undefined };
      const guard = new MemoryGuard({ instanceMb, concurrency: 1, log });
      // Chromium's list, from before the renderer started: the browser, no renderer.
      guard.listProcesses = async () => [{ pid: process.pid, type: 'browser' }];
      await guard.measureBase();
      zygote.stdin!.write('fork\n');
      for (let i = 0; i < 100 && !pid; i++) {
        await new Promise((r) => setTimeout(r, 50));
        pid = processTreeNow(zygote.pid!).find((p) => p !== zygote.pid && anonMb(p) > 250);
      }
      expect(pid, 'the renderer did not start').toBeDefined();
      guard.sample(); // still named as the zygote: not a renderer yet, and not taken for a non-renderer for good
      await new Promise((r) => setTimeout(r, 200));
      expect(() => process.kill(pid!, 0)).not.toThrow();
      zygote.stdin!.write('rename\n');
      await new Promise((r) => setTimeout(r, 300));
      await new Promise((r) => setTimeout(r, 300));
      guard.sample();
      await new Promise((r) => setTimeout(r, 200));
      expect(() => process.kill(pid!, 0), 'the renderer over the budget is gone').toThrow();
    } finally {
      if (pid) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      zygote.kill('SIGKILL');
    }
  });

  it('the memory guard closes the warm tabs before it stops a page', async () => {
    const { spawn } = await import('node:child_process');
    const { MemoryGuard } = await import('../src/browser/memory.js');
    const page = spawn(process.execPath, [
      '-e',
      'const keep = Buffer.alloc(64 << 20, 1); setInterval(() => keep[0]++, 1000)',
    ]);
    try {
      await new Promise((r) => setTimeout(r, 500));
      const log = { info: () => undefined, warn: () => undefined };
      // A budget every tree is over: the guard must act at its first look.
      const guard = new MemoryGuard({ instanceMb: 1, concurrency: 1, log });
      guard.listProcesses = async () => [{ pid: page.pid!, type: 'renderer' }];
      await guard.measureBase();
      let relieved = 0;
      guard.relieve = () => ++relieved === 1; // warm tabs to give up the first time, none after
      guard.sample();
      expect(relieved).toBe(1);
      expect(page.exitCode === null && page.signalCode === null).toBe(true); // the page lives
      guard.sample();
      await new Promise((r) => page.once('exit', r));
      expect(page.signalCode).toBe('SIGKILL'); // nothing left to give up: the page goes
    } finally {
      page.kill('SIGKILL');
    }
  });
});
