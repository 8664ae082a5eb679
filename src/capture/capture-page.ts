/**
 * Drives one page in one browser context: viewport, navigation, waits, screenshot. Returns
 * Chromium's PNG bytes; encoding to the asked format is encode.ts's job.
 */
import type { HTTPRequest, HTTPResponse, Page } from 'puppeteer-core';
import type { Tab } from '../browser/browser.js';
import type { Deadline } from '../deadline.js';
import { badGateway, blocked } from '../errors.js';
import type { CaptureOptions } from '../options.js';
import { LIMITS } from '../options.js';
import { BLOCKED_HEADER, UNREACHABLE_HEADER } from '../policy/egress-proxy.js';

export interface PageCapture {
  png: Buffer;
  /** Sub-resources the egress guard refused. */
  blockedRequests: number;
  /** HTTP status of the main document. */
  targetStatus?: number;
}

/** Chromium's error when the proxy refused a CONNECT tunnel (our egress guard, or DNS failure). */
const TUNNEL_REFUSED = 'net::ERR_TUNNEL_CONNECTION_FAILED';

/**
 * Called when navigation failed because the proxy refused the tunnel: says whether the URL the
 * main frame ended on is a blocked destination (a redirect to an internal host) and why.
 */
export type BlockedReason = (url: string) => Promise<string | undefined>;

/** Dialogs dismissed, pop-ups closed, and every request the guard refused remembered. */
function guardPage(page: Page) {
  const refused = new Set<HTTPRequest>();
  const failed: HTTPRequest[] = [];
  page.on('dialog', (dialog) => void dialog.dismiss().catch(() => undefined));
  page.on('popup', (popup) => void popup?.close().catch(() => undefined));
  page.on('response', (response) => {
    if (response.headers()[BLOCKED_HEADER]) refused.add(response.request());
  });
  page.on('requestfailed', (request) => failed.push(request));
  /**
   * How many requests the guard refused. A refused CONNECT or a cross-origin request whose 403 the
   * page may not read shows up only as a failure, so failures are checked against the rule again.
   */
  return async (whyBlocked: BlockedReason): Promise<number> => {
    const reasons = await Promise.all(failed.filter((r) => !refused.has(r)).map((r) => whyBlocked(r.url())));
    return refused.size + reasons.filter(Boolean).length;
  };
}

async function navigate(page: Page, opts: CaptureOptions, deadline: Deadline, whyBlocked: BlockedReason) {
  let lastMainUrl = opts.url;
  page.on('request', (request) => {
    if (request.isNavigationRequest() && request.frame() === page.mainFrame()) lastMainUrl = request.url();
  });
  let response: HTTPResponse | null;
  try {
    response = await page.goto(opts.url, { waitUntil: opts.waitUntil, timeout: deadline.remaining() });
  } catch (err) {
    const message = (err as Error).message ?? String(err);
    if ((err as Error).name === 'TimeoutError') throw err;
    if (message.includes(TUNNEL_REFUSED)) {
      const reason = await whyBlocked(lastMainUrl);
      if (reason) throw blocked(reason);
    }
    if (/net::ERR_/.test(message)) {
      throw badGateway(message.split('\n')[0]!);
    }
    throw err;
  }
  const headers = response?.headers() ?? {};
  if (headers[BLOCKED_HEADER]) throw blocked(headers[BLOCKED_HEADER]);
  if (headers[UNREACHABLE_HEADER]) throw badGateway(`net::ERR_CONNECTION_FAILED (${headers[UNREACHABLE_HEADER]}) loading ${response!.url()}`);
  return response;
}

async function fullPageClip(page: Page, width: number) {
  const height = await page.evaluate(() =>
    Math.max(document.documentElement.scrollHeight, document.body?.scrollHeight ?? 0),
  );
  return { x: 0, y: 0, width, height: Math.min(Math.max(height, 1), LIMITS.fullPageHeight) };
}

/** Rejects when the page's renderer dies (out of memory, crash): no waiting for a deadline. */
function rendererDeath(page: Page): Promise<never> {
  const death = new Promise<never>((_resolve, reject) => {
    page.once('error', (err) => reject(badGateway(`the page crashed: ${err.message}`, 'renderer_crashed')));
  });
  death.catch(() => undefined); // observed by whoever races it; never an unhandled rejection
  return death;
}

export async function capturePage(
  { page, cdp }: Tab,
  opts: CaptureOptions,
  deadline: Deadline,
  whyBlocked: BlockedReason,
): Promise<PageCapture> {
  const countRefused = guardPage(page);
  const death = rendererDeath(page);
  const unlessCrashed = <T>(work: () => Promise<T>) => () => Promise.race([work(), death]);
  // Emulation is per CDP session: set it on the session the screenshot is taken with.
  await cdp.send('Emulation.setDeviceMetricsOverride', {
    width: opts.width,
    height: opts.height,
    deviceScaleFactor: opts.scale,
    mobile: false,
  });

  const response = await deadline.step('navigate', unlessCrashed(() => navigate(page, opts, deadline, whyBlocked)));
  if (opts.delay > 0) {
    await deadline.step('delay', unlessCrashed(() => new Promise((resolve) => setTimeout(resolve, opts.delay))));
  }
  const png = await deadline.step(
    'capture',
    unlessCrashed(async () => {
      // Straight to CDP: page.screenshot() adds round trips we do not need (~8 ms on the article page).
      // optimizeForSpeed: Chromium's fast zlib setting; the file is re-encoded by sharp when asked.
      // A clip (scale 1 = the emulated device scale) gives width×scale pixels; without one, CSS pixels.
      const clip = opts.fullPage
        ? await fullPageClip(page, opts.width)
        : { x: 0, y: 0, width: opts.width, height: opts.height };
      const { data } = await cdp.send('Page.captureScreenshot', {
        format: 'png',
        optimizeForSpeed: true,
        clip: { ...clip, scale: 1 },
        captureBeyondViewport: opts.fullPage,
      });
      return Buffer.from(data, 'base64');
    }),
  );
  return { png, blockedRequests: await countRefused(whyBlocked), targetStatus: response?.status() };
}
