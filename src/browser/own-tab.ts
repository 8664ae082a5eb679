/**
 * A capture's tab in a browser context of its own (OwnTab), and the scrub that leaves it as a fresh
 * one but for its renderer process, so that the next capture of the same site can use it without
 * starting one (the pool of kept tabs: warm-tabs.ts). What the previous capture left must not reach
 * the next: a tab that cannot be scrubbed in time is closed with its context instead.
 */
import { randomUUID } from 'node:crypto';
import type { Browser, BrowserContext, CDPSession, Page, PageEvents, Protocol } from 'puppeteer-core';
import { withTimeout } from '../deadline.js';
import type { ProxyEntrance } from '../policy/egress-proxy.js';

/** A scrub that takes longer than this gives the tab up (a renderer that does not answer). */
const SCRUB_MS = 3000;
/** Closing a context is given this long: a Chromium that does not answer does not hold its caller. */
const CLOSE_CONTEXT_MS = 5000;
/** How often, and how soon, a history reset Chromium did not carry out is tried again (dropBlankOnCommit). */
const BLANK_DROP_RETRIES = 3;
const BLANK_DROP_RETRY_MS = 20;
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
 * process: the page and frames of its site), whether any frame ran in another process (a frame of
 * another site), and whether a frame showed a document inside a frame with an opaque origin (a
 * `data:` document, for one). Events on one session arrive in order, so after a round trip on it
 * nothing is missing.
 */
class DocumentLog {
  readonly origins = new Set<string>();
  mainOrigin?: string;
  otherSite = false;
  /**
   * A frame made, or a document shown, inside a frame whose origin is opaque. Chromium keys storage
   * under it as storage with a cross-site ancestor, partitioned apart from the origin's own, so
   * clearing the origin leaves it.
   */
  underOpaque = false;
  /** Frames whose current document has an opaque origin (anything but http and https here). */
  private readonly opaqueFrames = new Set<string>();
  /** The last scrub's blank documents, answered by this session until their entry leaves the history. */
  private answerBlank?: (e: Protocol.Fetch.RequestPausedEvent) => void;
  /** dropBlankOnCommit's attempts (reset, read-back, Fetch.disable), chained, until the last is answered. */
  private dropping: Promise<void> = Promise.resolve();
  private retired = false;
  /** Ends the attempts of dropBlankOnCommit. */
  private stopDropping = () => {};

  private constructor(private readonly cdp: CDPSession) {
    cdp.on('Page.frameNavigated', ({ frame }: Protocol.Page.FrameNavigatedEvent) => {
      if (!frame.parentId) this.mainOrigin = frame.securityOrigin;
      if (frame.parentId && this.opaqueFrames.has(frame.parentId)) this.underOpaque = true;
      if (/^https?:\/\//.test(frame.securityOrigin)) {
        this.origins.add(frame.securityOrigin);
        this.opaqueFrames.delete(frame.id);
      } else this.opaqueFrames.add(frame.id);
    });
    // A frame made inside an opaque one keeps an opaque document until it navigates, if ever, and a
    // frame of the site made inside it in turn has the cross-site ancestor all the same.
    cdp.on('Page.frameAttached', ({ parentFrameId }: Protocol.Page.FrameAttachedEvent) => {
      if (this.opaqueFrames.has(parentFrameId)) this.underOpaque = true;
    });
    cdp.on('Target.attachedToTarget', () => {
      this.otherSite = true;
    });
  }

  /**
   * Starts the log: frame events, and an attachment to every frame another process runs. With `blank`
   * (the last scrub's blank document: its path, and its entry, the one in the history, until the
   * capture's page has committed and dropBlankOnCommit takes it out), a history navigation back to it is
   * answered blank by this session, as the scrub answered it, and never reaches the network.
   */
  static async start(cdp: CDPSession, blank?: BlankEntry): Promise<DocumentLog> {
    const log = new DocumentLog(cdp);
    if (blank) {
      log.answerBlank = (e) => void answerBlank(cdp, e);
      cdp.on('Fetch.requestPaused', log.answerBlank);
      log.dropBlankOnCommit(blank.entryId);
    }
    await Promise.all([
      blank ? cdp.send('Fetch.enable', { patterns: [{ urlPattern: `*${blank.path}` }] }) : undefined,
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

  /**
   * Before the next scrub answers requests on this session: the last scrub's answers stop at once, and
   * what resolves is when no Fetch.disable of this log's can land after the scrub's Fetch.enable.
   */
  retire(): Promise<void> {
    this.retired = true;
    this.stopDropping();
    if (this.answerBlank) this.cdp.off('Fetch.requestPaused', this.answerBlank);
    return this.dropping;
  }

  /**
   * Once the capture's page commits, the way back to the blank document goes (the history is reset),
   * and with it the interception that answered it: while Fetch is enabled, Chromium routes every
   * request of the page through it, matched or not, which costs the browser process CPU on each one.
   * The reset is read back (resetHistory) and tried again (shortly, a few times, and at DOMContentLoaded
   * and load) until the blank entry is gone. A history navigation begun meanwhile (the page went back at once) keeps the
   * interception for the whole capture, so a blank document is still answered by us.
   */
  private dropBlankOnCommit(blankEntryId: number): void {
    const { cdp } = this;
    let historyMoved = false;
    let dropped = false;
    let retries = 0;
    const onStart = ({ navigationType }: Protocol.Page.FrameStartedNavigatingEvent) => {
      if (/^(history|restore)/i.test(navigationType)) historyMoved = true;
    };
    const attempt = () => {
      if (dropped) return;
      this.dropping = this.dropping
        .then(async () => {
          if (dropped || this.retired || historyMoved) return;
          const entries = await resetHistory(cdp);
          if (dropped || this.retired || historyMoved) return;
          if (entries.some((e) => e.id === blankEntryId)) {
            if (retries++ < BLANK_DROP_RETRIES) setTimeout(attempt, BLANK_DROP_RETRY_MS).unref();
            return;
          }
          dropped = true;
          this.stopDropping();
          await cdp.send('Fetch.disable');
          if (this.answerBlank) cdp.off('Fetch.requestPaused', this.answerBlank);
        })
        .catch(() => undefined);
    };
    const onCommit = ({ frame }: Protocol.Page.FrameNavigatedEvent) => {
      if (!frame.parentId) attempt();
    };
    // The session starts on the loaded blank document: these come only after the capture's commit.
    const onLoaded = () => attempt();
    cdp.on('Page.frameStartedNavigating', onStart);
    cdp.on('Page.frameNavigated', onCommit);
    cdp.on('Page.domContentEventFired', onLoaded);
    cdp.on('Page.loadEventFired', onLoaded);
    this.stopDropping = () => {
      cdp.off('Page.frameStartedNavigating', onStart);
      cdp.off('Page.frameNavigated', onCommit);
      cdp.off('Page.domContentEventFired', onLoaded);
      cdp.off('Page.loadEventFired', onLoaded);
    };
  }
}

/** The scrub's blank document as the history holds it, for the next capture's session. */
interface BlankEntry {
  path: string;
  entryId: number;
}

/** A tab in its own browser context, with what is needed to hand it to one capture after another. */
export class OwnTab implements Tab {
  private readonly handlers: Array<[keyof PageEvents & string, (event: unknown) => void]> = [];
  private crashed = false;
  /** Pages other than this one that appeared in the context (pop-ups), ever. */
  private otherPages = 0;
  /** Why the current capture left state no scrub clears (undefined: none seen). */
  private tainted?: string;

  private constructor(
    readonly context: BrowserContext,
    readonly page: Page,
    public cdp: CDPSession,
    private log: DocumentLog,
    private readonly entrance: ProxyEntrance,
  ) {
    page.once('error', () => {
      this.crashed = true;
    });
    const target = page.target();
    context.on('targetcreated', (created) => {
      if (created !== target && created.type() === 'page') this.otherPages += 1;
    });
    page.on('request', (request) => {
      if (/^[a-z]+:\/\/[^/]*@/i.test(request.url())) this.tainted = 'credentials in a URL';
    });
    page.on('response', (response) => {
      const status = response.status();
      const headers = response.headers();
      // Chromium keeps what these set per profile, and no CDP command clears it.
      if (status === 401 || status === 407) this.tainted = 'an HTTP authentication challenge (auth cache)';
      else if (headers['accept-ch'] !== undefined || headers['critical-ch'] !== undefined)
        this.tainted = 'client hints asked for (Accept-CH)';
    });
  }

  /**
   * A new, isolated context (no cookies, cache or storage shared) with one page; downloads denied; its
   * traffic through an entrance of its own into the egress proxy (loopback included, as for the browser).
   */
  static async open(browser: Browser, entrance: ProxyEntrance): Promise<OwnTab> {
    const context = await browser
      .createBrowserContext({
        downloadBehavior: { policy: 'deny' },
        proxyServer: entrance.url,
        proxyBypassList: ['<-loopback>'],
      })
      .catch(async (err: unknown) => {
        await entrance.close();
        throw err;
      });
    try {
      const page = await context.newPage();
      // Puppeteer's page counts requests in flight for its waitForNetworkIdle with a chain of a dozen
      // rxjs observables and listeners built for every request, whose fresh closures also keep V8
      // recompiling them. The service counts them itself, per capture, where it waits for the network
      // (src/capture/in-flight.ts), and never calls waitForNetworkIdle. Puppeteer's listener is the only
      // one on a new page; the tab and the captures add theirs afterwards. At concurrency 4 on the
      // benchmark's article page: 53 → 47 ms of node's CPU per capture.
      page.removeAllListeners('request');
      // Without its counter, puppeteer's wait would end 0.5 s in, whatever is in flight: fail loudly instead.
      page.waitForNetworkIdle = () =>
        Promise.reject(new Error('waitForNetworkIdle counts nothing on this page: use src/capture/in-flight.ts'));
      const cdp = await page.createCDPSession();
      return new OwnTab(context, page, cdp, await DocumentLog.start(cdp), entrance);
    } catch (err) {
      await context.close().catch(() => undefined);
      await entrance.close();
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
   * Throws unless the context holds this page alone, and never held another: a pop-up is a tab of its
   * own, with session storage and a window the next capture's page could be reached from.
   */
  private async aloneInContext(browserSession: CDPSession): Promise<void> {
    const { targetInfos } = await browserSession.send('Target.getTargets', { filter: [{ type: 'page' }] });
    const pages = targetInfos.filter((t) => t.browserContextId === this.context.id).length;
    if (pages !== 1 || this.otherPages > 0) throw new Error('the page opened another page');
  }

  /**
   * The origins whose storage the capture's documents could use, if the tab can be scrubbed of them:
   * the page's own origin, and frames of the same scheme and host. A frame of another site keeps its
   * storage partitioned under the page's site, with session storage that only a document of its own
   * can clear: such a tab is closed rather than kept, as one whose page left state no scrub clears.
   */
  private async scrubbable(): Promise<string[]> {
    // The round trip: every event the capture's session sent before it has been seen.
    await this.cdp.send('Page.getFrameTree');
    if (this.tainted) throw new Error(`the page left ${this.tainted}`);
    const { origins, mainOrigin, otherSite } = this.log;
    if (otherSite) throw new Error('the page showed a frame of another site');
    if (this.log.underOpaque) throw new Error('the page showed a frame inside a frame of an opaque origin');
    if (!mainOrigin || !origins.has(mainOrigin)) throw new Error('the page has no origin of its own');
    const main = new URL(mainOrigin);
    for (const origin of origins) {
      const { protocol, hostname } = new URL(origin);
      if (protocol !== main.protocol || hostname !== main.hostname) throw new Error(`the page showed ${origin}`);
    }
    return [mainOrigin, ...[...origins].filter((o) => o !== mainOrigin)];
  }

  /**
   * Leaves the tab as a fresh one, but for its renderer process. The capture's listeners go; its
   * entrance into the proxy is cut (whatever it sends fails; no connection of its outlives it); its
   * documents are replaced by blank ones of the same origins (served by us, not the network, running
   * no script), which is when the page's own `pagehide` handlers last run; session storage is cleared
   * through the blank documents, cookies, HTTP cache and every kind of storage of each origin (local
   * storage, IndexedDB, Cache Storage, service workers…) cleared until a look finds nothing; the
   * history is dropped (the blank document stays, and a way back to it is answered blank again); and
   * the capture's CDP session (with every emulation override and script set on it) is replaced by a
   * new one for the next capture. Throws, and the tab is closed,
   * when the page left what this cannot clear (scrubbable, aloneInContext, the taints), when something
   * new showed up meanwhile, or when a step fails or takes too long.
   */
  async scrub(browserSession: CDPSession): Promise<void> {
    if (!this.usable) throw new Error('the tab is gone');
    for (const [type, handler] of this.handlers.splice(0)) this.page.off(type, handler);
    // No connection of the last page's outlives it, and nothing it sends from now on (a keepalive
    // fetch as it is left, a beacon) goes out or comes back with a cookie.
    this.entrance.cut();
    try {
      await withTimeout(SCRUB_MS, 'scrubbing a tab', this.scrubOrThrow(browserSession));
      this.entrance.reopen();
    } finally {
      this.tainted = undefined;
    }
    if (!this.usable) throw new Error('the tab is gone');
  }

  private async scrubOrThrow(browserSession: CDPSession): Promise<void> {
    if (this.otherPages > 0) throw new Error('the page opened another page');
    const origins = await this.scrubbable();
    const blankPath = `/.well-known/fcshot-blank-${randomUUID()}`;
    await this.showBlank(origins, blankPath);
    // The capture's session has stayed attached, so what the page did up to now is in its log.
    if (!sameMembers(await this.scrubbable(), origins)) throw new Error('the page showed another origin meanwhile');
    const cdp = this.cdp;
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
    const [entries] = await Promise.all([
      resetHistory(cdp),
      // The window's name outlives its documents.
      cdp.send('Runtime.evaluate', { expression: 'window.name = ""' }),
      contextId ? browserSession.send('Browser.resetPermissions', { browserContextId: contextId }) : undefined,
    ]);
    // The history must hold the blank document alone, or the next page would find the last one's
    // entries (navigation.entries(), URLs and state).
    const [blank] = entries;
    if (entries.length !== 1 || !blank?.url.endsWith(blankPath))
      throw new Error('the history still holds the last page');
    // Cookies were looked at with the rest (leftBehind); with the entrance cut, no response can add one.
    await this.aloneInContext(browserSession);
    if (this.tainted) throw new Error(`the page left ${this.tainted}`);
    // A fresh session for the next capture: the old one's emulation and scripts end with it.
    await cdp.detach().catch(() => undefined);
    this.cdp = await this.page.createCDPSession();
    this.log = await DocumentLog.start(this.cdp, { path: blankPath, entryId: blank.id });
    // What the old page left in its renderer's heap goes now, not when V8 next needs room: a kept tab
    // would otherwise carry it into the next capture (at concurrency 4 on the benchmark's article page,
    // 50 MB less at the peak, for about 7 ms of renderer CPU a scrub; HeapProfiler.collectGarbage,
    // which collects again and again until nothing more goes, cost ~20 ms). Chromium purges as under
    // memory pressure: it also ends the blank documents' script contexts, so until the next capture
    // navigates nothing may run script in this tab (the next capture's steps before its navigation are
    // CDP commands, and raw HTML never gets a kept tab). Not part of the isolation: a failure is ignored.
    await this.cdp.send('Memory.forciblyPurgeJavaScriptMemory').catch(() => undefined);
  }

  /**
   * Replaces the page by blank documents of `origins`: the first as the page, the others as frames in
   * it. Same site, same process, so a session of ours sees (and answers) each request; nothing reaches
   * the network. The page's service workers are removed first (one would answer before we can), and
   * each blank document is checked to be ours.
   */
  private async showBlank(origins: string[], path: string): Promise<void> {
    // On the capture's own session, which is replaced once the scrub is done.
    const { cdp } = this;
    const [top, ...frames] = origins;
    const served = new Set<string>();
    // This session may be the one the last scrub opened: its answers (without frames) end here, and
    // nothing of its lands after the Fetch.enable below.
    const retired = this.log.retire();
    cdp.on('Fetch.requestPaused', (e: Protocol.Fetch.RequestPausedEvent) => {
      served.add(e.request.url);
      void answerBlank(cdp, e, e.request.url === `${top}${path}` ? frames.map((o) => `${o}${path}`) : []);
    });
    await retired;
    await Promise.all([
      ...origins.map((origin) => cdp.send('Storage.clearDataForOrigin', { origin, storageTypes: 'service_workers' })),
      cdp.send('Fetch.enable', { patterns: origins.map((o) => ({ urlPattern: `${o}${path}` })) }),
    ]);
    await this.page.goto(`${top}${path}`, { waitUntil: 'load', timeout: SCRUB_MS });
    if (served.size !== origins.length) throw new Error('the blank documents were not all served by the scrub');
  }

  /**
   * Closes the context, waiting at most CLOSE_CONTEXT_MS for Chromium, and the entrance whatever
   * Chromium did: every closing of a tab (after its capture, a spare or kept tab given up, a recycled or
   * lost browser) is bounded and gives its way into the proxy back.
   */
  async close(): Promise<void> {
    await withTimeout(CLOSE_CONTEXT_MS, 'closing a context', this.context.close()).catch(() => undefined);
    await this.entrance.close();
  }
}

/** Answers a paused request with a blank document that runs no script, with `frames` in it. */
function answerBlank(cdp: CDPSession, e: Protocol.Fetch.RequestPausedEvent, frames: string[] = []): Promise<void> {
  const html = `<!doctype html>${frames.map((url) => `<iframe src="${url}"></iframe>`).join('')}`;
  return cdp
    .send('Fetch.fulfillRequest', {
      requestId: e.requestId,
      responseCode: 200,
      responseHeaders: [
        { name: 'content-type', value: 'text/html' },
        { name: 'content-security-policy', value: "script-src 'none'" },
      ],
      body: Buffer.from(html).toString('base64'),
    })
    .catch(() => undefined);
}

/**
 * Drops every history entry but the current one, and returns the history as it then is: Chromium can
 * answer a reset without carrying it out (seen just after a commit), so only the entries say.
 */
async function resetHistory(cdp: CDPSession): Promise<Protocol.Page.NavigationEntry[]> {
  await cdp.send('Page.resetNavigationHistory');
  return (await cdp.send('Page.getNavigationHistory')).entries;
}

const sameMembers = (a: string[], b: string[]) => a.length === b.length && a.every((x) => b.includes(x));

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
