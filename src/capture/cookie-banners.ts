/**
 * hideCookieBanners: answers the page's consent pop-up the way a privacy-minded visitor would (opt out),
 * with DuckDuckGo's autoconsent: its rule set (hundreds of consent managers, maintained upstream and
 * shipped in the npm package, so nothing is fetched at run time) and its content script, bridged to
 * the page the way the package documents for puppeteer (docs/puppeteer.md). Rules that cannot opt
 * out hide the pop-up instead. Bounded: whatever the page does, this returns within `budgetMs`.
 * The main frame only; consent managers that live in a cross-origin frame are left alone.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Page } from 'puppeteer-core';
import { packageRequire } from '../package-require.js';

/** The names the content script expects: it calls the first, we answer through the second. */
const SEND = 'autoconsentSendMessage';

/** Longest this step may take on a page; a caller's remaining deadline can make it shorter. */
export const COOKIE_BANNER_BUDGET_MS = 5000;

interface Autoconsent {
  script: string;
  rules: unknown;
}

let loaded: Promise<Autoconsent> | undefined;

/** The package's content script and rule bundle, read once per process. */
function autoconsent(): Promise<Autoconsent> {
  loaded ??= (async () => {
    const dist = dirname(packageRequire.resolve('@duckduckgo/autoconsent'));
    const [script, rules] = await Promise.all([
      readFile(join(dist, 'autoconsent.playwright.js'), 'utf8'),
      readFile(packageRequire.resolve('@duckduckgo/autoconsent/rules/rules.json'), 'utf8'),
    ]);
    return { script, rules: JSON.parse(rules) as unknown };
  })().catch((err) => {
    loaded = undefined;
    throw err;
  });
  return loaded;
}

const CONFIG = {
  enabled: true,
  autoAction: 'optOut',
  disabledCmps: [],
  enablePrehide: false,
  enableCosmeticRules: true,
  enableGeneratedRules: true,
  enableHeuristicDetection: false,
  heuristicMode: 'off',
  // The page has loaded by now: one look at once and one 500 ms later. (Each further retry waits for a
  // DOM change as well, up to a minute, which on a still page would only run the budget out.)
  detectRetries: 1,
  isMainWorld: false,
  prehideTimeout: 2000,
  logs: {
    lifecycle: false,
    rulesteps: false,
    detectionsteps: false,
    evals: false,
    errors: false,
    messages: false,
    waits: false,
  },
};

/** Rule snippets one page may have evaluated (a few per consent manager; the rest is the page's own doing). */
const MAX_EVALS = 100;

/** The content script's states after which nothing more will happen. */
const FINAL_STATES = new Set(['nothingDetected', 'done', 'optOutSucceeded', 'optOutFailed']);

interface Message {
  type?: string;
  id?: string;
  code?: string;
  cmp?: string;
  result?: boolean;
  state?: { lifecycle?: string };
}
type Receiver = { autoconsentReceiveMessage?: (m: object) => unknown };

/** Runs autoconsent on the loaded page; resolves with the consent manager it handled, if any. */
export async function hideCookieBanners(page: Page, budgetMs: number): Promise<string | undefined> {
  const { script, rules } = await autoconsent();
  let finish: (cmp?: string) => void = () => undefined;
  const finished = new Promise<string | undefined>((resolve) => (finish = resolve));
  let over = false;
  let handled: string | undefined;
  // The page can call the exposed function too: one init and a bounded number of evals, whatever it sends.
  let initialised = false;
  let evals = 0;
  const reply = (message: object) =>
    page
      .evaluate((m) => (window as unknown as Receiver).autoconsentReceiveMessage?.(m), message)
      .catch(() => undefined);

  const timer = setTimeout(() => finish(handled), budgetMs);
  try {
    // Every CDP call here is bounded by the same timer: a page that stalls them is captured as it is.
    void (async () => {
      await page.exposeFunction(SEND, (message: Message) => onMessage(message));
      await page.evaluate(script);
    })().catch(() => finish(handled));
    return await finished;
  } finally {
    over = true;
    clearTimeout(timer);
  }

  async function onMessage(message: Message): Promise<void> {
    if (over || !message || typeof message !== 'object') return;
    switch (message.type) {
      case 'init':
        if (initialised) return;
        initialised = true;
        return void (await reply({ type: 'initResp', config: CONFIG, rules }));
      case 'eval': {
        if (++evals > MAX_EVALS) return finish(handled);
        // Rule snippets read page state (e.g. a consent manager's JS API) in the page's own world.
        const result = await page.evaluate(String(message.code)).catch(() => false);
        return void (await reply({ type: 'evalResp', id: message.id, result }));
      }
      case 'popupFound':
        handled = message.cmp;
        return;
      case 'autoconsentDone':
        return finish(message.cmp ?? handled);
      case 'optOutResult':
        if (!message.result) finish(handled);
        return;
      case 'report':
        if (FINAL_STATES.has(message.state?.lifecycle ?? '')) finish(handled);
        return;
    }
  }
}
