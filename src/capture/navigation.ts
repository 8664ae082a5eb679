/**
 * Client-side navigation: a page that sends its main frame elsewhere after it loaded (a script setting
 * `location`, `<meta http-equiv=refresh>`, a clicked link). A screenshot asked for while such a
 * navigation is in flight never comes back, so the capture watches the main frame from the start:
 * a cross-document navigation that starts before the capture is taken is followed to where it lands,
 * its destination refused by the egress guard is a fast 403, and a page that keeps navigating is a
 * 502 `navigation_loop` after MAX_HOPS.
 *
 * The signals are CDP events on the capture's own session (Page.frameStartedNavigating, frameNavigated,
 * loadEventFired), matched to the navigation by its loader id, and puppeteer's network events for the
 * navigation's request (the main frame's latest navigation request): its response or failure.
 */
import type { HTTPRequest, HTTPResponse } from 'puppeteer-core';
import type { Tab } from '../browser/own-tab.js';
import type { Protocol } from 'puppeteer-core';
import { badGateway, type HttpError, navigationLoop } from '../errors.js';
import type { WaitUntil } from '../options.js';
import { refusedError, type WhyBlocked } from '../policy/destination.js';

/** Client-side navigations followed after the first page; one more is a navigation loop. */
export const MAX_HOPS = 5;
/** A `<meta http-equiv=refresh>` due within this many ms of load is waited for (and followed). */
export const META_REFRESH_MAX_MS = 1000;

/** Thrown into the work a navigation interrupted: the page it was working on is going away. */
export class NavigationStarted extends Error {
  constructor(readonly url: string) {
    super(`the page navigated to ${url}`);
    this.name = 'NavigationStarted';
  }
}

/**
 * Chromium's errors for a tunnel the egress proxy did not open: the rule refused the destination,
 * its name did not resolve, or it could not be reached (or the proxy itself was cut).
 */
const TUNNEL_FAILED = /net::ERR_(SOCKS_CONNECTION_FAILED|TUNNEL_CONNECTION_FAILED|PROXY_CONNECTION_FAILED)/;

/** The request failed at the egress proxy (perhaps refused by the rule), not in the page or the target. */
export const failedAtProxy = (errorText: string | undefined): boolean => TUNNEL_FAILED.test(errorText ?? '');

/**
 * The caller's error for a navigation to `url` that failed with Chromium's `errorText`. A failed tunnel
 * says nothing of why, so the egress rule is asked again: 403 `blocked` or 502 `unreachable` with its
 * reason; else the destination was allowed and did not answer.
 */
export async function navigationError(url: string, errorText: string, whyBlocked: WhyBlocked): Promise<HttpError> {
  if (!failedAtProxy(errorText)) return badGateway(`${errorText} loading ${url}`);
  const refusal = await whyBlocked(url);
  if (refusal) return refusedError(new URL(url).host, refusal);
  return badGateway(`net::ERR_CONNECTION_FAILED loading ${url}`);
}

const SAME_DOCUMENT = new Set(['sameDocument', 'historySameDocument']);
/** What puppeteer says when a call's document was replaced under it. */
const GONE = /Execution context was destroyed|Cannot find context|frame was detached|navigat/i;
/** How long a "document gone" error waits for the navigation event that explains it. */
const EVENT_LAG_MS = 1000;

interface Nav {
  loaderId: string;
  url: string;
  /** The main frame's navigation request for it, once seen (the last of its HTTP redirects). */
  request?: HTTPRequest;
  /** HTTP status of its response. */
  status?: number;
  committed: boolean;
  /** It is the navigation goto answered for. */
  first?: boolean;
  /** The document reached the `waitUntil` point (or was accepted as the page goto returned). */
  landed: boolean;
}

export class NavigationWatch {
  private mainFrameId?: string;
  private current?: Nav;
  /** Cross-document navigations of the main frame seen so far, the first page's included. */
  private starts = 0;
  /** Navigations of the main frame that are not the first page's. */
  hops = 0;
  private shownStatus?: number;
  private waiters = new Set<() => void>();
  private fatal?: Error;
  private failWith!: (err: Error) => void;
  /** Rejects when the watch decides the capture cannot go on: a loop, a refused destination. */
  readonly failure: Promise<never>;

  constructor(
    private readonly tab: Tab,
    private readonly whyBlocked: WhyBlocked,
    private readonly waitUntil: WaitUntil,
    /** The first page is raw HTML (no navigation of its own): every navigation is a hop. */
    private readonly fromHtml: boolean,
  ) {
    this.failure = new Promise<never>((_resolve, reject) => {
      this.failWith = reject;
    });
    this.failure.catch(() => undefined); // observed by whoever races it
  }

  /** Subscribes to the main frame's navigation events (one round trip, run beside emulation). */
  async start(): Promise<void> {
    const { cdp, on } = this.tab;
    cdp.on('Page.frameStartedNavigating', (e: Protocol.Page.FrameStartedNavigatingEvent) => this.onStart(e));
    cdp.on('Page.frameNavigated', (e: Protocol.Page.FrameNavigatedEvent) => {
      if (e.frame.parentId || this.current?.loaderId !== e.frame.loaderId) return;
      this.current.committed = true;
      this.shownStatus = this.current.status;
    });
    const reached = () => {
      if (this.current?.committed && !this.current.landed) this.land();
    };
    if (this.waitUntil === 'domcontentloaded') cdp.on('Page.domContentEventFired', reached);
    else cdp.on('Page.loadEventFired', reached);
    on('request', (request) => {
      if (this.current && !this.current.landed && this.isMainNavigation(request)) this.current.request = request;
    });
    on('response', (response) => this.onResponse(response));
    on('requestfailed', (request) => this.onFailed(request));
    const [, tree] = await Promise.all([cdp.send('Page.enable'), cdp.send('Page.getFrameTree')]);
    this.mainFrameId = tree.frameTree.frame.id;
  }

  private onStart(e: Protocol.Page.FrameStartedNavigatingEvent): void {
    if (e.frameId !== this.mainFrameId || SAME_DOCUMENT.has(e.navigationType) || this.fatal) return;
    this.starts += 1;
    this.hops = this.fromHtml ? this.starts : Math.max(0, this.starts - 1);
    this.current = { loaderId: e.loaderId, url: e.url, committed: false, landed: false };
    if (this.hops > MAX_HOPS) this.fail(navigationLoop(MAX_HOPS, e.url));
    this.wake();
  }

  private isMainNavigation(request: HTTPRequest): boolean {
    return request.isNavigationRequest() && request.frame() === this.tab.page.mainFrame();
  }

  private isCurrent(request: HTTPRequest): boolean {
    return !!this.current?.request && this.current.request === request;
  }

  private onResponse(response: HTTPResponse): void {
    if (!this.isCurrent(response.request()) || this.current?.landed) return;
    this.current!.status = response.status();
    if (response.status() === 204 || response.status() === 205) this.cancel();
  }

  private onFailed(request: HTTPRequest): void {
    if (!this.isCurrent(request) || this.current?.landed) return;
    const error = request.failure()?.errorText ?? 'net::ERR_FAILED';
    // Aborted: a newer navigation replaced it (that one is current now), or nothing replaced it (a
    // download, a navigation the page cancelled) and the page stays as it was.
    if (error === 'net::ERR_ABORTED') {
      this.cancel();
      return;
    }
    void navigationError(request.url(), error, this.whyBlocked).then(
      (err) => this.fail(err),
      (err: Error) => this.fail(err),
    );
  }

  private cancel(): void {
    if (this.current) this.current.landed = true;
    this.wake();
  }

  private land(): void {
    this.current!.landed = true;
    this.wake();
  }

  private fail(err: Error): void {
    if (this.fatal) return;
    this.fatal = err;
    this.failWith(err);
    this.wake();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /**
   * The page goto returned is the first page. When the navigation in flight is the one goto answered
   * for, only its load event (on this session) may still be on its way: following it waits for that,
   * not for network idle again. Without a response (a bestAttempt goto gave up) the page is taken as
   * it is. Any other navigation in flight started after the first page and is followed in full.
   */
  acceptFirst(response: HTTPResponse | null): void {
    const nav = this.current;
    if (!nav) return;
    if (!response) nav.landed = true;
    else if (response.request() === nav.request) nav.first = true;
  }

  /** The navigation in flight is the first page's own (see acceptFirst). */
  get followingFirst(): boolean {
    return !!this.current?.first;
  }

  /** A count that changes whenever a main-frame navigation starts. */
  get epoch(): number {
    return this.starts;
  }

  /** True while a navigation has started and not yet landed. */
  get navigating(): boolean {
    return !!this.current && !this.current.landed;
  }

  get url(): string | undefined {
    return this.current?.url;
  }

  /** The main frame shows a document of ours: no navigation yet (raw HTML), or the last one committed. */
  get hasDocument(): boolean {
    return !this.current || this.current.committed;
  }

  /** HTTP status of the document the main frame shows (the last navigation that committed). */
  get status(): number | undefined {
    return this.shownStatus;
  }

  /** Stops waiting for the navigation in flight (bestAttempt): the page is captured as it is. */
  giveUp(): void {
    if (this.current) this.current.landed = true;
  }

  /** Resolves when `test` holds, rejects with the watch's failure; the caller bounds it. */
  private until(test: () => boolean): Promise<void> {
    if (this.fatal) return Promise.reject(this.fatal);
    if (test()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        if (this.fatal) reject(this.fatal);
        else if (test()) resolve();
        else return;
        this.waiters.delete(check);
      };
      this.waiters.add(check);
    });
  }

  /** Resolves once the navigation in flight (and any that replaced it) has landed. */
  landed(): Promise<void> {
    return this.until(() => !this.navigating);
  }

  /** Resolves when a navigation starts after `epoch`. */
  startedAfter(epoch: number): Promise<void> {
    return this.until(() => this.starts > epoch);
  }

  /**
   * Runs `work` on the page as it is at `epoch`; rejects with NavigationStarted as soon as a
   * navigation starts (the work's page is going away), or with the watch's failure.
   */
  async interruptible<T>(epoch: number, work: () => Promise<T>): Promise<T> {
    const started = this.startedAfter(epoch).then(() => {
      throw new NavigationStarted(this.url ?? '');
    });
    started.catch(() => undefined);
    try {
      return await Promise.race([work(), started]);
    } catch (err) {
      // The page said its document went away: the navigation's own event may still be on its way.
      if (GONE.test((err as Error).message ?? '')) {
        const lag = new Promise((r) => setTimeout(r, EVENT_LAG_MS));
        await Promise.race([this.startedAfter(epoch), lag]).catch(() => undefined);
      }
      // Whatever the work said (context destroyed, target navigated), a navigation is the cause.
      if (this.fatal) throw this.fatal;
      if (this.starts > epoch) throw new NavigationStarted(this.url ?? '');
      throw err;
    }
  }
}
