/**
 * Grabs Chromium's image of the page as it is now: the viewport, a clip, one element, the whole page
 * (in slices joined by sharp when it is taller than Chromium's 16384-pixel texture limit), as a PNG;
 * or the printed PDF. Straight to CDP on the session that carries the emulation: page.screenshot()
 * adds round trips (~8 ms a capture).
 */
import type { Page } from 'puppeteer-core';
import sharp from 'sharp';
import type { Tab } from '../browser/browser.js';
import { invalidOption, notFound } from '../errors.js';
import { spec } from '../formats.js';
import type { CaptureOptions, Clip } from '../options.js';
import { viewportOf } from './emulate.js';

/** Chromium cannot raster a surface taller than this many device pixels. */
const MAX_TEXTURE = 16_384;

async function pageHeight(page: Page): Promise<number> {
  return page.evaluate(() => Math.max(document.documentElement.scrollHeight, document.body?.scrollHeight ?? 0));
}

/** The element's box in page coordinates (CSS px), or 404. */
async function elementClip(page: Page, selector: string): Promise<Clip> {
  const box = await page
    .evaluate((sel: string) => {
      const el = document.querySelector(sel);
      if (!el) return null;
      el.scrollIntoView({ block: 'start' });
      const r = el.getBoundingClientRect();
      return { x: r.left + window.scrollX, y: r.top + window.scrollY, width: r.width, height: r.height };
    }, selector)
    .catch(() => {
      throw invalidOption('selector', `not a valid CSS selector: ${selector}`);
    });
  if (!box) throw notFound('selector', selector);
  if (box.width < 1 || box.height < 1) throw notFound('selector', `${selector} (it has no size)`);
  return { x: Math.round(box.x), y: Math.round(box.y), width: Math.ceil(box.width), height: Math.ceil(box.height) };
}

async function screenshotClip({ cdp }: Tab, clip: Clip, beyondViewport: boolean): Promise<Buffer> {
  const { data } = await cdp.send('Page.captureScreenshot', {
    format: 'png',
    optimizeForSpeed: true,
    // scale 1 = the emulated device scale: the image is clip × deviceScaleFactor pixels
    clip: { ...clip, scale: 1 },
    captureBeyondViewport: beyondViewport,
  });
  return Buffer.from(data, 'base64');
}

/** A page taller than the texture limit: captured band by band, joined top to bottom. */
async function screenshotInSlices(tab: Tab, width: number, height: number, scale: number): Promise<Buffer> {
  const band = Math.floor(MAX_TEXTURE / scale / 2); // well inside the limit
  const slices: Array<{ input: Buffer; top: number; left: number }> = [];
  for (let y = 0; y < height; y += band) {
    const h = Math.min(band, height - y);
    slices.push({
      input: await screenshotClip(tab, { x: 0, y, width, height: h }, true),
      top: Math.round(y * scale),
      left: 0,
    });
  }
  return sharp({
    create: {
      width: Math.round(width * scale),
      height: Math.round(height * scale),
      channels: 4,
      background: { r: 0, g: 0, b: 0, alpha: 0 },
    },
    limitInputPixels: false,
  })
    .composite(slices)
    .png({ compressionLevel: 1 })
    .toBuffer();
}

/** The PNG (or PDF) bytes; `truncated` when fullPage stopped at fullPageMaxHeight. */
export async function grabImage(tab: Tab, opts: CaptureOptions): Promise<{ bytes: Buffer; truncated: boolean }> {
  const { page, cdp } = tab;
  if (spec(opts.format).printed) {
    const margin = opts.pdf.margin;
    const pdf = await page.pdf({
      format: opts.pdf.paper,
      landscape: opts.pdf.landscape,
      printBackground: opts.pdf.printBackground,
      ...(margin ? { margin: { top: margin, right: margin, bottom: margin, left: margin } } : {}),
    });
    return { bytes: Buffer.from(pdf), truncated: false };
  }
  if (opts.omitBackground) {
    await cdp.send('Emulation.setDefaultBackgroundColorOverride', { color: { r: 0, g: 0, b: 0, a: 0 } });
  }
  const view = viewportOf(opts);
  if (opts.selector)
    return { bytes: await screenshotClip(tab, await elementClip(page, opts.selector), true), truncated: false };
  if (opts.clip) return { bytes: await screenshotClip(tab, opts.clip, true), truncated: false };
  if (!opts.fullPage)
    return {
      bytes: await screenshotClip(tab, { x: 0, y: 0, width: view.width, height: view.height }, false),
      truncated: false,
    };

  const full = Math.max(await pageHeight(page), 1);
  const height = Math.min(full, opts.fullPageMaxHeight);
  const bytes =
    height * view.scale <= MAX_TEXTURE
      ? await screenshotClip(tab, { x: 0, y: 0, width: view.width, height }, true)
      : await screenshotInSlices(tab, view.width, height, view.scale);
  return { bytes, truncated: height < full };
}
