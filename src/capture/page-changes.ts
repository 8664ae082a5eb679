/**
 * What happens to the page between navigation and capture, one step per option (PAGE_CHANGE_STEPS),
 * one after another in this order: wait for a selector, answer cookie banners, inject CSS (and switch
 * animations off for reducedMotion), hide and remove elements, click, load lazy content for
 * fullPage, wait the requested delay. The order is part of the behaviour (CSS before hide, click
 * before lazy content): a new option's step goes where it belongs, and the others keep their places.
 */
import type { Page } from 'puppeteer-core';
import type { Deadline } from '../deadline.js';
import { invalidOption, notClickable, notFound } from '../errors.js';
import type { CaptureOptions } from '../options.js';
import { COOKIE_BANNER_BUDGET_MS, hideCookieBanners } from './cookie-banners.js';
import type { InFlight } from './in-flight.js';
import { runInOrder, type Step } from './steps.js';

/** Longest the fullPage scroll-through may take, however long the page keeps growing. */
const LAZY_BUDGET_MS = 10_000;
/** Lazy images revisited after the scroll-through: at most this long in all, and this long each. */
const LAZY_REVISIT_MS = 3000;
const LAZY_DWELL_MS = 150;

const NO_ANIMATIONS =
  '*,*::before,*::after{animation:none!important;transition:none!important;caret-color:transparent!important}';

/** Runs a selector in the page; a selector the browser cannot parse is the caller's 400. */
async function applyToAll(page: Page, field: 'hide' | 'remove', selectors: string[]): Promise<void> {
  const [property, value] = field === 'hide' ? ['visibility', 'hidden'] : ['display', 'none'];
  const bad = await page.evaluate(
    (sels: string[], prop: string, val: string) => {
      for (const sel of sels) {
        try {
          for (const el of document.querySelectorAll(sel))
            (el as HTMLElement).style.setProperty(prop, val, 'important');
        } catch {
          return sel;
        }
      }
      return null;
    },
    selectors,
    property,
    value,
  );
  if (bad !== null) throw invalidOption(field, `not a valid CSS selector: ${bad}`);
}

/**
 * Scrolls through the page so lazy images and infinite sections load, then back to the top. A page
 * that grows while we scroll (an endless feed) is followed, round by round, until it stops growing,
 * reaches fullPageMaxHeight, or 10 s (or the deadline) run out: a page that never goes idle still gets captured.
 */
async function loadLazyContent(
  page: Page,
  inFlight: InFlight,
  opts: CaptureOptions,
  deadline: Deadline,
): Promise<void> {
  const until = Date.now() + Math.min(LAZY_BUDGET_MS, deadline.waitBudget(true));
  let from = 0;
  while (Date.now() < until) {
    const reached = await page.evaluate(
      async (start: number, maxHeight: number) => {
        const step = Math.max(200, window.innerHeight);
        let y = start;
        for (; y < Math.min(document.documentElement.scrollHeight, maxHeight); y += step) {
          window.scrollTo(0, y);
          await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 16)));
        }
        return { y, height: document.documentElement.scrollHeight };
      },
      from,
      opts.fullPageMaxHeight,
    );
    // Let what the scrolling started finish, within a bound.
    const idle = Math.min(3000, until - Date.now());
    if (idle > 0) await inFlight.idle({ idleTime: 250, timeout: idle }).catch(() => undefined);
    const height: number = await page.evaluate(() => document.documentElement.scrollHeight);
    if (height <= reached.height || reached.y >= opts.fullPageMaxHeight) break;
    from = reached.y;
  }
  // Lazy-loading scripts that look on a timer (lazysizes, every ~125 ms) miss images a quick scroll
  // passes by: each image still waiting for its data-src is brought into view once more, a moment each.
  const left = until - Date.now();
  if (left > 0) {
    const revisited = await page.evaluate(
      async (budgetMs: number, dwellMs: number) => {
        const stop = performance.now() + budgetMs;
        const waiting = (img: HTMLImageElement) =>
          img.classList.contains('lazyload') ||
          img.classList.contains('lazyloading') ||
          (img.dataset.src !== undefined && img.getAttribute('src') !== img.dataset.src);
        let count = 0;
        for (const img of Array.from(document.images).filter(waiting)) {
          if (performance.now() > stop) break;
          img.scrollIntoView({ block: 'center' });
          await new Promise((r) => setTimeout(r, dwellMs));
          count += 1;
        }
        return count;
      },
      Math.min(left, LAZY_REVISIT_MS),
      LAZY_DWELL_MS,
    );
    if (revisited > 0) {
      const idle = Math.min(3000, until - Date.now());
      if (idle > 0) await inFlight.idle({ idleTime: 250, timeout: idle }).catch(() => undefined);
    }
  }
  await page.evaluate(() => window.scrollTo(0, 0));
}

interface PageChange {
  page: Page;
  /** The capture's requests in flight, for the wait after a full page's scrolling. */
  inFlight: InFlight;
  opts: CaptureOptions;
  deadline: Deadline;
  /** Waits that timed out and were let go under bestAttempt, by option name. */
  gaveUp: string[];
}

/** Clicks the element `selector` names; 404 when there is none, 422 when it has nothing to click. */
async function clickOn(page: Page, selector: string): Promise<void> {
  const element = await page.$(selector).catch(() => {
    throw invalidOption('click', `not a valid CSS selector: ${selector}`);
  });
  if (!element) throw notFound('click', selector);
  // The element exists but cannot take a click (hidden, invisible, zero-sized, the whole document): the
  // caller's doing. A click on an invisible element would land on whatever is under it.
  if (!(await element.isVisible())) throw notClickable(selector);
  await element.click().catch((err: Error) => {
    if (/not clickable|not an Element/.test(err.message)) throw notClickable(selector);
    throw err;
  });
}

/** In this order; each step is a no-op when its option is unset. */
const PAGE_CHANGE_STEPS: Step<PageChange>[] = [
  {
    name: 'waitForSelector',
    run: async ({ page, opts, deadline, gaveUp }) => {
      if (!opts.waitForSelector) return;
      // puppeteer would poll an unparsable selector until the deadline: the caller's 400, at once.
      const parses = await page.evaluate((sel: string) => {
        try {
          document.createDocumentFragment().querySelector(sel);
          return true;
        } catch {
          return false;
        }
      }, opts.waitForSelector);
      if (!parses) throw invalidOption('waitForSelector', `not a valid CSS selector: ${opts.waitForSelector}`);
      try {
        await page.waitForSelector(opts.waitForSelector, {
          visible: true,
          timeout: deadline.waitBudget(opts.bestAttempt),
        });
      } catch (err) {
        if ((err as Error).name !== 'TimeoutError')
          throw invalidOption('waitForSelector', `not a valid CSS selector: ${opts.waitForSelector}`);
        if (!opts.bestAttempt) throw err;
        gaveUp.push('waitForSelector');
      }
    },
  },
  {
    name: 'hideCookieBanners',
    run: async ({ page, opts, deadline }) => {
      if (opts.hideCookieBanners)
        await hideCookieBanners(page, Math.min(COOKIE_BANNER_BUDGET_MS, deadline.waitBudget(true)));
    },
  },
  {
    name: 'css',
    run: async ({ page, opts }) => {
      const css = [opts.reducedMotion ? NO_ANIMATIONS : '', opts.css ?? ''].join('\n').trim();
      if (css) await page.addStyleTag({ content: css });
    },
  },
  {
    name: 'hide',
    run: async ({ page, opts }) => {
      if (opts.hide.length) await applyToAll(page, 'hide', opts.hide);
    },
  },
  {
    name: 'remove',
    run: async ({ page, opts }) => {
      if (opts.remove.length) await applyToAll(page, 'remove', opts.remove);
    },
  },
  {
    name: 'click',
    run: async ({ page, opts }) => {
      if (opts.click) await clickOn(page, opts.click);
    },
  },
  {
    name: 'fullPage',
    run: async ({ page, inFlight, opts, deadline }) => {
      if (opts.fullPage) await loadLazyContent(page, inFlight, opts, deadline);
    },
  },
  {
    name: 'delay',
    run: async ({ opts }) => {
      if (opts.delay > 0) await new Promise((resolve) => setTimeout(resolve, opts.delay));
    },
  },
];

/** Applies the page changes; returns what timed out but was let go under bestAttempt. */
export async function changePage(
  page: Page,
  inFlight: InFlight,
  opts: CaptureOptions,
  deadline: Deadline,
): Promise<string[]> {
  const gaveUp: string[] = [];
  await runInOrder(PAGE_CHANGE_STEPS, { page, inFlight, opts, deadline, gaveUp });
  return gaveUp;
}
