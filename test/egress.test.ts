/**
 * SSRF probe matrix against the running service with real Chromium. An "internal" server on another
 * loopback port records every TCP connection; the fixture server (the only allow-listed host) serves
 * pages that try every way out. The internal server must record nothing.
 */
import type http from 'node:http';
import net from 'node:net';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFixtures, type FixtureServer, startInternalServer, type InternalServer } from './helpers/fixtures.js';
import { rgbAt } from './helpers/pixels.js';
import { binary, shutdownClean, startService, withOwnService, type TestService } from './helpers/service.js';

let fixtures: FixtureServer;
let svc: TestService;
let internal: InternalServer;

const api = () => request(svc.app.server);

beforeAll(async () => {
  internal = await startInternalServer();
  const inside = `127.0.0.1:${internal.port}`;
  const probes: Record<string, string> = {
    '/img': `<img src="http://${inside}/img.png"><img src="https://${inside}/img.png"><img src="http://evil.test:${internal.port}/dns.png">`,
    '/script': `<script src="http://${inside}/x.js"></script><link rel="stylesheet" href="http://${inside}/x.css">`,
    '/iframe': `<iframe src="http://${inside}/frame"></iframe><iframe src="http://[::ffff:127.0.0.1]:${internal.port}/v6"></iframe>`,
    '/fetch': `<script>fetch('http://${inside}/fetch').catch(()=>{});
      const x = new XMLHttpRequest(); x.open('GET', 'http://${inside}/xhr'); x.send();
      fetch('http://2130706433:${internal.port}/decimal').catch(()=>{});
      fetch('http://metadata.test:${internal.port}/latest/meta-data').catch(()=>{});</script>`,
    '/websocket': `<script>try { new WebSocket('ws://${inside}/ws'); new WebSocket('wss://${inside}/wss'); } catch (e) {}</script>`,
    '/worker': `<script>new Worker('/worker.js');</script>`,
    '/worker.js': `fetch('http://${inside}/from-worker').catch(()=>{}); new WebSocket('ws://${inside}/worker-ws');`,
    '/sw': `<script>navigator.serviceWorker && navigator.serviceWorker.register('/sw.js').catch(()=>{});</script>`,
    '/sw.js': `fetch('http://${inside}/from-sw').catch(()=>{});`,
    '/prefetch': `<link rel="prefetch" href="http://${inside}/prefetch"><link rel="preconnect" href="http://${inside}">
      <link rel="dns-prefetch" href="http://evil.test"><a ping="http://${inside}/ping" href="#">x</a>`,
    '/beacon': `<script>navigator.sendBeacon('http://${inside}/beacon', 'x'); new EventSource('http://${inside}/sse');</script>`,
    '/js-redirect': `<script>location.href = 'http://${inside}/later';</script>`,
  };
  fixtures = await startFixtures(probes);
  fixtures.route('/redirect', (_req, res) => res.writeHead(302, { location: `http://${inside}/redirected` }).end());
  fixtures.route('/redirect-name', (_req, res) =>
    res.writeHead(302, { location: `http://metadata.test:${internal.port}/` }).end(),
  );
  fixtures.route('/redirect-https', (_req, res) => res.writeHead(302, { location: `https://${inside}/` }).end());
  // Our DNS: names that resolve to internal addresses (rebinding, metadata aliases).
  const resolve = async (host: string) => {
    if (host === 'evil.test' || host === 'metadata.test') return ['127.0.0.1'];
    if (host === 'cgnat.test') return ['100.100.100.200'];
    throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
  };
  svc = await startService({ EGRESS_ALLOW: fixtures.allowEntry }, { resolve });
});

afterAll(async () => {
  await shutdownClean(svc);
  await fixtures.close();
  await internal.close();
});

describe('top-level URLs that point inside', () => {
  const forms = () => [
    `http://127.0.0.1:${internal.port}/`,
    `http://2130706433:${internal.port}/`,
    `http://0x7f000001:${internal.port}/`,
    `http://0177.0.0.1:${internal.port}/`,
    `http://127.1:${internal.port}/`,
    `HTTP://LOCALHOST:${internal.port}/`,
    `http://localhost.:${internal.port}/`,
    `http://[::1]:${internal.port}/`,
    `http://[::ffff:127.0.0.1]:${internal.port}/`,
    `http://[::ffff:7f00:1]:${internal.port}/`,
    `http://[64:ff9b::7f00:1]:${internal.port}/`,
    `http://evil.test:${internal.port}/`,
    'http://100.100.100.200/latest/meta-data/',
    'http://169.254.169.254/latest/meta-data/',
    'http://cgnat.test/',
    'http://10.0.0.1/',
    'http://[fd00::1]/',
    `127.0.0.1:${internal.port}`,
  ];
  it('each answers 403 with a reason, and nothing is contacted', async () => {
    for (const url of forms()) {
      const res = await api().get('/').query({ url });
      expect(res.status, url).toBe(403);
      expect(res.body, url).toMatchObject({ error: 'blocked', field: 'url' });
      expect(typeof res.body.reason).toBe('string');
    }
    expect(internal.connections).toBe(0);
  });

  it('a zone id or a non-http scheme never gets that far', async () => {
    for (const url of [
      'http://[fe80::1%25eth0]/',
      'file:///proc/self/environ',
      'FILE:///etc/passwd',
      'view-source:http://x/',
      'chrome://version',
      'about:blank',
      'ws://127.0.0.1/',
    ]) {
      const res = await api().get('/').query({ url });
      expect(res.status, url).toBe(400);
      expect(res.body.field).toBe('url');
    }
  });
});

describe('names that do not resolve', () => {
  it('answer 502 with the reason, at the top and behind a redirect', async () => {
    const direct = await api().get('/').query({ url: 'https://nowhere.test/' });
    expect(direct.status).toBe(502);
    expect(direct.body).toMatchObject({ error: 'bad_gateway', reason: 'unreachable' });
    expect(direct.body.message).toBe('cannot reach nowhere.test (dns: ENOTFOUND)');
    fixtures.route('/to-nowhere', (_req, res) => res.writeHead(302, { location: 'https://nowhere.test/x' }).end());
    const redirected = await api()
      .get('/')
      .query({ url: `${fixtures.origin}/to-nowhere` });
    expect(redirected.status).toBe(502);
    expect(redirected.body.message).toBe('cannot reach nowhere.test (dns: ENOTFOUND)');
    // Host names Chromium takes and a caller's URL may not carry: still 502, not a 403 `scheme`.
    for (const host of ['a!b.test', 'a*b.test', 'user:pw@nowhere.test']) {
      fixtures.route('/to-odd', (_req, res) => res.writeHead(302, { location: `http://${host}/` }).end());
      const odd = await api()
        .get('/')
        .query({ url: `${fixtures.origin}/to-odd` });
      expect(odd.status, host).toBe(502);
      expect(odd.body.reason).toBe('unreachable');
    }
  });
});

describe('redirects', () => {
  it.each(['/redirect', '/redirect-name', '/redirect-https', '/js-redirect'])(
    '%s to an internal host answers 403',
    async (path) => {
      const res = await api()
        .get('/')
        .query({ url: `${fixtures.origin}${path}` });
      expect(res.status).toBe(403);
      expect(res.body.error).toBe('blocked');
      expect(internal.connections).toBe(0);
    },
  );
});

describe('everything a page loads goes through the guard', () => {
  it.each(['/img', '/script', '/iframe', '/fetch', '/websocket', '/worker', '/sw', '/prefetch', '/beacon'])(
    '%s: the capture succeeds, the internal server sees nothing',
    async (path) => {
      const res = await api()
        .get('/')
        .query({ url: `${fixtures.origin}${path}`, width: 200, height: 200, waitUntil: 'networkidle0', delay: 300 });
      expect(res.status).toBe(200);
      expect(internal.connections).toBe(0);
      if (path === '/img' || path === '/script' || path === '/fetch') {
        expect(Number(res.headers['x-blocked-requests'])).toBeGreaterThan(0);
      }
    },
  );
});

describe('local files', () => {
  it('a page, or raw html, cannot read local files (the role’s keys are in /proc/self/environ)', async () => {
    const probe = `<body style="margin:0"><script>
      Promise.all(['file:///proc/self/environ', 'file:///etc/passwd'].map((u) => fetch(u).then((r) => r.text()).then(() => true, () => false)))
        .then((read) => { document.body.style.background = read.some(Boolean) ? '#f00' : '#0f0'; document.title = 'done'; });
    </script><iframe src="file:///etc/passwd" style="position:absolute;top:30px;left:30px;width:5px;height:5px"></iframe></body>`;
    const res = await api()
      .post('/')
      .send({ html: probe, width: 40, height: 40, delay: 300 })
      .buffer(true)
      .parse(binary);
    expect(res.status).toBe(200);
    expect(await rgbAt(res.body as Buffer, 0, 0)).toEqual([0, 255, 0]);
  });
});

describe('allow-list', () => {
  it('lets exactly its entry through: the same host on another port stays blocked', async () => {
    const ok = await api()
      .get('/')
      .query({ url: `${fixtures.origin}/red`, width: 50, height: 50 });
    expect(ok.status).toBe(200);
    const other = await api()
      .get('/')
      .query({ url: `http://127.0.0.1:${fixtures.port + 1}/` });
    expect(other.status).toBe(403);
  });

  it('is empty by default: the fixture server itself is refused', async () => {
    await withOwnService({}, async (closed) => {
      const res = await request(closed.app.server)
        .get('/')
        .query({ url: `${fixtures.origin}/red` });
      expect(res.status).toBe(403);
    });
  });
});

describe('credentials never travel', () => {
  it('x-fc-* request headers are neither echoed nor forwarded to the page', async () => {
    let seen: http.IncomingHttpHeaders = {};
    fixtures.route('/headers', (req, res) => {
      seen = req.headers;
      res.writeHead(200, { 'content-type': 'text/html' }).end('<p>hi</p>');
    });
    const res = await api()
      .get('/')
      .query({ url: `${fixtures.origin}/headers`, width: 50, height: 50 })
      .set('x-fc-access-key-id', 'AKID-SECRET')
      .set('x-fc-security-token', 'TOKEN-SECRET');
    expect(res.status).toBe(200);
    expect(JSON.stringify(res.headers)).not.toMatch(/SECRET/);
    expect(JSON.stringify(seen)).not.toMatch(/SECRET|x-fc-/i);
  });
});

describe('the proxy carries what Chromium accepts', () => {
  // HTTP that browsers render and strict parsers refuse (old embedded servers, hand-made responses):
  // the proxy checks the destination and pipes bytes, so Chromium alone judges a page's HTTP.
  const body = '<body style="margin:0;background:#0f0"></body>';
  const quirks: Record<string, string> = {
    'a bare LF for line ends': `HTTP/1.1 200 OK\nContent-Type: text/html\nContent-Length: ${body.length}\n\n${body}`,
    'a space before the colon': `HTTP/1.1 200 OK\r\nContent-Type : text/html\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    'a space inside a header name': `HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX Powered: 1\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    'a control byte in a value': `HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-A: a\x01b\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
  };
  it.each(Object.keys(quirks))('a page served with %s is captured', async (quirk) => {
    const raw = net.createServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () => socket.end(quirks[quirk]!));
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    const { port } = raw.address() as net.AddressInfo;
    try {
      await withOwnService({ EGRESS_ALLOW: `127.0.0.1:${port}` }, async (own) => {
        const res = await request(own.app.server)
          .get('/')
          .query({ url: `http://127.0.0.1:${port}/`, width: 50, height: 50 });
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        expect(await rgbAt(res.body as Buffer, 0, 0)).toEqual([0, 255, 0]);
      });
    } finally {
      raw.close();
    }
  });
});
