/**
 * Drives one page in one browser context, in phases timed against the request's deadline:
 * emulate (device, media, request rules) → navigate (URL or raw HTML) → prepare (waits, CSS, clicks,
 * lazy content) → capture (PNG or PDF bytes). Encoding to the asked format is encode.ts's job.
 */
import type { HTTPRequest, HTTPResponse, Page } from 'puppeteer-core';
import type { Tab } from '../browser/browser.js';
import { emulate } from './emulate.js';
import { changePage, waitBudget } from './page-changes.js';
import { shoot } from './shoot.js';
import type { Deadline } from '../deadline.js';
import { badGateway, blocked } from '../errors.js';
import type { CaptureOptions } from '../options.js';
import { BLOCKED_HEADER, UNREACHABLE_HEADER } from '../policy/egress-proxy.js';

export interface PageCapture {
  /** PNG, or PDF for format=pdf. */
  bytes: Buffer;
  /** fullPage stopped at fullPageMaxHeight. */
  truncated: boolean;
  /** Waits that timed out and were let go (bestAttempt). */
  gaveUp: string[];
  /** Sub-resources the egress guard refused. */
  blockedRequests: number;
  /** HTTP status of the main document. */
  targetStatus?: number;
}

/** Chromium's error when the proxy refused a CONNECT tunnel (our egress guard, or DNS failure). */
const TUNNEL_REFUSED = 'net::ERR_TUNNEL_CONNECTION_FAILED';

/**
 * Says why the egress rule would refuse a URL: 403 for a blocked destination (an internal host), 502
 * for one that cannot be reached (its name does not resolve); undefined when it may be loaded. Used
 * when a request failed without the proxy's answer reaching us (a refused CONNECT tunnel).
 */
export type BlockedReason = (url: string) => Promise<{ status: 403 | 502; reason: string } | undefined>;

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
    const verdicts = await Promise.all(failed.filter((r) => !refused.has(r)).map((r) => whyBlocked(r.url())));
    return refused.size + verdicts.filter((v) => v?.status === 403).length;
  };
}

async function navigate(page: Page, opts: CaptureOptions, deadline: Deadline, whyBlocked: BlockedReason, gaveUp: string[]) {
  const timeout = waitBudget(deadline, opts.bestAttempt);
  if (opts.html !== undefined) {
    try {
      await page.setContent(opts.html, { waitUntil: 'load', timeout });
      if (opts.waitUntil.startsWith('networkidle')) {
        await page.waitForNetworkIdle({ idleTime: 500, concurrency: opts.waitUntil === 'networkidle0' ? 0 : 2, timeout: waitBudget(deadline, opts.bestAttempt) });
      }
    } catch (err) {
      if ((err as Error).name !== 'TimeoutError' || !opts.bestAttempt) throw err;
      gaveUp.push('waitUntil');
    }
    return null;
  }
  const url = opts.url!;
  let lastMainUrl = url;
  page.on('request', (request) => {
    if (request.isNavigationRequest() && request.frame() === page.mainFrame()) lastMainUrl = request.url();
  });
  let response: HTTPResponse | null = null;
  try {
    response = await page.goto(url, { waitUntil: opts.waitUntil, timeout });
  } catch (err) {
    const message = (err as Error).message ?? String(err);
    if ((err as Error).name === 'TimeoutError') {
      if (!opts.bestAttempt) throw err;
      gaveUp.push('waitUntil');
      return null;
    }
    if (message.includes(TUNNEL_REFUSED)) {
      const refusal = await whyBlocked(lastMainUrl);
      if (refusal?.status === 403) throw blocked(refusal.reason);
      if (refusal) throw badGateway(`cannot reach ${new URL(lastMainUrl).host} (${refusal.reason})`, 'unreachable');
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

/** Rejects when the page's renderer dies (out of memory, crash): no waiting for a deadline. */
function rendererDeath(page: Page): Promise<never> {
  const death = new Promise<never>((_resolve, reject) => {
    page.once('error', (err) => reject(badGateway(`the page crashed: ${err.message}`, 'renderer_crashed')));
  });
  death.catch(() => undefined); // observed by whoever races it; never an unhandled rejection
  return death;
}

export async function capturePage(tab: Tab, opts: CaptureOptions, deadline: Deadline, whyBlocked: BlockedReason): Promise<PageCapture> {
  const { page } = tab;
  const countRefused = guardPage(page);
  const death = rendererDeath(page);
  const unlessCrashed = <T>(work: () => Promise<T>) => () => Promise.race([work(), death]);
  const gaveUp: string[] = [];

  await deadline.step('emulate', () => emulate(tab, opts));
  const response = await deadline.step('navigate', unlessCrashed(() => navigate(page, opts, deadline, whyBlocked, gaveUp)));
  gaveUp.push(...(await deadline.step('prepare', unlessCrashed(() => changePage(page, opts, deadline)))));
  const shot = await deadline.step('capture', unlessCrashed(() => shoot(tab, opts)));
  return {
    bytes: shot.bytes,
    truncated: shot.truncated,
    gaveUp,
    blockedRequests: await countRefused(whyBlocked),
    targetStatus: response?.status(),
  };
}
