/**
 * Pages that try to take an instance's memory, for the budget tests: JavaScript arrays without end,
 * canvases as large as Chromium allows, and thousands of large images. Each routes into a fixture
 * server; the images are made here with sharp.
 */
import sharp from 'sharp';
import type { FixtureServer } from './fixtures.js';

/** Grows a JS heap until the renderer dies or is ended. */
export const jsBomb = `<!doctype html><body><script>
  const hoard = [];
  while (true) hoard.push(new Array(1e6).fill(Math.random()));
</script></body>`;

/** 8192×8192 canvases (256 MB of pixels each), painted and kept, one after the other. */
export const canvasBomb = `<!doctype html><body><script>
  const keep = [];
  for (let i = 0; i < 64; i++) {
    const c = document.createElement('canvas');
    c.width = c.height = 8192;
    const g = c.getContext('2d');
    g.fillStyle = 'rgb(' + i + ',0,0)';
    g.fillRect(0, 0, 8192, 8192);
    keep.push(g.getImageData(0, 0, 1, 1) && c);
  }
</script></body>`;

/**
 * `count` different 3000×3000 images (36 MB each once decoded), all in the viewport at thumbnail size,
 * so the capture has to decode every one.
 */
export const imageBomb = (count: number) =>
  `<!doctype html><style>body{margin:0;display:flex;flex-wrap:wrap}img{width:24px;height:24px}</style><body>` +
  Array.from({ length: count }, (_, i) => `<img src="/big.png?n=${i}">`).join('') +
  '</body>';

/** Routes /bomb-js, /bomb-canvas, /bomb-images and the large image they load. */
export async function routeHostilePages(fixtures: FixtureServer, images = 2000): Promise<void> {
  const png = await sharp({ create: { width: 3000, height: 3000, channels: 3, background: '#3a6' } })
    .png()
    .toBuffer();
  const html = (body: string) => (_req: unknown, res: import('node:http').ServerResponse) =>
    void res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(body);
  fixtures.route('/bomb-js', html(jsBomb));
  fixtures.route('/bomb-canvas', html(canvasBomb));
  fixtures.route('/bomb-images', html(imageBomb(images)));
  fixtures.route('/big.png', (_req, res) => void res.writeHead(200, { 'content-type': 'image/png' }).end(png));
}
