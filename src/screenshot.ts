/**
 * takeScreenshot, the pipeline once a request is validated and its options resolved (src/options.ts):
 * policy (may the target be reached) → queue (a capture slot) → render (renderPage, in a tab of its own
 * in the shared Chromium: a fresh context, or a scrubbed warm tab of the same site) → encode (encodeToFile: sharp, to a file under the capture directory). The
 * route calls it once, when the capture cache cannot answer, and streams the file it returns.
 */
import type PQueue from 'p-queue';
import type { BrowserManager } from './browser/browser.js';
import { checkCaptureSize } from './capture/grab-image.js';
import type { CaptureFile, CaptureFiles } from './capture-files.js';
import { encodeImage } from './capture/encode.js';
import { type PageReport, renderPage, warmKeyFor } from './capture/render-page.js';
import type { Deadline } from './deadline.js';
import { badGateway, HttpError, isBrowserGone, isPageGone, unavailable } from './errors.js';
import type { OutputFormat } from './formats.js';
import type { CaptureOptions } from './options.js';
import { checkDestination, type EgressPolicy, refusedError, whyBlockedBy } from './policy/destination.js';
import { portOf } from './policy/target-url.js';

export interface ScreenshotDeps {
  browser: BrowserManager;
  queue: PQueue;
  maxQueue: number;
  egress: EgressPolicy;
  files: CaptureFiles;
  /** The instance is frozen when no request runs (config.ts): the last capture tidies up before it answers. */
  frozenWhenIdle?: boolean;
}

/** The capture file, and the report on the page it shows. */
export type Screenshot = CaptureFile & PageReport;

/**
 * The target, checked before any browser work: a 403 (internal destination) or 502 (the name does
 * not resolve) here costs nothing.
 */
async function admitTarget(target: URL, egress: EgressPolicy): Promise<void> {
  const verdict = await checkDestination(target.hostname, portOf(target), egress);
  if (!verdict.allowed) throw refusedError(target.host, verdict);
}

/** Less than this left of the deadline: a capture whose browser died is not tried again. */
const RETRY_MIN_MS = 2000;
/** The most a caller's answer waits for the work after captures (frozenWhenIdle). */
const TIDY_MAX_MS = 1000;
/** What of the request's deadline tidying never takes: the answer itself is due by then. */
const TIDY_MARGIN_MS = 500;

/**
 * The last capture running (succeeded or not) on an instance that is about to be frozen: the tabs
 * being scrubbed to be kept are finished now, while the instance still runs, within what the
 * deadline leaves. A capture that comes meanwhile keeps the instance awake: the answer goes at once.
 */
async function tidyIfLast(deps: ScreenshotDeps, deadline: Deadline): Promise<void> {
  if (!deps.frozenWhenIdle || deps.queue.pending > 0 || deps.queue.size > 0) return;
  const maxMs = Math.min(TIDY_MAX_MS, deadline.remaining() - TIDY_MARGIN_MS);
  if (maxMs <= 0) return;
  let stopWaiting: (() => void) | undefined;
  const another = new Promise<void>((resolve) => {
    stopWaiting = resolve;
    deps.queue.once('add', resolve);
  });
  const started = performance.now();
  try {
    await deps.browser.finishBackground(maxMs, another);
  } finally {
    deps.queue.off('add', stopWaiting);
    deadline.record('tidy', performance.now() - started);
  }
}

/**
 * The encoded capture, written to its file. Not raced against the deadline, as the other steps are:
 * an encoder cannot be stopped once begun (sharp reaches no further into libheif or libwebp), so the
 * capture keeps its slot in the queue until its encoder ends, and what it made is discarded if the
 * request ended meanwhile. The caller has had its answer (takeScreenshot races the whole job).
 */
async function encodeToFile(
  files: CaptureFiles,
  bytes: Buffer,
  made: OutputFormat,
  opts: CaptureOptions,
  deadline: Deadline,
): Promise<CaptureFile> {
  const done = deadline.mark('encode');
  try {
    deadline.signal.throwIfAborted();
    const encoded = await encodeImage(bytes, made, opts, deadline.signal);
    deadline.signal.throwIfAborted();
    const file = await files.write(opts.format, encoded);
    if (deadline.signal.aborted) await files.discard(file.path);
    deadline.signal.throwIfAborted();
    return file;
  } finally {
    done();
  }
}

export async function takeScreenshot(
  deps: ScreenshotDeps,
  opts: CaptureOptions,
  deadline: Deadline,
): Promise<Screenshot> {
  const { target } = opts;
  checkCaptureSize(opts);
  if (target) await deadline.step('policy', () => admitTarget(target, deps.egress));
  if (deps.queue.size >= deps.maxQueue && deps.queue.pending >= deps.queue.concurrency) {
    throw unavailable('too many captures in progress; retry shortly', 1);
  }
  const enqueued = performance.now();
  const job = deps.queue.add(async (): Promise<Screenshot> => {
    deadline.record('queue', performance.now() - enqueued);
    deadline.signal.throwIfAborted(); // the caller already gave up: skip the work
    const render = () => {
      const pageReady = deadline.mark('page');
      return deps.browser.withPage(
        (tab, { warm }) => {
          pageReady();
          if (warm) deadline.describe('page', 'warm');
          return renderPage(tab, opts, deadline, whyBlockedBy(deps.egress));
        },
        (work) => deadline.race(work),
        warmKeyFor(opts),
      );
    };
    // Chromium died under this capture, most likely for another request's page: once more on a new
    // Chromium, if the deadline leaves room. Only once: a page that kills Chromium is not run a third time.
    const { bytes, made, ...report } = await render().catch((err: unknown) => {
      if (!isBrowserGone(err) || deadline.remaining() < RETRY_MIN_MS) throw err;
      return render();
    });
    return { ...(await encodeToFile(deps.files, bytes, made, opts, deadline)), ...report };
  });
  try {
    const shot = (await deadline.race(job)) as Screenshot;
    await tidyIfLast(deps, deadline);
    return shot;
  } catch (err) {
    // The job may still finish after we gave up (deadline, client gone): remove what it wrote.
    job.then((late) => late && deps.files.discard(late.path)).catch(() => undefined);
    await tidyIfLast(deps, deadline);
    if (err instanceof HttpError) throw err;
    // A page's target closing under us without the whole browser dying (e.g. a renderer killed).
    if (err instanceof Error && isPageGone(err.message))
      throw badGateway(`the page went away: ${err.message.split('\n')[0]}`, 'page_closed');
    throw err;
  }
}
