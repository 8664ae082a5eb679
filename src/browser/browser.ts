/**
 * One Chromium per process, shared by all requests; each request gets a tab of its own: a warm one
 * kept from an earlier capture of the same site (warm-tabs.ts: same renderer process, scrubbed by
 * own-tab.ts), or a fresh browser context. One fresh context with a blank page is kept ready ahead of
 * the next request (the ~50 ms of createBrowserContext + newPage happen off the request path). If Chromium dies the
 * next caller launches a new one; after `recycleAfter` captures, or past `recycleAboveMb`, the
 * browser is replaced, the old one closed once its last capture ends.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { Browser, CDPSession } from 'puppeteer-core';
import { withTimeout } from '../deadline.js';
import { badGateway, browserGone, HttpError, isPageGone } from '../errors.js';
import { chooseSharedMemory, chromiumEnvironment, chromiumFlags, devShmGrowth, type SharedMemory } from './flags.js';
import { launchChromium } from './launch.js';
import type { ChromiumBinary } from './locate.js';
import { budgetFor, treePssMb, type ChromiumProcess, type MemoryGuard } from './memory.js';
import type { ProxyEntrance } from '../policy/egress-proxy.js';
import { OwnTab, type Tab } from './own-tab.js';
import { WarmTabs } from './warm-tabs.js';

export type { Tab };

/** Recycling looks at Chromium's memory at most this often (PSS without the guard: it walks page tables). */
const MEMORY_CHECK_EVERY_MS = 1000;
/** How long Chromium is given to answer a health check. */
const READY_MS = 2000;

/** Bounds a call to Chromium (the request's deadline, for a capture). */
export type Bound = <U>(work: Promise<U>) => Promise<U>;

const PSS_CHECK_EVERY_MS = 5000;
/** Chromium profile folders are made under the temp dir with this prefix. */
export const PROFILE_PREFIX = 'fcshot-profile-';

type Log = { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };

export interface BrowserManagerOptions {
  locate: () => Promise<ChromiumBinary>;
  proxyUrl: string;
  /** An entrance of its own into the egress proxy, for each browser context (src/policy/egress-proxy.ts). */
  proxyEntrance: () => Promise<ProxyEntrance>;
  recycleAfter: number;
  /** Recycle when Chromium's process tree passes this many MB of anonymous memory (0: never). */
  recycleAboveMb: number;
  /** How many scrubbed tabs are kept for later captures of their site (0: a fresh context every time). */
  warmTabs: number;
  /** Public-key hashes Chromium trusts without a CA (TRUST_SPKI, tests only). */
  trustSpki?: string[];
  /** Keeps the instance inside its memory budget while captures run. */
  memory?: MemoryGuard;
  log: Log;
}

interface Live {
  browser: Browser;
  process: ChildProcess;
  /** Kills Chromium's whole process group. */
  kill: () => void;
  captures: number;
  inFlight: number;
  retiring: boolean;
  /** A fresh context with a blank page, made ahead of the next request. */
  spare?: Promise<OwnTab | undefined>;
  /** Tabs kept after their capture, for the next capture of the same site. */
  warm: WarmTabs;
  /** A CDP session to the browser itself (its process list). */
  system?: Promise<CDPSession>;
  removeProfile: () => Promise<void>;
}

export class BrowserManager {
  private live?: Live;
  private launching?: Promise<Live>;
  private binary?: ChromiumBinary;
  /** Where Chromium's shared memory lives (flags.ts), decided at the first launch. */
  private shared?: SharedMemory;
  private closed = false;
  private readonly all = new Set<Live>();
  /** Contexts being closed after their capture, off the request path. */
  private readonly closing = new Set<Promise<void>>();
  /** Tabs being scrubbed to be kept (a subset of the work in `closing`). */
  private readonly scrubbing = new Set<Promise<boolean>>();
  private lastMemoryCheck = 0;

  constructor(private readonly opts: BrowserManagerOptions) {
    if (opts.memory) {
      opts.memory.listProcesses = () => this.processes();
      opts.memory.relieve = () => this.live !== undefined && this.dropWarmTabs(this.live) > 0;
    }
  }

  /** Chromium's processes as Chromium lists them (none before launch). */
  private async processes(): Promise<ChromiumProcess[]> {
    const live = this.live;
    if (!live?.browser.connected) return [];
    const { processInfo } = (await (await this.browserSession(live)).send('SystemInfo.getProcessInfo')) as {
      processInfo: Array<{ type: string; id: number }>;
    };
    return processInfo.map((p) => ({ pid: p.id, type: p.type }));
  }

  /** Launches Chromium now (server start, FC initializer) so the first caller does not pay for it. */
  async warm(): Promise<void> {
    const live = await this.current();
    await live.spare;
    await this.opts.memory?.measureBase();
  }

  /** A fresh tab made ready ahead of the next capture that needs one, while such captures come (warm-tabs.ts, spareWanted). */
  private keepSpare(live: Live): void {
    if (!live.warm.spareWanted) {
      this.dropSpare(live);
      return;
    }
    if (live.retiring || this.closed || live.spare) return;
    live.spare = this.openTab(live).catch(() => undefined);
  }

  /** Closes the spare tab, if there is one, off the request path. */
  private dropSpare(live: Live): void {
    const spare = live.spare;
    live.spare = undefined;
    if (spare) this.closeOffPath(spare);
  }

  /** Closes a tab off the request path, as work `settled` waits for. */
  private closeOffPath(tab: Promise<OwnTab | undefined> | OwnTab): void {
    const closed: Promise<void> = Promise.resolve(tab)
      .then((t) => t?.close())
      .finally(() => this.closing.delete(closed));
    this.closing.add(closed);
  }

  /** Closes the tabs no capture uses (the spare, the kept ones): each holds an entrance into the egress proxy. */
  private dropIdleTabs(live: Live): void {
    this.dropSpare(live);
    this.dropWarmTabs(live);
  }

  /** The spare tab if there is a sound one, else a new one. */
  private async takeFresh(live: Live): Promise<OwnTab> {
    const spare = live.spare;
    live.spare = undefined;
    const ready = await spare;
    if (ready?.usable) return ready;
    await ready?.close();
    return this.openTab(live);
  }

  private async openTab(live: Live): Promise<OwnTab> {
    return OwnTab.open(live.browser, await this.opts.proxyEntrance());
  }

  /** A tab on its way, within the caller's bound; one that comes after the caller gave up is closed. */
  private async obtain<U extends OwnTab | undefined>(taking: Promise<U>, bound: Bound): Promise<U> {
    return bound(taking).catch((err: unknown) => {
      void taking.then((late) => late?.close()).catch(() => undefined);
      throw err;
    });
  }

  /** A session to the browser itself (its process list, permissions). */
  private browserSession(live: Live): Promise<CDPSession> {
    live.system ??= live.browser.target().createCDPSession();
    return live.system;
  }

  /**
   * After a capture, off the request path: the tab kept for its site (warm-tabs.ts) and scrubbed
   * (own-tab.ts), or closed with its context (a failed capture, options that leave state, a browser on
   * its way out).
   */
  private async release(live: Live, tab: OwnTab, site: string | undefined): Promise<void> {
    if (site !== undefined && !live.retiring && !this.closed) {
      const scrubbed = this.browserSession(live)
        .then((session) => tab.scrub(session))
        .then(() => true)
        .catch(() => false)
        .finally(() => this.scrubbing.delete(scrubbed));
      this.scrubbing.add(scrubbed);
      await Promise.all([...live.warm.keep(site, tab, scrubbed).map((out) => out.close()), scrubbed]);
      return;
    }
    await tab.close();
  }

  private current(): Promise<Live> {
    if (this.closed) return Promise.reject(new Error('browser manager is closed'));
    if (this.live?.browser.connected && !this.live.retiring) return Promise.resolve(this.live);
    this.launching ??= this.launch().finally(() => {
      this.launching = undefined;
    });
    return this.launching;
  }

  private async launch(): Promise<Live> {
    this.binary ??= await this.opts.locate();
    const started = Date.now();
    // Our own profile folder, removed when the process ends however it ends (puppeteer's own is left
    // behind when Chromium is killed).
    const profile = await mkdtemp(join(tmpdir(), PROFILE_PREFIX));
    // Decided at the first launch, kept for every later one (a recycled Chromium's regions may still
    // be in /dev/shm when the next starts).
    this.shared ??= chooseSharedMemory(this.opts.memory ? budgetFor(this.opts.memory.instanceMb, 0, 1).budgetMb : 0);
    const shared = this.shared;
    // In /dev/shm, Chromium's shared memory counts against the instance like anonymous memory: the
    // memory guard adds it.
    if (this.opts.memory && shared.where === 'dev-shm') this.opts.memory.sharedMb ??= devShmGrowth();
    const {
      browser,
      process: proc,
      kill,
    } = await launchChromium({
      executablePath: this.binary.path,
      args: chromiumFlags(this.opts.proxyUrl, this.opts.trustSpki, shared),
      env: chromiumEnvironment(process.env, this.binary.env),
      userDataDir: profile,
      protocolTimeout: 60_000,
    }).catch(async (err: unknown) => {
      await removeFolder(profile);
      throw err;
    });
    const removeProfile = () => removeFolder(profile);
    proc.once('exit', () => void removeProfile()); // a crash or a kill from outside
    const live: Live = {
      browser,
      process: proc,
      kill,
      captures: 0,
      inFlight: 0,
      retiring: false,
      removeProfile,
      warm: new WarmTabs(this.opts.warmTabs),
    };
    this.all.add(live);
    browser.once('disconnected', () => {
      this.all.delete(live);
      this.dropIdleTabs(live);
      if (this.live === live) this.live = undefined;
      if (!live.retiring && !this.closed) this.opts.log.warn({ pid: proc.pid }, 'chromium disconnected');
    });
    this.live = live;
    this.keepSpare(live); // the first caller finds its page already in the making
    this.opts.log.info(
      {
        source: this.binary.source,
        path: this.binary.path,
        pid: proc.pid,
        ms: Date.now() - started,
        sharedMemory: shared.where,
        devShmFreeMb: shared.devShmFreeMb,
      },
      'chromium launched',
    );
    return live;
  }

  /** Where the running Chromium came from (null before the first launch). */
  get source(): ChromiumBinary | undefined {
    return this.binary;
  }

  /** The browser process's pid, for tests and health checks. */
  get pid(): number | undefined {
    return this.live?.process.pid;
  }

  /**
   * Runs `fn` with a tab of its own, no cookies, cache, storage or history shared with any other
   * caller: for a capture that names its `site` (render-page.ts, warmKeyFor), a tab kept from an
   * earlier capture of that site if there is one, else a fresh browser context. Afterwards the tab is
   * scrubbed and kept (when `fn` succeeded and the site recurs: warm-tabs.ts, noteCapture) or closed,
   * whatever happens.
   */
  async withPage<T>(
    fn: (tab: Tab, how: { warm: boolean }) => Promise<T>,
    bound: Bound = (work) => work,
    site?: string,
  ): Promise<T> {
    const live = await bound(this.current());
    const started = Date.now();
    const watched = this.opts.memory?.busy();
    live.inFlight += 1;
    live.captures += 1;
    if (this.opts.recycleAfter > 0 && live.captures >= this.opts.recycleAfter) live.retiring = true;
    let tab: OwnTab | undefined;
    let succeeded = false;
    const worthKeeping = site !== undefined && live.warm.noteCapture(site);
    try {
      // A tab of the site still being scrubbed is waited for (briefly): a fresh one costs a new renderer.
      const kept = site === undefined ? undefined : await this.obtain(live.warm.take(site), bound);
      const warm = kept !== undefined;
      live.warm.noteServed(warm);
      tab = kept ?? (await this.obtain(this.takeFresh(live), bound));
      const result = await fn(tab, { warm });
      succeeded = true;
      return result;
    } catch (err) {
      // Whatever puppeteer said (frame detached, target closed…), a dead browser is the cause.
      if (!live.browser.connected) throw browserGone();
      throw this.overBudget(err, started) ?? err;
    } finally {
      watched?.();
      live.inFlight -= 1;
      // Scrubbing or closing the tab and preparing the next one happen while the caller encodes and streams.
      const used = tab;
      const done: Promise<void> = (async () => {
        if (used) await this.release(live, used, succeeded && worthKeeping ? site : undefined);
        if (live.retiring && live.inFlight === 0) await this.retire(live);
        else {
          this.keepSpare(live);
          this.checkMemory(live);
        }
      })().finally(() => this.closing.delete(done));
      this.closing.add(done);
    }
  }

  /** A page that went away because the memory guard killed its renderer: 502 page_too_large. */
  private overBudget(err: unknown, since: number): HttpError | undefined {
    const gone = err instanceof HttpError ? err.body.reason === 'renderer_crashed' : isPageGone(err);
    const kill = gone ? this.opts.memory?.killedSince(since) : undefined;
    if (!kill) return undefined;
    const { budgetMb, shareMb, concurrency } = kill.budget;
    return badGateway(
      `the instance passed its ${budgetMb} MB memory budget (${shareMb} MB a capture at ${concurrency} at once) ` +
        'and this page held the most; it was stopped',
      'page_too_large',
    );
  }

  /**
   * Off the request path, at most every second (every 5 s when it has to read PSS): mark the
   * browser for recycling when its memory has grown too much.
   */
  private checkMemory(live: Live): void {
    const pid = live.process.pid;
    const every = this.opts.memory ? MEMORY_CHECK_EVERY_MS : PSS_CHECK_EVERY_MS;
    if (!this.opts.recycleAboveMb || !pid || Date.now() - this.lastMemoryCheck < every) return;
    this.lastMemoryCheck = Date.now();
    void (this.opts.memory ? this.opts.memory.chromiumMbNow() : treePssMb(pid)).then((mb) => {
      if (mb > this.opts.recycleAboveMb && !live.retiring) {
        this.opts.log.info({ mb: Math.round(mb) }, 'chromium memory over the limit; recycling');
        live.retiring = true;
        if (live.inFlight === 0) void this.retire(live);
      }
    });
  }

  private async retire(live: Live): Promise<void> {
    if (this.live === live) this.live = undefined;
    live.retiring = true;
    this.opts.log.info({ captures: live.captures }, 'chromium recycled');
    this.dropIdleTabs(live);
    await closeBrowser(live);
  }

  /**
   * Waits, at most `maxMs` or until `stop` resolves, for the tabs being scrubbed to be kept: for an
   * instance about to be frozen, where a scrub would stop half done, run out of time the moment the
   * instance wakes, and the tab be lost. The rest of the work after captures (closing contexts, each
   * within its own bound, the next spare tab) is not waited for: frozen, it goes on when the instance wakes.
   */
  async finishBackground(maxMs: number, stop?: Promise<void>): Promise<void> {
    const finished = Promise.all(this.scrubbing);
    let timer: NodeJS.Timeout | undefined;
    const cap = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, maxMs);
    });
    await Promise.race([finished, cap, ...(stop ? [stop] : [])]).finally(() => clearTimeout(timer));
  }

  /** Browser contexts in use right now: all but the default one, the spare and the warm tabs' (tests check none leaks). */
  async openContexts(): Promise<number> {
    await this.settled();
    const live = this.live;
    if (!live) return 0;
    const spare = await live.spare;
    return live.browser.browserContexts().length - 1 - (spare ? 1 : 0) - live.warm.size;
  }

  /** Until the work after captures is done, including what that work started (a spare dropped). */
  private async settled(): Promise<void> {
    while (this.closing.size) await Promise.all(this.closing);
  }

  /** Closes every kept tab (their memory is wanted by the captures in flight); returns how many. */
  private dropWarmTabs(live: Live): number {
    const tabs = live.warm.drain();
    for (const tab of tabs) this.closeOffPath(tab);
    return tabs.length;
  }

  /** Tabs being scrubbed right now, to be kept. */
  get scrubsInProgress(): number {
    return this.scrubbing.size;
  }

  /** Tabs kept for later captures of their site right now. */
  get warmTabs(): number {
    return this.live?.warm.size ?? 0;
  }

  /** Whether a fresh tab is ready, or being made, for the next capture that needs one. */
  get hasSpare(): boolean {
    return this.live?.spare !== undefined;
  }

  /** True when Chromium answers a trivial command. */
  async ready(): Promise<boolean> {
    const live = this.live;
    if (!live?.browser.connected) return false;
    try {
      await withTimeout(READY_MS, 'Chromium', live.browser.version());
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.launching?.catch(() => undefined);
    await this.settled();
    for (const live of this.all) this.dropIdleTabs(live);
    await this.settled();
    await Promise.all([...this.all].map(closeBrowser));
    this.live = undefined;
  }
}

/**
 * Removes a profile folder. After a kill, Chromium's orphaned helpers may still write into it for a
 * moment, so the removal is retried until the folder stays gone.
 */
async function removeFolder(dir: string): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    await rm(dir, { recursive: true, force: true, maxRetries: 3, retryDelay: 50 }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 100 * (attempt + 1)));
    if (!existsSync(dir)) return;
  }
}

/** Closes politely, then makes sure: no Chromium and no profile folder outlives us. */
async function closeBrowser({ browser, process: proc, kill, removeProfile }: Live): Promise<void> {
  const exited = new Promise((r) => {
    if (proc.exitCode !== null || proc.signalCode !== null) r(undefined);
    else proc.once('exit', r);
  });
  await Promise.race([browser.close().catch(() => undefined), new Promise((r) => setTimeout(r, 3000))]);
  await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
  kill(); // the group: no helper process outlives the browser
  await exited;
  await removeProfile();
}
