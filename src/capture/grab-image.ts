/**
 * Grabs Chromium's image of the page as it is now: the viewport, a clip, one element, the whole page
 * (in slices joined by sharp when it is taller than Chromium's 16384-pixel texture limit), as a PNG;
 * or the printed PDF. Every rectangle is bounded before Chromium is asked for it (captureLimits): a
 * huge element or page is cut and says so, a clip too large is refused, so no request can make the
 * GPU process hold more than one capture's share (or crash, taking everyone's captures with it). Straight to CDP on the session that carries the emulation: page.screenshot()
 * adds round trips (~8 ms a capture).
 */
import type { Page } from 'puppeteer-core';
import type { Tab } from '../browser/browser.js';
import { invalidOption, notFound } from '../errors.js';
import { type FormatSpec, type OutputFormat, sharp, spec } from '../formats.js';
import { type CaptureOptions, type Clip, LIMITS } from '../options.js';
import { viewportOf } from './emulate.js';

/** Chromium cannot raster a surface taller than this many device pixels. */
const MAX_TEXTURE = 16_384;

export interface CaptureLimits {
  /** Device pixels per CSS pixel. */
  scale: number;
  /** Widest capture, device px: the texture limit, or the format's own if smaller. */
  width: number;
  /** Tallest, device px: the format's limit (taller than the texture limit is captured in slices). */
  height: number;
  /** The most device pixels in all. */
  pixels: number;
  /** The format whose encoder sets a side limit, for messages. */
  format: string;
}

export function captureLimits(opts: CaptureOptions): CaptureLimits {
  const { maxSide = Number.POSITIVE_INFINITY, maxPixels = LIMITS.capturePixels } = spec(opts.format);
  return {
    scale: viewportOf(opts).scale,
    width: Math.min(MAX_TEXTURE, maxSide),
    height: maxSide,
    pixels: Math.min(LIMITS.capturePixels, maxPixels),
    format: opts.format,
  };
}

const mpx = (pixels: number) => `${(pixels / 1024 / 1024).toFixed(0)} Mpx`;
/** ` for avif` where the format's encoder takes fewer pixels than any capture may have. */
const forFormat = (limits: CaptureLimits) => (limits.pixels < LIMITS.capturePixels ? ` for ${limits.format}` : '');

/**
 * Refuses, before any browser work, a viewport or clip whose image cannot be made within the limits
 * (400, naming the option).
 */
export function checkCaptureSize(opts: CaptureOptions): void {
  const limits = captureLimits(opts);
  const view = viewportOf(opts);
  const s = limits.scale;
  if (view.width * view.height * s * s > limits.pixels) {
    const field = opts.device ? 'device' : s > 1 ? 'scale' : 'height';
    throw invalidOption(field, `width × height × scale² may be at most ${mpx(limits.pixels)}${forFormat(limits)}`);
  }
  if (opts.clip) {
    const { width, height } = opts.clip;
    if (width * s > limits.width || height * s > limits.height) {
      const side = `${limits.width} × ${Number.isFinite(limits.height) ? limits.height : 'any'}`;
      throw invalidOption('clip', `a ${opts.format} capture is at most ${side} device pixels; clip is larger`);
    }
    if (width * height * s * s > limits.pixels) {
      throw invalidOption(
        'clip',
        `clip may be at most ${mpx(limits.pixels)} (width × height × scale²)${forFormat(limits)}`,
      );
    }
  }
}

/** The part of a `width` × `height` (CSS px) rectangle that fits the limits (cut at its right and bottom), and what cut it. */
function fit(width: number, height: number, limits: CaptureLimits) {
  const s = limits.scale;
  const w = Math.max(1, Math.min(width, Math.floor(limits.width / s)));
  const byFormat = Math.floor(limits.height / s);
  const byPixels = Math.floor(limits.pixels / (w * s * s));
  const h = Math.max(1, Math.min(height, byFormat, byPixels));
  let cut: string | undefined;
  if (h < height) cut = byPixels <= byFormat ? `capturePixels=${limits.pixels}` : `${limits.format}=${limits.height}px`;
  else if (w < width) cut = `width=${limits.width}px`;
  return { width: w, height: h, cut };
}

/**
 * Sections a page leaves unrendered while they are off screen (`content-visibility: auto`) are drawn
 * for a whole-page image, as a person scrolling would see each as it came into view. Run just before
 * the page is measured and grabbed. `hidden` (closed `hidden=until-found` content) stays hidden.
 */
const DRAW_EVERY_SECTION = `(() => {
  for (const el of document.querySelectorAll('*')) {
    if (getComputedStyle(el).contentVisibility === 'auto') el.style.setProperty('content-visibility', 'visible', 'important');
  }
})()`;

/** The page's height, CSS px; what the page reports is a number it controls: anything but a finite one counts as 1. */
async function pageHeight(page: Page): Promise<number> {
  const height = await page.evaluate(() =>
    Math.max(document.documentElement.scrollHeight, document.body?.scrollHeight ?? 0),
  );
  return Number.isFinite(height) ? Math.max(height, 1) : 1;
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
  // Numbers the page controls: NaN or Infinity is no size either.
  if (!Object.values(box).every(Number.isFinite) || box.width < 1 || box.height < 1)
    throw notFound('selector', `${selector} (it has no size)`);
  return { x: Math.round(box.x), y: Math.round(box.y), width: Math.ceil(box.width), height: Math.ceil(box.height) };
}

/** A screenshot in Chromium's PNG, or in `as` (a format Chromium makes itself: formats.ts, screenshotFormat). */
async function screenshotClip({ cdp }: Tab, clip: Clip, beyondViewport: boolean, as?: Asked): Promise<Buffer> {
  const { data } = await cdp.send('Page.captureScreenshot', {
    format: as?.format ?? 'png',
    quality: as?.quality,
    optimizeForSpeed: true,
    // scale 1 = the emulated device scale: the image is clip × deviceScaleFactor pixels
    clip: { ...clip, scale: 1 },
    captureBeyondViewport: beyondViewport,
  });
  return Buffer.from(data, 'base64');
}

/**
 * A rectangle beyond the viewport; one taller than the texture limit is captured band by band and
 * the bands joined top to bottom.
 */
async function screenshotRect(tab: Tab, rect: Clip, scale: number, as?: Asked): Promise<Shot> {
  if (rect.height * scale <= MAX_TEXTURE) return shot(await screenshotClip(tab, rect, true, as), as);
  const band = Math.floor(MAX_TEXTURE / scale / 2); // well inside the limit
  const slices: Array<{ input: Buffer; top: number; left: number }> = [];
  for (let y = 0; y < rect.height; y += band) {
    const h = Math.min(band, rect.height - y);
    slices.push({
      input: await screenshotClip(tab, { x: rect.x, y: rect.y + y, width: rect.width, height: h }, true),
      top: Math.round(y * scale),
      left: 0,
    });
  }
  const joined = await (
    await sharp({
      create: {
        width: Math.round(rect.width * scale),
        height: Math.round(rect.height * scale),
        channels: 4,
        background: { r: 0, g: 0, b: 0, alpha: 0 },
      },
      limitInputPixels: false,
    })
  )
    .composite(slices)
    .png({ compressionLevel: 1 })
    .toBuffer();
  return shot(joined);
}

/** How a screenshot is asked of Chromium: its PNG (undefined), or a format it makes itself. */
type Asked = { format: NonNullable<FormatSpec['screenshotFormat']>; quality?: number } | undefined;

/** Screenshot bytes, and the format they are in. */
interface Shot {
  bytes: Buffer;
  made: 'png' | NonNullable<Asked>['format'];
}
const shot = (bytes: Buffer, as?: Asked): Shot => ({ bytes, made: as?.format ?? 'png' });

/**
 * The image as Chromium makes it: its PNG, its PDF, or the format asked for where Chromium makes that
 * itself (`made` says which); `truncated` names the limit that cut the image, if one did.
 */
export async function grabImage(
  tab: Tab,
  opts: CaptureOptions,
): Promise<{ bytes: Buffer; made: OutputFormat; truncated?: string }> {
  const { page, cdp } = tab;
  if (spec(opts.format).printed) return { bytes: await printPdf(page, opts), made: opts.format };
  const made = spec(opts.format).screenshotFormat;
  const as: Asked = made ? { format: made, quality: opts.quality } : undefined;
  if (opts.omitBackground) {
    await cdp.send('Emulation.setDefaultBackgroundColorOverride', { color: { r: 0, g: 0, b: 0, a: 0 } });
  }
  const view = viewportOf(opts);
  const limits = captureLimits(opts);
  if (opts.selector) {
    const box = await elementClip(page, opts.selector);
    const { width, height, cut } = fit(box.width, box.height, limits);
    return { ...(await screenshotRect(tab, { ...box, width, height }, view.scale, as)), truncated: cut };
  }
  if (opts.clip) return screenshotRect(tab, opts.clip, view.scale, as);
  if (!opts.fullPage) {
    return shot(await screenshotClip(tab, { x: 0, y: 0, width: view.width, height: view.height }, false, as), as);
  }
  await page.evaluate(DRAW_EVERY_SECTION);
  const full = Math.max(await pageHeight(page), 1);
  const wanted = Math.min(full, opts.fullPageMaxHeight);
  const { height, cut } = fit(view.width, wanted, limits);
  const truncated = cut ?? (wanted < full ? `fullPageMaxHeight=${opts.fullPageMaxHeight}` : undefined);
  return { ...(await screenshotRect(tab, { x: 0, y: 0, width: view.width, height }, view.scale, as)), truncated };
}

/** Chromium's PDF; margins that leave no room for the page are the caller's mistake (400, margin). */
async function printPdf(page: Page, opts: CaptureOptions): Promise<Buffer> {
  const margin = opts.pdf.margin;
  try {
    const pdf = await page.pdf({
      format: opts.pdf.paper,
      landscape: opts.pdf.landscape,
      printBackground: opts.pdf.printBackground,
      ...(margin ? { margin: { top: margin, right: margin, bottom: margin, left: margin } } : {}),
    });
    return Buffer.from(pdf);
  } catch (err) {
    if (/content area is empty|invalid print parameters/i.test((err as Error).message)) {
      throw invalidOption('margin', `margin ${margin} leaves no room on a ${opts.pdf.paper} page`);
    }
    throw err;
  }
}
