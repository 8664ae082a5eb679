/**
 * The requests in flight on a capture's page, and the wait for the network to go quiet: for
 * networkidle0 / networkidle2 (render-page.ts) and for what a full-page capture's scrolling started
 * (page-changes.ts). Counted as puppeteer's Page.waitForNetworkIdle counts them (a request is done at
 * its response, its end or its failure, whichever comes first; the quiet time starts again at every
 * change), but from the capture's own listeners: puppeteer's counter, which builds a dozen rxjs
 * observables for every request of every page, is removed from each tab (src/browser/own-tab.ts).
 */
import { type HTTPRequest, TimeoutError } from 'puppeteer-core';
import type { Tab } from '../browser/browser.js';

export interface IdleWait {
  /** How long the count must stay at or below `concurrency`, unchanged, in ms. */
  idleTime: number;
  /** How many requests may still be in flight (0: none). */
  concurrency?: number;
  /** A TimeoutError after this many ms (0: no limit). */
  timeout: number;
}

export class InFlight {
  private readonly pending = new Set<HTTPRequest>();
  private readonly watchers = new Set<() => void>();

  /** Counts from now: install it before the capture's first navigation. */
  constructor(on: Tab['on']) {
    const done = (request: HTTPRequest) => {
      if (this.pending.delete(request)) this.changed();
    };
    on('request', (request) => {
      this.pending.add(request);
      this.changed();
    });
    on('response', (response) => done(response.request()));
    on('requestfinished', done);
    on('requestfailed', done);
  }

  get count(): number {
    return this.pending.size;
  }

  /** Resolves once at most `concurrency` requests have been in flight, unchanged, for `idleTime` ms. */
  idle({ idleTime, concurrency = 0, timeout }: IdleWait): Promise<void> {
    return new Promise((resolve, reject) => {
      let quiet: NodeJS.Timeout | undefined;
      const end = (err?: Error) => {
        clearTimeout(quiet);
        clearTimeout(limit);
        this.watchers.delete(check);
        if (err) reject(err);
        else resolve();
      };
      const check = () => {
        clearTimeout(quiet);
        quiet = this.pending.size <= concurrency ? setTimeout(() => end(), idleTime) : undefined;
      };
      const limit =
        timeout > 0
          ? setTimeout(
              () => end(new TimeoutError(`Timed out after waiting ${timeout}ms for the network to be idle`)),
              timeout,
            )
          : undefined;
      this.watchers.add(check);
      check();
    });
  }

  private changed(): void {
    for (const check of this.watchers) check();
  }
}
