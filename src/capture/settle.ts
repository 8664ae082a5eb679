/**
 * The settle step, on by default (`settle=false` turns it off), run just before the capture, within
 * SETTLE_MAX_MS (and a third of the request's time left, render-page.ts), so the capture shows the page
 * once it has finished loading rather than its first frame:
 *   - network: what the page started after `load` (its data by fetch/XHR, images it added, scripts and
 *     styles it loads) has ended, and nothing ended for NETWORK_QUIET_MS (Server-Timing
 *     `settle-network`); counted inside the page (settle-hooks.ts);
 *   - web fonts loaded (`document.fonts.ready`); images still loading, anywhere on the page (not those
 *     deferred by `loading=lazy` below the fold), loaded and decoded;
 *   - finite animations (CSS animations and transitions, Web Animations) finished, i.e. fast-forwarded
 *     to their end state, a few rounds in case finishing one starts another;
 *   - a page still changing by itself (data that came after load, a script tweening frame by frame,
 *     DOM changes just now) watched until its image stands still (settle-visual.ts, `settle-visual`).
 * A page with nothing pending pays one round trip. Infinite CSS animations are left running (and held
 * while the image is compared); a script animating forever is captured when the bound runs out.
 *
 * The same call reports a `<meta http-equiv=refresh>` the page has (its delay), which the navigation
 * watch waits for when it is due soon.
 */
import type { Page } from 'puppeteer-core';
import type { Tab } from '../browser/browser.js';
import { PAGE_HOOK, PAGE_HOOKS } from './settle-hooks.js';
import { untilStill } from './settle-visual.js';

/** Longest the settle step may take; what is still pending then is captured as it is. */
export const SETTLE_MAX_MS = 5000;
/** Rounds of finishing animations (finishing one may start the next in a chain). */
const ANIMATION_ROUNDS = 3;
/** Animation frames waited for after the step changed something. */
const QUIET_FRAMES = 2;
/** The network is quiet once nothing the page started after `load` ended in this long. */
export const NETWORK_QUIET_MS = 250;

/** Installed before the page's scripts when `settle` is on (emulate.ts). */
export const FRAME_COUNTER = PAGE_HOOKS;

export interface Settled {
  /** Something was pending (network, fonts, images, animations, frames) and was waited for or finished. */
  busy: boolean;
  /** Delay, ms, of the page's `<meta http-equiv=refresh>` to another URL or itself, if any. */
  refreshMs?: number;
}

interface InPage extends Settled {
  /** ms spent waiting for the network to go quiet. */
  networkMs: number;
  /** The page still changes by itself: it asked for animation frames or changed its DOM just now, or its data just arrived. */
  moving: boolean;
}

/**
 * Runs in the page. Plain JavaScript text rather than a serialised TypeScript function: a transpiler
 * that keeps function names (tsx, vitest) would put helper calls into it that the page does not have.
 */
const SETTLE_IN_PAGE = `async (settle, maxMs, rounds, quietFrames, netQuietMs) => {
  const meta = document.querySelector('meta[http-equiv="refresh" i]')?.getAttribute('content') ?? '';
  const delay = /^\\s*(\\d+(?:\\.\\d*)?)/.exec(meta);
  const refreshMs = delay ? Math.round(Number(delay[1]) * 1000) : undefined;
  if (!settle) return { busy: false, refreshMs, networkMs: 0, moving: false };

  const started = performance.now();
  const until = started + maxMs;
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const timeLeft = () => sleep(Math.max(0, until - performance.now()));
  const bounded = (work) => Promise.race([work.catch(() => undefined), timeLeft()]);
  const hook = window[Symbol.for('${PAGE_HOOK}')];
  const frame = () => new Promise((r) => (hook ? hook.frame(() => r()) : requestAnimationFrame(() => r())));
  let busy = false;
  const inView = (el) => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && r.bottom > 0 && r.right > 0 && r.top < innerHeight && r.left < innerWidth;
  };
  // An image the page still loads, wherever it is; one deferred (loading=lazy) below the fold is not.
  const loadingImage = (img) => !img.complete && (img.loading !== 'lazy' || inView(img));

  // The network: what the page started after load (data, images, scripts, styles) ended, and nothing
  // ended for netQuietMs. A page that started nothing after load does not wait.
  const nav = performance.getEntriesByType('navigation')[0];
  const loadAt = nav && nav.loadEventStart > 0 ? nav.loadEventStart : started;
  const jsType = /^(|text\\/javascript|application\\/javascript|module)$/i;
  const pending = () =>
    (hook?.inFlight() ?? 0) > 0 ||
    Array.from(document.images).some(loadingImage) ||
    (hook !== undefined &&
      (Array.from(document.querySelectorAll('script[src]')).some(
        (s) => !hook.loaded(s) && !s.noModule && jsType.test(s.type.trim()),
      ) ||
        Array.from(document.querySelectorAll('link[rel~="stylesheet" i][href]')).some((l) => !hook.loaded(l) && !l.disabled)));
  const lastEnded = () => {
    let at = hook ? hook.netAt() : -Infinity;
    for (const e of performance.getEntriesByType('resource')) if (e.startTime >= loadAt) at = Math.max(at, e.responseEnd);
    return at;
  };
  const quiet = () => {
    if (pending()) return false;
    const at = lastEnded();
    return at <= loadAt || performance.now() - at >= netQuietMs;
  };
  // Short timeouts the page set before now: what they start (a fetch, images, a render) is waited for
  // below. Only those already set: a page polling on a timer does not hold the step.
  const timersDue = hook?.timersDue ? hook.timersDue() : -Infinity;
  if (timersDue > performance.now()) {
    busy = true;
    await sleep(Math.min(timersDue, until) - performance.now() + 10);
  }
  let networkMs = 0;
  if (!quiet()) {
    busy = true;
    while (performance.now() < until && !quiet()) await sleep(25);
    networkMs = performance.now() - started;
  }
  // Lay the page out now: text added since the last frame asks for its web fonts here.
  document.documentElement.getBoundingClientRect();
  if (document.fonts.status !== 'loaded') {
    busy = true;
    await bounded(document.fonts.ready);
  }
  // Complete images are painted by the capture itself; decode() on them would cost a frame.
  const loading = Array.from(document.images).filter(loadingImage);
  if (loading.length) {
    busy = true;
    await bounded(Promise.allSettled(loading.map((img) => img.decode())));
  }
  const finishAnimations = async () => {
    for (let round = 0; round < rounds && performance.now() < until; round++) {
      const finite = document.getAnimations().filter((a) => {
        const end = a.effect?.getComputedTiming().endTime;
        return a.playState === 'running' && typeof end === 'number' && Number.isFinite(end);
      });
      if (!finite.length) break;
      busy = true;
      for (const a of finite) {
        try {
          a.finish();
        } catch {
          // a zero playback rate cannot finish; leave it
        }
      }
      await bounded(frame());
    }
  };
  await finishAnimations();
  // A DOM that changed just now (a framework's late render): until it has not changed for 100 ms.
  if (hook && performance.now() - hook.mutatedAt() < 100) {
    busy = true;
    while (performance.now() < until && performance.now() - hook.mutatedAt() < 100) await sleep(20);
    // What the late render (or a timer's slide) started is finished too.
    await finishAnimations();
  }
  if (busy) for (let i = 0; i < quietFrames && performance.now() < until; i++) await bounded(frame());
  // Still changing by itself: its data came after load, or it draws frame by frame.
  const moving = networkMs > 0 || (hook !== undefined && performance.now() - hook.frameAt() < 100);
  return { busy: busy || moving, refreshMs, networkMs, moving };
}`;

function inPage(page: Page, settle: boolean, maxMs: number): Promise<InPage> {
  const args = [settle, Math.max(0, Math.round(maxMs)), ANIMATION_ROUNDS, QUIET_FRAMES, NETWORK_QUIET_MS].join(', ');
  return page.evaluate(`(${SETTLE_IN_PAGE})(${args})`) as Promise<InPage>;
}

/** Records how long a part of the step took (Server-Timing `settle-network`, `settle-visual`). */
export type RecordPart = (part: string, ms: number) => void;

/**
 * Settles the page (or, with `settle` off, only reads its meta refresh); bounded by `maxMs`. One call
 * into the page waits for the network, fonts and images and finishes animations; a page that was
 * still changing by itself (its data came after load, it draws frame by frame, its DOM just changed)
 * is then watched until its image stands still (settle-visual.ts). A page with nothing pending pays
 * one round trip.
 */
export async function settlePage(tab: Tab, settle: boolean, maxMs: number, record: RecordPart): Promise<Settled> {
  const until = Date.now() + maxMs;
  const first = await inPage(tab.page, settle, maxMs);
  let networkMs = first.networkMs;
  if (settle && first.moving && Date.now() < until) {
    const started = Date.now();
    await untilStill(tab, until, async () => {
      const again = await inPage(tab.page, true, until - Date.now());
      networkMs += again.networkMs;
      return again.networkMs > 0;
    });
    record('settle-visual', Date.now() - started);
  }
  if (networkMs > 0) record('settle-network', networkMs);
  return { busy: first.busy, refreshMs: first.refreshMs };
}
