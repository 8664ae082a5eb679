/**
 * The settle step, on by default (`settle=false` turns it off), run in the page just before the
 * capture, within SETTLE_MAX_MS: web fonts loaded (`document.fonts.ready`), images in the viewport
 * that are still loading loaded and decoded, running finite animations (CSS animations and
 * transitions, Web Animations) finished, i.e. fast-forwarded to their end state, a few rounds in case
 * finishing one starts another; then, when any of that had something to do, two quiet animation
 * frames so the result is laid out and painted. A page with nothing pending pays one round trip.
 * Infinite animations are left running. Animations a script drives frame by frame (charts, maps:
 * ECharts, Leaflet) have no end to fast-forward to: for those, a counter installed before the page's
 * own scripts (FRAME_COUNTER) tells whether the page still asks for animation frames, and the step
 * waits, at most RAF_QUIET_MAX_MS, until three frames pass without the page asking for one.
 *
 * The same call reports a `<meta http-equiv=refresh>` the page has (its delay), which the navigation
 * watch waits for when it is due soon.
 */
import type { Page } from 'puppeteer-core';

/** Longest the settle step may take; what is still pending then is captured as it is. */
export const SETTLE_MAX_MS = 3000;
/** Rounds of finishing animations (finishing one may start the next in a chain). */
const ANIMATION_ROUNDS = 3;
/** Animation frames waited for after the step changed something. */
const QUIET_FRAMES = 2;
/** Longest wait for a page's own frame-by-frame animation to stop (a page that never stops pays it). */
export const RAF_QUIET_MAX_MS = 1500;
const FRAME_HOOK = 'fcshot.frames';

/**
 * Installed before the page's scripts (Page.addScriptToEvaluateOnNewDocument): counts the page's
 * requestAnimationFrame calls, and keeps the original for the settle step's own frames.
 */
export const FRAME_COUNTER = `(() => {
  const original = window.requestAnimationFrame;
  if (!original) return;
  let requests = 0;
  let lastAt = -Infinity;
  Object.defineProperty(window, Symbol.for('${FRAME_HOOK}'), {
    value: { frame: (cb) => original.call(window, cb), requests: () => requests, lastAt: () => lastAt },
  });
  window.requestAnimationFrame = function requestAnimationFrame(cb) {
    requests += 1;
    lastAt = performance.now();
    return original.call(window, cb);
  };
})();`;

export interface Settled {
  /** Something was pending (fonts, images, animations) and was waited for or finished. */
  busy: boolean;
  /** Delay, ms, of the page's `<meta http-equiv=refresh>` to another URL or itself, if any. */
  refreshMs?: number;
}

/**
 * Runs in the page. Plain JavaScript text rather than a serialised TypeScript function: a transpiler
 * that keeps function names (tsx, vitest) would put helper calls into it that the page does not have.
 */
const SETTLE_IN_PAGE = `async (settle, maxMs, rounds, quietFrames, rafQuietMs) => {
  const meta = document.querySelector('meta[http-equiv="refresh" i]')?.getAttribute('content') ?? '';
  const delay = /^\\s*(\\d+(?:\\.\\d*)?)/.exec(meta);
  const refreshMs = delay ? Math.round(Number(delay[1]) * 1000) : undefined;
  if (!settle) return { busy: false, refreshMs };

  const until = performance.now() + maxMs;
  const timeLeft = () => new Promise((r) => setTimeout(r, Math.max(0, until - performance.now())));
  const bounded = (work) => Promise.race([work.catch(() => undefined), timeLeft()]);
  const hook = window[Symbol.for('${FRAME_HOOK}')];
  const frame = () => new Promise((r) => (hook ? hook.frame(() => r()) : requestAnimationFrame(() => r())));
  let busy = false;

  // Lay the page out now: text added since the last frame asks for its web fonts here.
  document.documentElement.getBoundingClientRect();
  if (document.fonts.status !== 'loaded') {
    busy = true;
    await bounded(document.fonts.ready);
  }
  const inView = (el) => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && r.bottom > 0 && r.right > 0 && r.top < innerHeight && r.left < innerWidth;
  };
  // Complete images are painted by the capture itself; decode() on them would cost a frame.
  const loading = Array.from(document.images).filter((img) => !img.complete && inView(img));
  if (loading.length) {
    busy = true;
    await bounded(Promise.allSettled(loading.map((img) => img.decode())));
  }
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
  // A page that asked for a frame in the last 100 ms runs a frame loop of its own: wait until it
  // has not asked for one for three frames. A page that did not pays nothing here.
  if (hook && performance.now() - hook.lastAt() < 100) {
    const quietBy = Math.min(until, performance.now() + rafQuietMs);
    let seen = hook.requests();
    for (let calm = 0; calm < 3 && performance.now() < quietBy; ) {
      await bounded(frame());
      const now = hook.requests();
      if (now === seen) calm += 1;
      else [calm, seen, busy] = [0, now, true];
    }
  }
  if (busy) for (let i = 0; i < quietFrames && performance.now() < until; i++) await bounded(frame());
  return { busy, refreshMs };
}`;

/** Settles the page (or, with `settle` off, only reads its meta refresh); bounded by `maxMs`. */
export function settlePage(page: Page, settle: boolean, maxMs: number): Promise<Settled> {
  const args = [settle, Math.round(maxMs), ANIMATION_ROUNDS, QUIET_FRAMES, RAF_QUIET_MAX_MS].join(', ');
  return page.evaluate(`(${SETTLE_IN_PAGE})(${args})`) as Promise<Settled>;
}
