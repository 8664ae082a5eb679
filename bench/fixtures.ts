/**
 * The benchmark's pages, served on loopback: a realistic article (stylesheet, web font-free text,
 * a dozen images made here with sharp) and a simple page, over plain HTTP and over HTTPS with HTTP/2
 * (a certificate made for the run, trusted by its public-key hash: `spki`, for TRUST_SPKI).
 */
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { makeTestCert } from '../test/corpus/cert.js';

const paragraph = (i: number) =>
  `<p>Paragraph ${i}. Function Compute runs code without servers; layers carry what the code needs. ` +
  'Headless Chromium renders the page, the service encodes it, and the caller gets an image back. '.repeat(3) +
  '函数计算把依赖放进层里，代码包因此很小。</p>';

async function makeImages(count: number): Promise<Buffer[]> {
  return Promise.all(
    Array.from({ length: count }, (_, i) =>
      sharp({
        create: {
          width: 480,
          height: 300,
          channels: 3,
          background: { r: (i * 40) % 255, g: 120, b: 255 - ((i * 30) % 255) },
        },
      })
        .composite([
          {
            input: Buffer.from(
              `<svg width="480" height="300"><circle cx="${60 + i * 30}" cy="150" r="90" fill="#fff8"/><text x="20" y="280" font-size="28">figure ${i}</text></svg>`,
            ),
          },
        ])
        .png()
        .toBuffer(),
    ),
  );
}

/** Sites the pages are also served from (more than any service keeps warm tabs for). */
export const ALIAS_SITES = 16;

export async function startBenchFixtures() {
  const images = await makeImages(12);
  const css = `body{font:16px/1.6 sans-serif;margin:0;color:#222;background:#fafafa}header{background:#234;color:#fff;padding:24px 48px}
main{max-width:960px;margin:0 auto;padding:24px;display:grid;grid-template-columns:1fr 1fr;gap:24px}
figure{margin:0;background:#fff;box-shadow:0 2px 8px #0002;border-radius:8px;overflow:hidden}img{width:100%;display:block}
figcaption{padding:8px 12px;font-size:14px;color:#555}article{grid-column:1/-1}`;
  const article = `<!doctype html><html><head><meta charset="utf-8"><title>Article</title><link rel="stylesheet" href="/style.css"></head>
<body><header><h1>Screenshots on Function Compute</h1><p>A realistic article page for the benchmark</p></header><main>
<article>${Array.from({ length: 6 }, (_, i) => paragraph(i)).join('')}</article>
${images.map((_, i) => `<figure><img src="/img/${i}.png" width="480" height="300"><figcaption>Figure ${i}: a generated image</figcaption></figure>`).join('\n')}
<article>${Array.from({ length: 6 }, (_, i) => paragraph(i + 6)).join('')}</article></main></body></html>`;
  const simple =
    '<!doctype html><html><body style="margin:40px;font:24px sans-serif"><h1>Hello</h1><p>A simple page.</p></body></html>';

  type Req = http.IncomingMessage | http2.Http2ServerRequest;
  const serve = (req: Req, res: http.ServerResponse | http2.Http2ServerResponse) => {
    const r = res as http.ServerResponse;
    const url = req.url ?? '/';
    if (url === '/article') r.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(article);
    else if (url === '/simple') r.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(simple);
    else if (url === '/style.css') r.writeHead(200, { 'content-type': 'text/css' }).end(css);
    else if (url.startsWith('/img/')) {
      const img = images[Number(url.slice(5, -4))];
      if (img) r.writeHead(200, { 'content-type': 'image/png', 'cache-control': 'no-store' }).end(img);
      else r.writeHead(404).end();
    } else r.writeHead(404).end();
  };
  const server = http.createServer(serve);
  // Node's default, announced as `Keep-Alive: timeout=5`. A 1 s hint makes a careful client (the egress
  // proxy's agent) open a connection per request, which real sites (5 s and more) do not cause.
  server.keepAliveTimeout = 5000;
  const cert = await makeTestCert(['127.0.0.1']);
  const secure = http2.createSecureServer({ key: cert.key, cert: cert.cert, allowHTTP1: true }, serve);
  const sessions = new Set<http2.ServerHttp2Session>();
  secure.on('session', (s) => {
    sessions.add(s);
    s.once('close', () => sessions.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => secure.listen(0, '127.0.0.1', r));
  // The same pages on other loopback addresses: each its own site, for a run where every capture is
  // of another site than the last few.
  const aliases = await Promise.all(
    Array.from({ length: ALIAS_SITES }, async (_, i) => {
      const alias = http.createServer(serve);
      alias.keepAliveTimeout = 5000;
      await new Promise<void>((r) => alias.listen(0, `127.0.0.${10 + i}`, r));
      return alias;
    }),
  );
  const aliasAddress = (a: http.Server) => {
    const { address, port } = a.address() as AddressInfo;
    return `${address}:${port}`;
  };
  const port = (server.address() as AddressInfo).port;
  const tlsPort = (secure.address() as AddressInfo).port;
  return {
    origin: `http://127.0.0.1:${port}`,
    httpsOrigin: `https://127.0.0.1:${tlsPort}`,
    /** The same plain-HTTP pages on ALIAS_SITES other sites (127.0.0.10, .11, …). */
    siteOrigins: aliases.map((a) => `http://${aliasAddress(a)}`),
    /** For EGRESS_ALLOW: every listener. */
    allowEntry: [`127.0.0.1:${port}`, `127.0.0.1:${tlsPort}`, ...aliases.map(aliasAddress)].join(','),
    /** For TRUST_SPKI and the floor's --ignore-certificate-errors-spki-list. */
    spki: cert.spki,
    close: async () => {
      for (const s of sessions) s.destroy();
      await Promise.all([
        new Promise<void>((r) => {
          server.closeAllConnections();
          server.close(() => r());
        }),
        new Promise<void>((r) => secure.close(() => r())),
        ...aliases.map(
          (a) =>
            new Promise<void>((r) => {
              a.closeAllConnections();
              a.close(() => r());
            }),
        ),
      ]);
    },
  };
}
