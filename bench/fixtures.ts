/**
 * The benchmark's pages, served on loopback: a realistic article (stylesheet, web font-free text,
 * a dozen images made here with sharp) and a simple page.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';

const paragraph = (i: number) =>
  `<p>Paragraph ${i}. Function Compute runs code without servers; layers carry what the code needs. ` +
  'Headless Chromium renders the page, the service encodes it, and the caller gets an image back. '.repeat(3) +
  '函数计算把依赖放进层里，代码包因此很小。</p>';

async function makeImages(count: number): Promise<Buffer[]> {
  return Promise.all(
    Array.from({ length: count }, (_, i) =>
      sharp({
        create: { width: 480, height: 300, channels: 3, background: { r: (i * 40) % 255, g: 120, b: 255 - ((i * 30) % 255) } },
      })
        .composite([{ input: Buffer.from(`<svg width="480" height="300"><circle cx="${60 + i * 30}" cy="150" r="90" fill="#fff8"/><text x="20" y="280" font-size="28">figure ${i}</text></svg>`) }])
        .png()
        .toBuffer(),
    ),
  );
}

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
  const simple = '<!doctype html><html><body style="margin:40px;font:24px sans-serif"><h1>Hello</h1><p>A simple page.</p></body></html>';

  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    if (url === '/article') res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(article);
    else if (url === '/simple') res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(simple);
    else if (url === '/style.css') res.writeHead(200, { 'content-type': 'text/css' }).end(css);
    else if (url.startsWith('/img/')) {
      const img = images[Number(url.slice(5, -4))];
      if (img) res.writeHead(200, { 'content-type': 'image/png', 'cache-control': 'no-store' }).end(img);
      else res.writeHead(404).end();
    } else res.writeHead(404).end();
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    origin: `http://127.0.0.1:${port}`,
    allowEntry: `127.0.0.1:${port}`,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
