/**
 * renderPage: drives one page in one browser context to Chromium's image of it, in phases timed
 * against the request's deadline: emulate (emulate.ts: device, media, request rules) → navigate (URL
 * or raw HTML) → prepare (page-changes.ts: waits, CSS, clicks, lazy content) → settle (settle.ts:
 * fonts, images, animations) → capture (grab-image.ts: PNG or PDF bytes). A client-side navigation
 * that starts before the image is grabbed is followed (navigation.ts): the page it lands on goes
 * through prepare, settle and capture again. Encoding to the asked format is encode.ts's job.
 */
import type { HTTPRequest, HTTPResponse } from 'puppeteer-core';
import type { Tab } from '../browser/browser.js';
import { emulate } from './emulate.js';
import { grabImage } from './grab-image.js';
import { InFlight } from './in-flight.js';
import type { OutputFormat } from '../formats.js';
import {
  failedAtProxy,
  META_REFRESH_MAX_MS,
  NavigationStarted,
  NavigationWatch,
  navigationError,
} from './navigation.js';
import { changePage } from './page-changes.js';
import { SETTLE_MAX_MS, settlePage, type Settled } from './settle.js';
import type { Deadline } from '../deadline.js';
import { badGateway, HttpError } from '../errors.js';
import type { CaptureOptions } from '../options.js';
import type { WhyBlocked } from '../policy/destination.js';

/** What the answer tells about the page besides its image (its `X-*` headers). */
export interface PageReport {
  /** The limit that cut the image (fullPageMaxHeight=N, capturePixels=N, webp=16383px), if one did. */
  truncated?: string;
  /** Waits that timed out and were let go (bestAttempt). */
  gaveUp: string[];
  /** Sub-resources the egress guard refused. */
  blockedRequests: number;
  /** HTTP status of the main document. */
  targetStatus?: number;
}

/** Chromium's image of the page, and the report on it. */
export interface Rendered extends PageReport {
  /** PNG, PDF for format=pdf, or the format asked for where Chromium makes it itself. */
  bytes: Buffer;
  /** The format `bytes` are in. */
  made: OutputFormat;
}

/**
 * The tab a capture may leave for the next capture of the same site (src/browser/warm-tabs.ts, scrubbed by own-tab.ts), by
 * site (scheme and host): undefined when its options leave state that scrubbing does not undo or
 * that must never meet another caller's page: raw HTML (no site), the caller's cookies, headers or
 * basic auth, request rules (interception on puppeteer's own session), the cookie-banner helper (a
 * function exposed to the page), a transparent background (omitBackground).
 */
export function warmKeyFor(opts: CaptureOptions): string | undefined {
  const { target } = opts;
  if (!target || opts.cookies.length || Object.keys(opts.headers).length || opts.auth) return undefined;
  if (opts.blockResources.length || opts.blockUrls.length || opts.hideCookieBanners) return undefined;
  // Chromium keeps a transparent background past the session that asked for it, and no reset clears it.
  if (opts.omitBackground) return undefined;
  return `${target.protocol}//${target.hostname}`;
}

/** Dialogs dismissed, pop-ups closed, and every failed request remembered. */
function guardPage(tab: Tab) {
  const failed: HTTPRequest[] = [];
  tab.on('dialog', (dialog) => void dialog.dismiss().catch(() => undefined));
  tab.on('popup', (popup) => void popup?.close().catch(() => undefined));
  tab.on('requestfailed', (request) => failed.push(request));
  /**
   * How many requests the guard refused. A refused request fails its tunnel without a reason, so
   * failures at the proxy are checked against the rule again (a request the page's own policy
   * stopped, or a `data:` URL that failed, never reached it).
   */
  return async (whyBlocked: WhyBlocked): Promise<number> => {
    const atProxy = failed.filter((r) => failedAtProxy(r.failure()?.errorText));
    const verdicts = await Promise.all(atProxy.map((r) => whyBlocked(r.url())));
    return verdicts.filter((v) => v?.status === 403).length;
  };
}

/** networkidle0 / networkidle2: no request (at most two) in flight for 500 ms, within the wait budget. */
function networkIdle(inFlight: InFlight, opts: CaptureOptions, deadline: Deadline): Promise<void> {
  const concurrency = opts.waitUntil === 'networkidle0' ? 0 : 2;
  return inFlight.idle({ idleTime: 500, concurrency, timeout: deadline.waitBudget(opts.bestAttempt) });
}

async function navigate(
  { page, on }: Tab,
  inFlight: InFlight,
  opts: CaptureOptions,
  deadline: Deadline,
  whyBlocked: WhyBlocked,
  gaveUp: string[],
) {
  const timeout = deadline.waitBudget(opts.bestAttempt);
  if (opts.html !== undefined) {
    try {
      await page.setContent(opts.html, { waitUntil: 'load', timeout });
      if (opts.waitUntil.startsWith('networkidle')) await networkIdle(inFlight, opts, deadline);
    } catch (err) {
      if ((err as Error).name !== 'TimeoutError' || !opts.bestAttempt) throw err;
      gaveUp.push('waitUntil');
    }
    return null;
  }
  const url = opts.target!.href;
  let lastMainUrl = url;
  on('request', (request) => {
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
    const errorText = /net::ERR_\w+/.exec(message)?.[0];
    if (errorText) throw await navigationError(lastMainUrl, errorText, whyBlocked);
    throw err;
  }
  return response;
}

/** Rejects when the page's renderer dies (out of memory, crash): no waiting for a deadline. */
function rendererDeath(tab: Tab): Promise<never> {
  const death = new Promise<never>((_resolve, reject) => {
    tab.on('error', (err) => reject(badGateway(`the page crashed: ${err.message}`, 'renderer_crashed')));
  });
  death.catch(() => undefined); // observed by whoever races it; never an unhandled rejection
  return death;
}

/** Waits until the navigation in flight has landed (the same waitUntil as the first page). */
async function follow(
  inFlight: InFlight,
  watch: NavigationWatch,
  opts: CaptureOptions,
  deadline: Deadline,
  gaveUp: string[],
): Promise<void> {
  const idleToo = opts.waitUntil.startsWith('networkidle') && !watch.followingFirst;
  try {
    await deadline.within(deadline.waitBudget(opts.bestAttempt), 'navigation', watch.landed());
    if (idleToo) await networkIdle(inFlight, opts, deadline);
  } catch (err) {
    if ((err as Error).name !== 'TimeoutError' || !opts.bestAttempt) throw err;
    gaveUp.push('waitUntil');
    watch.giveUp();
  }
}

/** Time the settle call may take beyond the page's own bound: the round trip. */
const SETTLE_MARGIN_MS = 500;

/** A bounded wait that ran out is no error here: `fallback` instead. */
const unlessTimedOut =
  <T>(fallback: T) =>
  (err: Error): T => {
    if (err.name !== 'TimeoutError') throw err;
    return fallback;
  };

/**
 * Settles the page (or, with settle off, only reads its meta refresh) within SETTLE_MAX_MS and a third
 * of what is left of the deadline. The page bounds its own waits; the call is bounded as well (a page
 * whose script never yields), with a margin for the round trip. A page that does not settle in time
 * is captured as it is; so is one still waiting for its first document (a bestAttempt goto gave up),
 * where a script cannot run.
 */
function settleWithin(tab: Tab, watch: NavigationWatch, settle: boolean, deadline: Deadline): Promise<Settled> {
  if (!watch.hasDocument) return Promise.resolve({ busy: false });
  const bound = Math.min(SETTLE_MAX_MS + SETTLE_MARGIN_MS, deadline.remaining() / 3);
  const inPage = settle ? Math.max(0, bound - SETTLE_MARGIN_MS) : 0;
  const record = (part: string, ms: number) => deadline.record(part, ms);
  return deadline
    .within(bound, 'settle', settlePage(tab, settle, inPage, record))
    .catch(unlessTimedOut({ busy: true }));
}

/** A meta refresh due within the window: waits (bounded) for its navigation to start, which then interrupts. */
function awaitMetaRefresh(watch: NavigationWatch, settled: Settled, epoch: number, deadline: Deadline): Promise<void> {
  const due = settled.refreshMs;
  if (due === undefined || due > META_REFRESH_MAX_MS) return Promise.resolve();
  return deadline.within(due + 500, 'meta refresh', watch.startedAfter(epoch)).catch(unlessTimedOut(undefined));
}

/**
 * An exception our own scripts met inside the page (a frame of puppeteer's `evaluate`), or a value
 * that is no Error at all (only page code throws those): the page broke what they rely on, such as a
 * built-in it replaced or the document it removed. Its own doing, so a 502, not a 500 of ours.
 */
function pageInterference(err: unknown): HttpError | undefined {
  if (err instanceof HttpError || err instanceof NavigationStarted) return undefined;
  const thrownInPage = err instanceof Error ? /\n\s+at evaluate \(evaluate at /.test(err.stack ?? '') : true;
  if (!thrownInPage) return undefined;
  const what = err instanceof Error ? `${err.name}: ${err.message.split('\n')[0]}` : `it threw ${String(err)}`;
  return badGateway(`the page's own scripts broke the capture's (${what.slice(0, 200)})`, 'page_interfered');
}

export async function renderPage(
  tab: Tab,
  opts: CaptureOptions,
  deadline: Deadline,
  whyBlocked: WhyBlocked,
): Promise<Rendered> {
  try {
    return await renderPageOrThrow(tab, opts, deadline, whyBlocked);
  } catch (err) {
    throw pageInterference(err) ?? err;
  }
}

async function renderPageOrThrow(
  tab: Tab,
  opts: CaptureOptions,
  deadline: Deadline,
  whyBlocked: WhyBlocked,
): Promise<Rendered> {
  const { page } = tab;
  const countRefused = guardPage(tab);
  const inFlight = new InFlight(tab.on);
  const death = rendererDeath(tab);
  const watch = new NavigationWatch(tab, whyBlocked, opts.waitUntil, opts.html !== undefined);
  // Every phase also ends the moment the renderer dies or the navigation watch refuses (loop, blocked).
  const unlessStopped =
    <T>(work: () => Promise<T>) =>
    () =>
      Promise.race([work(), death, watch.failure]);
  const gaveUp: string[] = [];

  await deadline.step('emulate', () => Promise.all([emulate(tab, opts), watch.start()]));
  const response = await deadline.step(
    'navigate',
    unlessStopped(() => navigate(tab, inFlight, opts, deadline, whyBlocked, gaveUp)),
  );
  if (opts.html === undefined) watch.acceptFirst(response);

  let changes = opts;
  for (;;) {
    if (watch.navigating) {
      await deadline.step(
        'navigate',
        unlessStopped(() => follow(inFlight, watch, opts, deadline, gaveUp)),
      );
    }
    const epoch = watch.epoch;
    // Work on the page as it is now: a navigation that starts meanwhile interrupts it (NavigationStarted).
    const onThisPage = <T>(phase: string, work: () => Promise<T>) =>
      deadline.step(
        phase,
        unlessStopped(() => watch.interruptible(epoch, work)),
      );
    let phase = 'prepare';
    try {
      const timedOut = await onThisPage('prepare', () => changePage(page, inFlight, changes, deadline));
      phase = 'settle';
      const settlePhase = opts.settle ? 'settle' : 'prepare';
      const settled = await onThisPage(settlePhase, () => settleWithin(tab, watch, opts.settle, deadline));
      phase = 'navigate';
      await onThisPage('navigate', () => awaitMetaRefresh(watch, settled, epoch, deadline));
      phase = 'capture';
      const image = await onThisPage('capture', () => grabImage(tab, opts));
      if (watch.epoch !== epoch) throw new NavigationStarted(watch.url ?? '');
      gaveUp.push(...timedOut);
      return {
        bytes: image.bytes,
        made: image.made,
        truncated: image.truncated,
        gaveUp,
        blockedRequests: await countRefused(whyBlocked),
        targetStatus: watch.hops > 0 ? (watch.status ?? response?.status()) : response?.status(),
      };
    } catch (err) {
      if (!(err instanceof NavigationStarted)) throw err;
      // A navigation that starts while the page changes are applied may be the click's doing: not repeated.
      if (phase === 'prepare' && changes.click) changes = { ...changes, click: undefined };
    }
  }
}
