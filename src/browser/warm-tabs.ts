/**
 * Warm tabs: a capture's tab kept, scrubbed, for the next capture of the same site.
 *
 * A fresh browser context costs a fresh renderer process, and starting one is the largest fixed part
 * of a capture's CPU (BENCHMARKS.md). Chromium ties a renderer to one context and one site, so a tab
 * kept in its context, on a blank document of the same process, serves the next capture of that site
 * without starting one. What the previous capture left must not reach the next: after each capture
 * the tab is scrubbed (scrubTab) and only then offered again; a tab that cannot be scrubbed in time,
 * whose capture failed, or whose options left state on it (src/capture/render-page.ts, warmKeyFor),
 * is closed with its context as before.
 */
import { randomUUID } from 'node:crypto';
import type { Browser, BrowserContext, CDPSession, Page, PageEvents, Protocol } from 'puppeteer-core';
import { withTimeout } from '../deadline.js';

/** A scrub that takes longer than this gives the tab up (a renderer that does not answer). */
const SCRUB_MS = 3000;

/** What a capture works with: a page, and a raw CDP session to it for the calls puppeteer wraps slowly. */
export interface Tab {
  page: Page;
  /** This capture's own session: emulation set on it ends when it is detached. */
  cdp: CDPSession;
  /** `page.on` for this capture only: the handler is removed when the capture ends (may be called unbound). */
  on: <K extends keyof PageEvents & string>(type: K, handler: (event: PageEvents[K]) => void) => void;
}

/**
 * What a capture's own session saw of the documents it showed: their origins (frames in the page's
 * process: the page and frames of its site), and whether any frame ran in another process (a frame
 * of another site). Events on one session arrive in order, so after a round trip on it nothing is
 * missing.
 */
class DocumentLog {
  readonly origins = new Set<string>();
  mainOrigin?: string;
  otherSite = false;

  constructor(cdp: CDPSession) {
    cdp.on('Page.frameNavigated', ({ frame }: Protocol.Page.FrameNavigatedEvent) => {
      if (!frame.parentId) this.mainOrigin = frame.securityOrigin;
      if (/^https?:\/\//.test(frame.securityOrigin)) this.origins.add(frame.securityOrigin);
    });
    cdp.on('Target.attachedToTarget', () => {
      this.otherSite = true;
    });
  }

  /** Starts the log: frame events, and an attachment to every frame another process runs. */
  static async start(cdp: CDPSession): Promise<DocumentLog> {
    const log = new DocumentLog(cdp);
    await Promise.all([
      cdp.send('Page.enable'),
      cdp.send('Target.setAutoAttach', {
        autoAttach: true,
        waitForDebuggerOnStart: false,
        flatten: true,
        filter: [{ type: 'iframe', exclude: false }],
      }),
    ]);
    return log;
  }
}

/** A tab in its own browser context, with what is needed to hand it to one capture after another. */
export class OwnTab implements Tab {
  private readonly handlers: Array<[keyof PageEvents & string, (event: unknown) => void]> = [];
  private crashed = false;
  private popups = 0;

  private constructor(
    readonly context: BrowserContext,
    readonly page: Page,
    public cdp: CDPSession,
    private log: DocumentLog,
  ) {
    page.once('error', () => {
      this.crashed = true;
    });
    page.on('popup', () => {
      this.popups += 1;
    });
  }

  /** A new, isolated context (no cookies, cache or storage shared) with one page; downloads denied. */
  static async open(browser: Browser): Promise<OwnTab> {
    const context = await browser.createBrowserContext({ downloadBehavior: { policy: 'deny' } });
    try {
      const page = await context.newPage();
      const cdp = await page.createCDPSession();
      return new OwnTab(context, page, cdp, await DocumentLog.start(cdp));
    } catch (err) {
      await context.close().catch(() => undefined);
      throw err;
    }
  }

  readonly on: Tab['on'] = (type, handler) => {
    this.page.on(type, handler);
    this.handlers.push([type, handler as (event: unknown) => void]);
  };

  /** Sound enough to be handed out: neither closed nor crashed. */
  get usable(): boolean {
    return !this.crashed && !this.page.isClosed();
  }

  /**
   * The origins whose storage the capture's documents could use, if the tab can be scrubbed of them:
   * the page's own origin, and frames of the same scheme and host. A frame of another site keeps its
   * storage partitioned under the page's site, and a pop-up is a tab of its own, each with session
   * storage that only a document of theirs can clear: such a tab is closed rather than kept.
   */
  private async scrubbable(browserSession: CDPSession): Promise<string[] | undefined> {
    // The round trip: every event the capture's session sent before it has been seen.
    await this.cdp.send('Page.getFrameTree');
    const { targetInfos } = await browserSession.send('Target.getTargets', { filter: [{ type: 'page' }] });
    const pages = targetInfos.filter((t) => t.browserContextId === this.context.id).length;
    const { origins, mainOrigin, otherSite } = this.log;
    if (otherSite || this.popups > 0 || pages !== 1 || !mainOrigin || !origins.has(mainOrigin)) return undefined;
    const main = new URL(mainOrigin);
    for (const origin of origins) {
      const { protocol, hostname } = new URL(origin);
      if (protocol !== main.protocol || hostname !== main.hostname) return undefined;
    }
    return [mainOrigin, ...[...origins].filter((o) => o !== mainOrigin)];
  }

  /**
   * Leaves the tab as a fresh one, but for its renderer process: the capture's listeners removed, its
   * CDP session (and with it every emulation override and script set on it) detached, every document
   * replaced by blank ones of the same origins (served by us, not the network, and running no script),
   * session storage cleared while those are there, the history dropped, and everything the context
   * stored cleared: cookies, HTTP cache, and for each origin storage of every kind (local storage,
   * IndexedDB, Cache Storage, service workers…). A new session is opened for the next capture.
   * Throws when the tab cannot be scrubbed (see scrubbable), or any step fails or takes too long.
   */
  async scrub(browserSession: CDPSession): Promise<void> {
    if (!this.usable) throw new Error('the tab is gone');
    for (const [type, handler] of this.handlers.splice(0)) this.page.off(type, handler);
    await withTimeout(SCRUB_MS, 'scrubbing a tab', this.scrubOrThrow(browserSession));
    if (!this.usable) throw new Error('the tab is gone');
  }

  private async scrubOrThrow(browserSession: CDPSession): Promise<void> {
    const origins = await this.scrubbable(browserSession);
    if (!origins) throw new Error('the page showed documents this tab cannot be scrubbed of');
    await this.cdp.detach().catch(() => undefined);
    const blanking = await this.page.createCDPSession();
    // The blank documents: the page's origin first, the others as frames in it. Same site, same
    // process, so this session sees (and answers) each request; nothing reaches the network.
    const path = `/.well-known/fcshot-blank-${randomUUID()}`;
    const [top, ...frames] = origins;
    const blank = (frameOrigins: string[]) =>
      Buffer.from(`<!doctype html>${frameOrigins.map((o) => `<iframe src="${o}${path}"></iframe>`).join('')}`).toString(
        'base64',
      );
    blanking.on('Fetch.requestPaused', (e: Protocol.Fetch.RequestPausedEvent) => {
      const isTop = e.request.url === `${top}${path}`;
      served.add(e.request.url);
      void blanking
        .send('Fetch.fulfillRequest', {
          requestId: e.requestId,
          responseCode: 200,
          responseHeaders: [
            { name: 'content-type', value: 'text/html' },
            { name: 'content-security-policy', value: "script-src 'none'" },
          ],
          body: blank(isTop ? frames : []),
        })
        .catch(() => undefined);
    });
    // A service worker the page registered would answer the navigation before we can.
    await Promise.all(
      origins.map((origin) => blanking.send('Storage.clearDataForOrigin', { origin, storageTypes: 'service_workers' })),
    );
    const served = new Set<string>();
    await blanking.send('Fetch.enable', { patterns: origins.map((o) => ({ urlPattern: `${o}${path}` })) });
    // Leaving the page runs its pagehide handlers, which may still write; what they write is cleared below.
    await this.page.goto(`${top}${path}`, { waitUntil: 'load', timeout: SCRUB_MS });
    // Each blank document must be ours (not, say, a service worker's answer the page left behind).
    if (served.size !== origins.length) throw new Error('the blank documents were not all served by the scrub');
    await blanking.detach();
    // A session opened on the blank documents (one opened before sees the old ones) for the scrub and
    // the next capture, with a fresh log of what it shows.
    const cdp = await this.page.createCDPSession();
    this.cdp = cdp;
    this.log = await DocumentLog.start(cdp);
    const contextId = this.context.id;
    const clear = () =>
      Promise.all([
        cdp.send('Network.clearBrowserCookies'),
        cdp.send('Network.clearBrowserCache'),
        ...origins.flatMap((origin) => [
          cdp.send('Storage.clearDataForOrigin', { origin, storageTypes: 'all' }),
          // Session storage belongs to the tab, and is reached through a frame of its origin.
          cdp.send('DOMStorage.clear', { storageId: { storageKey: `${origin}/`, isLocalStorage: false } }),
        ]),
      ]);
    // Writes the old documents sent just before they went may land after a clear: clear until a
    // look finds nothing left, or give the tab up.
    for (let attempt = 0; ; attempt++) {
      await clear();
      const left = await leftBehind(cdp, browserSession, contextId, origins);
      if (!left) break;
      if (attempt === 2) throw new Error(`the tab still holds ${left} after scrubbing`);
    }
    await Promise.all([
      cdp.send('Page.resetNavigationHistory'),
      // The window's name outlives its documents.
      cdp.send('Runtime.evaluate', { expression: 'window.name = ""' }),
      contextId ? browserSession.send('Browser.resetPermissions', { browserContextId: contextId }) : undefined,
    ]);
  }

  async close(): Promise<void> {
    await this.context.close().catch(() => undefined);
  }
}

/**
 * What a page of these origins could still read in the context: cookies, local and session storage,
 * IndexedDB databases, Cache Storage caches. Undefined when nothing; else what was found.
 */
async function leftBehind(
  cdp: CDPSession,
  browserSession: CDPSession,
  browserContextId: string | undefined,
  origins: string[],
): Promise<string | undefined> {
  const counts = await Promise.all([
    browserSession.send('Storage.getCookies', { browserContextId }).then((r) => ['cookies', r.cookies.length] as const),
    ...origins.flatMap((origin) => {
      const storageKey = `${origin}/`;
      return [
        cdp
          .send('DOMStorage.getDOMStorageItems', { storageId: { storageKey, isLocalStorage: true } })
          .then((r) => ['local storage', r.entries.length] as const),
        cdp
          .send('DOMStorage.getDOMStorageItems', { storageId: { storageKey, isLocalStorage: false } })
          .then((r) => ['session storage', r.entries.length] as const),
        cdp
          .send('IndexedDB.requestDatabaseNames', { storageKey })
          .then((r) => ['IndexedDB', r.databaseNames.length] as const),
        cdp
          .send('CacheStorage.requestCacheNames', { storageKey })
          .then((r) => ['Cache Storage', r.caches.length] as const),
      ];
    }),
  ]);
  const found = counts.filter(([, n]) => n > 0).map(([what, n]) => `${n} ${what}`);
  return found.length ? found.join(', ') : undefined;
}

/** A kept tab, and whether its scrub succeeded (pending while it runs). */
interface Kept {
  site: string;
  tab: OwnTab;
  scrubbed: Promise<boolean>;
}

/**
 * The kept tabs, by site, at most `capacity` in all: the least recently kept goes first. A tab is
 * kept the moment its capture ends, while it is still being scrubbed, so that the next capture of the
 * site, which may come at once, waits for the scrub rather than starting a renderer; it is handed out
 * only once scrubbed. A tab is taken out while a capture uses it, so no two captures share one.
 */
export class WarmTabs {
  /** Least recently kept first. */
  private readonly kept: Kept[] = [];
  /** The sites of the last captures, oldest first. */
  private readonly recent: string[] = [];

  constructor(private readonly capacity: number) {}

  /**
   * Notes a capture of `site`; true when a tab kept after it would likely serve again: the site came
   * up within the last 2 × capacity captures. A site seen once, or long ago, is not worth the scrub
   * (a workload of ever new sites pays nothing for warm tabs).
   */
  noteCapture(site: string): boolean {
    const recurring = this.recent.includes(site);
    this.recent.push(site);
    if (this.recent.length > 2 * this.capacity) this.recent.shift();
    return recurring && this.capacity > 0;
  }

  get size(): number {
    return this.kept.length;
  }

  /** A kept tab for `site`, once scrubbed; undefined if there is none (or none scrubbed soundly). */
  async take(site: string): Promise<OwnTab | undefined> {
    for (;;) {
      const at = this.kept.map((k) => k.site).lastIndexOf(site);
      if (at === -1) return undefined;
      const [{ tab, scrubbed }] = this.kept.splice(at, 1) as [Kept];
      if ((await scrubbed) && tab.usable) return tab;
      void tab.close();
    }
  }

  /**
   * Keeps `tab` for `site` while `scrubbed` says whether it may be handed out; returns the tabs pushed
   * out, for the caller to close. A failed scrub takes the tab out again (closed by whoever finds it).
   */
  keep(site: string, tab: OwnTab, scrubbed: Promise<boolean>): OwnTab[] {
    if (this.capacity <= 0) return [tab];
    const entry = { site, tab, scrubbed };
    this.kept.push(entry);
    void scrubbed.then((ok) => {
      const at = this.kept.indexOf(entry);
      if (!ok && at !== -1) {
        this.kept.splice(at, 1);
        void tab.close();
      }
    });
    return this.kept.splice(0, Math.max(0, this.kept.length - this.capacity)).map((k) => k.tab);
  }
}
