/**
 * The corpus's fixture server: the pages under test/corpus/pages and the front-end packages they use
 * (their dist/UMD builds, straight from node_modules), on loopback only. Four listeners answer the
 * same routes: plain HTTP and HTTPS with HTTP/2 (node:http2, allowHTTP1) on 127.0.0.1, and the same
 * two on 127.0.0.2, a second site for cross-origin frames. `{{OTHER}}` in a page becomes the other
 * site's origin with the page's own scheme.
 */
import http from 'node:http';
import http2 from 'node:http2';
import { existsSync, readFileSync } from 'node:fs';
import type { AddressInfo, Socket } from 'node:net';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { makeTestCert, type TestCert } from './cert.js';
import { lateAnswer } from './late-data.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const PAGES = join(HERE, 'pages');
const MODULES = resolve(HERE, '../../node_modules');

/** /vendor/NAME/… → the folder of an npm package that holds its browser builds. */
const VENDOR: Record<string, string> = {
  react: 'react/umd',
  'react-dom': 'react-dom/umd',
  dayjs: 'dayjs',
  antd: 'antd/dist',
  vue: 'vue/dist',
  'vue-router': 'vue-router/dist',
  echarts: 'echarts/dist',
  swiper: 'swiper',
  bootstrap: 'bootstrap/dist',
  fontsource: '@fontsource',
  three: 'three/build',
  leaflet: 'leaflet/dist',
  katex: 'katex/dist',
  lottie: 'lottie-web/build/player',
  chartjs: 'chart.js/dist',
  alpinejs: 'alpinejs/dist',
  htmx: 'htmx.org/dist',
  preact: 'preact/dist',
  'petite-vue': 'petite-vue/dist',
  anime: 'animejs/dist/bundles',
  countup: 'countup.js/dist',
  mithril: 'mithril',
  marked: 'marked/lib',
  splide: '@splidejs/splide/dist',
  chartist: 'chartist/dist',
  tailwindcss: 'tailwindcss',
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.ttf': 'font/ttf',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

export interface Hit {
  host: string;
  path: string;
  /** The query string, with its '?', or ''. */
  search: string;
  /** '1.1' or '2.0'. */
  httpVersion: string;
}

export interface Corpus {
  /** http://127.0.0.1:PORT */
  http: string;
  /** https://127.0.0.1:PORT (HTTP/2, and HTTP/1.1 for clients without ALPN h2) */
  https: string;
  /** The second site, 127.0.0.2, for cross-origin frames. */
  otherHttp: string;
  otherHttps: string;
  /** EGRESS_ALLOW entries for all four listeners. */
  allow: string;
  cert: TestCert;
  hits: Hit[];
  close(): Promise<void>;
}

type Req = http.IncomingMessage | http2.Http2ServerRequest;
type Res = http.ServerResponse | http2.Http2ServerResponse;

const send = (res: Res, status: number, type: string, body: string | Buffer) => {
  (res as http.ServerResponse).writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
};

const page = (name: string, other: string) =>
  readFileSync(join(PAGES, `${name}.html`), 'utf8').replaceAll('{{OTHER}}', other);

const images = new Map<string, Promise<Buffer>>();
/** A solid PNG of one colour (lazy images, map tiles), made once. */
function solid(hex: string, width: number, height: number): Promise<Buffer> {
  const key = `${hex}-${width}-${height}`;
  if (!images.has(key)) {
    const rgb = [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16));
    const background = { r: rgb[0]!, g: rgb[1]!, b: rgb[2]! };
    images.set(
      key,
      sharp({ create: { width, height, channels: 3, background } })
        .png()
        .toBuffer(),
    );
  }
  return images.get(key)!;
}

function vendorFile(path: string): string | undefined {
  const [, , name, ...rest] = path.split('/');
  const base = name && VENDOR[name];
  if (!base) return undefined;
  const root = join(MODULES, base);
  const file = resolve(root, rest.join('/'));
  return file.startsWith(root + sep) && existsSync(file) ? file : undefined;
}

function handler(other: () => { http: string; https: string }, hits: Hit[]) {
  return async (req: Req, res: Res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    const secure = 'encrypted' in req.socket && Boolean((req.socket as { encrypted?: boolean }).encrypted);
    const host = (req.headers[':authority'] ?? req.headers.host ?? '') as string;
    hits.push({ host, path, search: url.search, httpVersion: req.httpVersion });
    const otherOrigin = secure ? other().https : other().http;
    try {
      if (path.startsWith('/vendor/')) {
        const file = vendorFile(path);
        if (!file) return send(res, 404, 'text/plain', 'no such file');
        return send(res, 200, TYPES[extname(file)] ?? 'application/octet-stream', readFileSync(file));
      }
      const html = TYPES['.html']!;
      if (path === '/vue' || path.startsWith('/vue/')) return send(res, 200, html, page('vue-router', otherOrigin));
      if (path === '/missing') return send(res, 404, html, page('not-found', otherOrigin));
      if (path === '/broken') return send(res, 500, html, page('server-error', otherOrigin));
      if (path === '/consent-receipt') return send(res, 204, 'text/plain', '');
      if (path === '/api/items') {
        const n = Number(url.searchParams.get('page') ?? 0);
        const items = Array.from({ length: 8 }, (_, i) => ({ id: n * 8 + i, title: `Item ${n * 8 + i}` }));
        return send(res, 200, 'application/json', JSON.stringify(items)); // never runs out
      }
      const size = (name: string, fallback: number) => Number(url.searchParams.get(name) ?? fallback);
      // ?ms=N: answered N ms late (data, images and animations a page loads after its own load)
      const late = size('ms', 0);
      if (late > 0) await new Promise((r) => setTimeout(r, Math.min(late, 10_000)));
      const slow = lateAnswer(path, url.searchParams);
      if (slow) return send(res, 200, slow.type, slow.body);
      let m = /^\/img\/([0-9a-f]{6})\.png$/.exec(path);
      if (m) return send(res, 200, 'image/png', await solid(m[1]!, size('w', 400), size('h', 300)));
      m = /^\/tiles\/(\d+)\/(\d+)\/(\d+)\.png$/.exec(path);
      const checker = (Number(m?.[2]) + Number(m?.[3])) % 2 ? '7cb342' : 'aed581';
      if (m) return send(res, 200, 'image/png', await solid(checker, 256, 256));
      const name = path.slice(1) || 'index';
      if (/^[a-z0-9-]+$/.test(name) && existsSync(join(PAGES, `${name}.html`))) {
        return send(res, 200, html, page(name, otherOrigin));
      }
      send(res, 404, 'text/plain', 'not found');
    } catch (err) {
      send(res, 500, 'text/plain', String(err));
    }
  };
}

export async function startCorpus(): Promise<Corpus> {
  const cert = await makeTestCert(['127.0.0.1', '127.0.0.2']);
  const hits: Hit[] = [];
  const origins = { main: { http: '', https: '' }, other: { http: '', https: '' } };
  const sockets = new Set<Socket>();
  const servers: Array<http.Server | http2.Http2SecureServer> = [];
  const listen = async (host: string, kind: 'http' | 'https', otherOf: () => { http: string; https: string }) => {
    const onRequest = handler(otherOf, hits);
    const server =
      kind === 'http'
        ? http.createServer((req, res) => void onRequest(req, res))
        : http2.createSecureServer({ key: cert.key, cert: cert.cert, allowHTTP1: true }, (req, res) => {
            void onRequest(req, res);
          });
    server.on('connection', (s: Socket) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((r) => server.listen(0, host, r));
    servers.push(server);
    return `${kind}://${host}:${(server.address() as AddressInfo).port}`;
  };
  origins.main.http = await listen('127.0.0.1', 'http', () => origins.other);
  origins.main.https = await listen('127.0.0.1', 'https', () => origins.other);
  origins.other.http = await listen('127.0.0.2', 'http', () => origins.main);
  origins.other.https = await listen('127.0.0.2', 'https', () => origins.main);
  const all = [origins.main.http, origins.main.https, origins.other.http, origins.other.https];
  return {
    http: origins.main.http,
    https: origins.main.https,
    otherHttp: origins.other.http,
    otherHttps: origins.other.https,
    allow: all.map((o) => new URL(o).host).join(','),
    cert,
    hits,
    close: async () => {
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
}
