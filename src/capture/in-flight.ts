/**
 * The requests in flight on a capture's page, and the wait for the network to go quiet: for
 * networkidle0 / networkidle2 (render-page.ts) and for what a full-page capture's scrolling started
 * (page-changes.ts). Counted as puppeteer's Page.waitForNetworkIdle counts them: by request id (one
 * id may show up as two request objects when interception meets a redirect), a request done at its
 * response, its end or its failure, whichever comes first; the quiet time starts when the count falls
 * to the limit and starts again only when it has gone over; the page closing ends the wait. But from
 * the capture's own listeners: puppeteer's counter, which builds a dozen rxjs observables for every
 * request of every page, is removed from each tab (src/browser/own-tab.ts).
 */
import { type HTTPRequest, TimeoutError } from 'puppeteer-core';
import type { Tab } from '../browser/browser.js';

export interface IdleWait {
  /** How long the count must stay at or below `concurrency`, in ms. */
  idleTime: number;
  /** How many requests may still be in flight (0: none). */
  concurrency?: number;
  /** A TimeoutError after this many ms (0: no limit). */
  timeout: number;
}

/** Chromium's id of the request (puppeteer's HTTPRequest.id: there, but internal in its typings). */
const idOf = (request: HTTPRequest) => (request as unknown as { id: string }).id;

export class InFlight {
  /** The ids of the requests in flight. */
  private readonly pending = new Set<string>();
  private readonly watchers = new Set<() => void>();
  private closed = false;

  /** Counts from now: install it before the capture's first navigation. */
  constructor(on: Tab['on']) {
    const done = (request: HTTPRequest) => {
      if (this.pending.delete(idOf(request))) this.changed();
    };
    on('request', (request) => {
      this.pending.add(idOf(request));
      this.changed();
    });
    on('response', (response) => done(response.request()));
    on('requestfinished', done);
    on('requestfailed', done);
    on('close', () => {
      this.closed = true;
      this.changed();
    });
  }

  /** Resolves once at most `concurrency` requests have been in flight for `idleTime` ms. */
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
        if (this.closed) end(new Error('the page closed while waiting for the network to be idle'));
        else if (this.pending.size > concurrency) {
          clearTimeout(quiet);
          quiet = undefined;
        } else quiet ??= setTimeout(() => end(), idleTime).unref();
      };
      const limit =
        timeout > 0
          ? setTimeout(
              () => end(new TimeoutError(`Timed out after waiting ${timeout}ms for the network to be idle`)),
              timeout,
            ).unref()
          : undefined;
      this.watchers.add(check);
      check();
    });
  }

  private changed(): void {
    for (const check of this.watchers) check();
  }
}
