/**
 * The corpus's application pages, over HTTPS and HTTP/2 like real sites: each capture is checked for
 * what a person would see on the page (test/corpus/README.md says which npm package each comes from).
 */
import * as mupdf from 'mupdf';
import { describe, expect, it } from 'vitest';
import { near, pixels, type Box } from './corpus/pixels.js';
import { useCorpusRun } from './corpus/setup.js';

const run = useCorpusRun();
const page = (path: string) => `${run.corpus.https}${path}`;
const shot = async (query: Record<string, string | number | boolean | string[]>) => {
  const res = await run.get(query);
  expect(res.status, String(res.body)).toBe(200);
  return res;
};

/** Bounding box of the dark pixels in a box (text, icons, formulas). */
async function inkBox(image: Buffer, box: Box) {
  const p = await pixels(image);
  let [x0, y0, x1, y1] = [Infinity, Infinity, -1, -1];
  for (let y = box.y; y < box.y + box.height; y++) {
    for (let x = box.x; x < box.x + box.width; x++) {
      if (p.at(x, y).every((v) => v < 128))
        [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
    }
  }
  return { width: x1 - x0 + 1, height: y1 - y0 + 1 };
}

describe('single-page applications', () => {
  it('React 18 + Ant Design 5: a dashboard with its dark menu, statistics, primary button and table', async () => {
    const p = await pixels((await shot({ url: page('/react-antd') })).body);
    expect(p.share({ x: 0, y: 300, width: 220, height: 500 }, '#001529')).toBeGreaterThan(0.98); // dark Sider
    expect(p.share({ x: 8, y: 72, width: 200, height: 30 }, '#1677ff')).toBeGreaterThan(0.6); // selected menu item
    expect(p.share({ x: 250, y: 230, width: 160, height: 30 }, '#1677ff')).toBeGreaterThan(0.5); // the primary button
    // the three statistic values
    for (const x of [269, 612, 954]) expect(p.ink({ x, y: 140, width: 150, height: 40 })).toBeGreaterThan(40);
    expect(p.ink({ x: 244, y: 350, width: 1000, height: 270 })).toBeGreaterThan(1000); // table rows
  });

  it('Vue 3 + vue-router 4: routes with history.pushState, deep links and clicks', async () => {
    const green = { x: 200, y: 200, width: 800, height: 300 };
    const home = await pixels((await shot({ url: page('/vue/') })).body);
    expect(home.share(green, '#e53935')).toBeGreaterThan(0.95); // the home view, as a control
    const pushed = await pixels((await shot({ url: page('/vue/?signedIn') })).body);
    expect(pushed.share(green, '#41b883')).toBeGreaterThan(0.95); // router.push('/reports') after start
    const deep = await pixels((await shot({ url: page('/vue/reports') })).body);
    expect(deep.share(green, '#41b883')).toBeGreaterThan(0.95); // history-mode deep link
    const clicked = await pixels((await shot({ url: page('/vue/'), click: '#to-reports' })).body);
    expect(clicked.share(green, '#41b883')).toBeGreaterThan(0.95); // a router-link click
  });

  it('ECharts 6 with its default entry animation: every bar at its full height', async () => {
    // Needs the page to settle: captured at load, the bars are still growing from the axis.
    const p = await pixels((await shot({ url: page('/echarts') })).body);
    const bar = '#5070dd'; // ECharts 6's default palette
    // grid: x 60–780 (7 categories, ~103 px each), y 40 (=200) to 460 (=0)
    expect(near(p.at(214, 48), bar)).toBe(true); // Tue = 200: reaches the top line
    expect(near(p.at(214, 450), bar)).toBe(true);
    expect(near(p.at(111, 222), bar)).toBe(true); // Mon = 120: top at y 208
    expect(near(p.at(111, 195), '#ffffff', 4)).toBe(true);
    expect(near(p.at(523, 300), '#ffffff', 4)).toBe(true); // Fri = 70: top at y 313
    expect(near(p.at(523, 325), bar)).toBe(true);
  });

  it('Swiper 14 autoplaying carousel: one whole slide, not two halves', async () => {
    // Needs the page to settle when the capture lands during a slide (autoplay every 800 ms, slides of 600 ms).
    const p = await pixels((await shot({ url: page('/carousel') })).body);
    const box = { x: 40, y: 40, width: 1000, height: 400 };
    const best = Math.max(...['#c62828', '#2e7d32', '#1565c0'].map((c) => p.share(box, c)));
    expect(best).toBeGreaterThan(0.95); // the slide's caption is the rest
  });

  it('Leaflet 1.9 map: the tiles and the marker are drawn', async () => {
    const p = await pixels((await shot({ url: page('/map') })).body);
    const box = { x: 0, y: 0, width: 1024, height: 512 };
    // Needs the page to settle: Leaflet fades each tile in over 200 ms after it loads.
    const tiles = p.share(box, '#7cb342', 6) + p.share(box, '#aed581', 6);
    expect(tiles).toBeGreaterThan(0.97);
    const blue = ([r, , b]: number[]) => b! > r! + 60;
    expect(p.count({ x: 495, y: 205, width: 35, height: 55 }, blue)).toBeGreaterThan(300); // the marker
    expect(p.share({ x: 1030, y: 0, width: 250, height: 800 }, '#ffffff', 2)).toBe(1);
  });
});

describe('fonts, scripts and text direction', () => {
  it('@fontsource/lobster: the headline is set in the web font, not in a fallback', async () => {
    // Needs the page to settle (fonts ready): at load the font may still be on its way and the text in the fallback.
    const box = { x: 30, y: 30, width: 900, height: 150 };
    const withFont = await pixels((await shot({ url: page('/webfont') })).body);
    const fallback = await pixels((await shot({ url: page('/webfont'), blockResources: ['font'] })).body);
    const dark = (p: typeof withFont, x: number, y: number) => p.at(x, y).every((v) => v < 128);
    let differ = 0;
    for (let y = box.y; y < box.y + box.height; y++)
      for (let x = box.x; x < box.x + box.width; x++) if (dark(withFont, x, y) !== dark(fallback, x, y)) differ++;
    expect(withFont.ink(box)).toBeGreaterThan(3000);
    expect(fallback.ink(box)).toBeGreaterThan(3000);
    expect(differ / withFont.ink(box)).toBeGreaterThan(0.5); // different letter shapes, not the same text twice
  });

  it('@fontsource/material-icons: the "home" ligature is an icon, not the word', async () => {
    const ink = await inkBox((await shot({ url: page('/icons') })).body, { x: 0, y: 0, width: 800, height: 200 });
    expect(ink.width).toBeGreaterThan(60);
    expect(ink.width).toBeLessThan(100); // the word "home" at 96 px would be ~250 px wide
    const word = await inkBox((await shot({ url: page('/icons'), blockResources: ['font'] })).body, {
      x: 0,
      y: 0,
      width: 800,
      height: 200,
    });
    expect(word.width).toBeGreaterThan(200); // the control: without the font it is the word
  });

  it('KaTeX: the formula is typeset (a tall integral sign), not left as TeX source', async () => {
    const ink = await inkBox((await shot({ url: page('/katex') })).body, { x: 0, y: 0, width: 1280, height: 300 });
    expect(ink.height).toBeGreaterThan(80); // the integral and the fraction are taller than a line of text
    expect(ink.width).toBeLessThan(500); // the source, at 48 px, would run ~700 px
  });

  it('RTL page (Arabic in @fontsource/amiri): the menu on the right, the text aligned right', async () => {
    const p = await pixels((await shot({ url: page('/rtl') })).body);
    expect(p.share({ x: 1040, y: 0, width: 240, height: 800 }, '#00695c')).toBe(1); // the nav starts on the right
    expect(p.ink({ x: 640, y: 0, width: 400, height: 300 })).toBeGreaterThan(1500); // the text ends at the right edge
    expect(p.ink({ x: 0, y: 0, width: 500, height: 800 })).toBe(0);
  });

  it('Bootstrap 5.3 colour modes follow darkMode', async () => {
    const light = await pixels((await shot({ url: page('/dark-mode') })).body);
    const dark = await pixels((await shot({ url: page('/dark-mode'), darkMode: true })).body);
    expect(near(light.at(5, 790), '#ffffff', 2)).toBe(true);
    expect(near(dark.at(5, 790), '#212529', 2)).toBe(true);
    for (const p of [light, dark])
      expect(p.count({ x: 0, y: 0, width: 1280, height: 400 }, (c) => near(c, '#0d6efd', 8))).toBeGreaterThan(2000);
  });
});

describe('frames and drawing', () => {
  it('a cross-site iframe (127.0.0.2, out of process) is drawn in place', async () => {
    const before = run.corpus.hits.length;
    const p = await pixels((await shot({ url: page('/iframe') })).body);
    expect(p.share({ x: 100, y: 100, width: 600, height: 400 }, '#2e7d32')).toBeGreaterThan(0.95);
    expect(near(p.at(50, 300), '#eceff1')).toBe(true);
    const frame = run.corpus.hits.slice(before).find((h) => h.path === '/frame');
    expect(frame).toMatchObject({ host: new URL(run.corpus.otherHttps).host, httpVersion: '2.0' });
  });

  it('canvas 2D drawing', async () => {
    const p = await pixels((await shot({ url: page('/canvas') })).body);
    expect(near(p.at(40, 40), '#283593', 2)).toBe(true);
    expect(near(p.at(300, 200), '#ffca28', 2)).toBe(true);
    expect(near(p.at(300, 380), '#e53935', 2)).toBe(true);
  });

  it('three.js: WebGL is off in this service, and the page says so as three.js apps do', async () => {
    // The service starts Chromium without a GPU and without SwiftShader's WebGL for untrusted pages.
    const p = await pixels((await shot({ url: page('/webgl') })).body);
    expect(p.share({ x: 0, y: 0, width: 800, height: 100 }, '#ffeb3b')).toBeGreaterThan(0.8);
  });
});

describe('error pages and print', () => {
  it('a page answering 404 is captured as it looks; X-Target-Status says 404', async () => {
    const res = await shot({ url: page('/missing') });
    expect(res.headers['x-target-status']).toBe('404');
    const p = await pixels(res.body);
    expect(p.share({ x: 100, y: 100, width: 400, height: 200 }, '#ff7043')).toBe(1);
    expect(near(p.at(1000, 700), '#263238')).toBe(true);
  });

  it('a page answering 500 is captured as it looks; X-Target-Status says 500', async () => {
    const res = await shot({ url: page('/broken') });
    expect(res.headers['x-target-status']).toBe('500');
    const p = await pixels(res.body);
    expect(p.share({ x: 0, y: 0, width: 1280, height: 120 }, '#bf360c')).toBe(1);
    expect(near(p.at(640, 600), '#fff3e0')).toBe(true);
  });

  it('format=pdf uses the print stylesheet (Bootstrap d-print-*): no navbar, a print-only note and total', async () => {
    const screen = await pixels((await shot({ url: page('/print-invoice') })).body);
    expect(screen.share({ x: 0, y: 0, width: 1280, height: 80 }, '#212529')).toBeGreaterThan(0.9); // navbar on screen
    const pdf = (await shot({ url: page('/print-invoice'), format: 'pdf' })).body as Buffer;
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    // The PDF's first page rendered at 50 dpi with MuPDF (the registry's WASM build: no poppler needed).
    const first = mupdf.Document.openDocument(pdf, 'application/pdf').loadPage(0);
    const png = first.toPixmap(mupdf.Matrix.scale(50 / 72, 50 / 72), mupdf.ColorSpace.DeviceRGB, false, true).asPNG();
    const p = await pixels(Buffer.from(png));
    const top = { x: 0, y: 0, width: p.width, height: Math.round(p.height / 3) };
    const darkRows = Array.from({ length: top.height }, (_, y) =>
      p.share({ x: 0, y, width: p.width, height: 1 }, '#212529', 10),
    );
    expect(Math.max(...darkRows)).toBeLessThan(0.3); // no dark navbar across the page (text is #212529 too, but thin)
    expect(p.count(top, (c) => near(c, '#cff4fc', 6))).toBeGreaterThan(1000); // the print-only note
    expect(p.count(top, (c) => near(c, '#ff0000', 6))).toBeGreaterThan(1000); // the print-only red total row
  });
});
