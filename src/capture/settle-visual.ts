/**
 * The settle step's last part: a page still changing by itself (its data came after load, a script
 * tweens counters and bars frame by frame, a view fades in) is watched until its image stands still:
 * a small image of the viewport (a quarter of its size, PNG) is taken every FRAME_GAP_MS and the step
 * ends when STILL_FRAMES in a row are the same as the one before and the page waited for no network in
 * between. Infinite CSS animations and Web Animations (spinners, marquees) are held while the images
 * are compared, and play again after. Bounded by the caller's `until`.
 */
import type { Tab } from '../browser/browser.js';

/** Identical small images in a row that make the page still. */
const STILL_FRAMES = 2;
/** Time between two small images. */
const FRAME_GAP_MS = 80;
/** Size of the small image against the viewport. */
const SCALE = 0.25;
const HELD = 'fcshot.held';

const HOLD_INFINITE = `(() => {
  const held = document.getAnimations().filter((a) => a.playState === 'running' && a.effect?.getComputedTiming().endTime === Infinity);
  for (const a of held) a.pause();
  window[Symbol.for('${HELD}')] = held;
  return { x: scrollX, y: scrollY, width: innerWidth, height: innerHeight };
})()`;

const RELEASE = `(() => {
  for (const a of window[Symbol.for('${HELD}')] ?? []) if (a.playState === 'paused') a.play();
  delete window[Symbol.for('${HELD}')];
})()`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Returns when the viewport's image stood still, or at `until`. `recheck` runs before each image
 * (network, fonts, images, animations once more) and says whether it had to wait for the network.
 */
export async function untilStill(tab: Tab, until: number, recheck: () => Promise<boolean>): Promise<boolean> {
  const view = (await tab.page.evaluate(HOLD_INFINITE)) as { x: number; y: number; width: number; height: number };
  try {
    let previous = '';
    let still = 0;
    while (Date.now() < until) {
      const waited = await recheck();
      const { data } = await tab.cdp.send('Page.captureScreenshot', {
        format: 'png',
        optimizeForSpeed: true,
        clip: { ...view, scale: SCALE },
      });
      still = data === previous && !waited ? still + 1 : 0;
      if (still >= STILL_FRAMES) return true;
      previous = data;
      await sleep(Math.min(FRAME_GAP_MS, Math.max(0, until - Date.now())));
    }
    return false;
  } finally {
    await tab.page.evaluate(RELEASE).catch(() => undefined);
  }
}
