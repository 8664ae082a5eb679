/**
 * Sets the page up before navigation, one step per option (EMULATION_STEPS): device and viewport,
 * touch, media features, time zone, language, user agent, cookies, the request rules (blocked
 * resources and URLs; headers and basic auth sent to the target's own origin only, never to third
 * parties), and the scripts that run before the page's own (a silenced console; the settle step's
 * frame counter). The steps are independent commands, started in
 * list order and awaited together.
 *
 * Emulation is per CDP session, so it is done on the session the screenshot is taken with.
 */
import { type CDPSession, type HTTPRequest, KnownDevices, type Page } from 'puppeteer-core';
import type { Tab } from '../browser/browser.js';
import { invalidOption } from '../errors.js';
import type { CaptureOptions } from '../options.js';
import { FRAME_COUNTER } from './settle.js';
import { runTogether, type Step } from './steps.js';
import { matchesUrlPattern } from './url-pattern.js';

/** The viewport and user agent the options ask for (a device preset wins over width/height/scale). */
export function viewportOf(opts: CaptureOptions) {
  if (opts.device) {
    const device = KnownDevices[opts.device];
    return {
      width: device.viewport.width,
      height: device.viewport.height,
      scale: device.viewport.deviceScaleFactor ?? 1,
      mobile: device.viewport.isMobile ?? false,
      touch: device.viewport.hasTouch ?? false,
      userAgent: opts.userAgent ?? device.userAgent,
    };
  }
  return {
    width: opts.width,
    height: opts.height,
    scale: opts.scale,
    mobile: opts.mobile,
    touch: opts.mobile,
    userAgent: opts.userAgent,
  };
}

interface Emulation {
  tab: Tab;
  cdp: CDPSession;
  page: Page;
  opts: CaptureOptions;
  view: ReturnType<typeof viewportOf>;
}

/** Request interception, only when a rule needs it: blocked types and URLs, extra headers for the target's origin. */
async function interceptRequests({ page, on }: Tab, opts: CaptureOptions): Promise<void> {
  const blockTypes = new Set(opts.blockResources);
  const blockUrls = opts.blockUrls;
  const extra: Record<string, string> = { ...opts.headers };
  if (opts.auth)
    extra.authorization = `Basic ${Buffer.from(`${opts.auth.username}:${opts.auth.password}`).toString('base64')}`;
  const targetOrigin = opts.target?.origin;
  const hasExtra = Object.keys(extra).length > 0;
  if (!blockTypes.size && !blockUrls.length && !hasExtra) return;

  await page.setRequestInterception(true);
  on('request', (request: HTTPRequest) => {
    if (request.isInterceptResolutionHandled()) return;
    const url = request.url();
    if (blockTypes.has(request.resourceType()) || blockUrls.some((pattern) => matchesUrlPattern(pattern, url))) {
      void request.abort('blockedbyclient').catch(() => undefined);
      return;
    }
    let origin: string | undefined;
    try {
      origin = new URL(url).origin;
    } catch {
      origin = undefined;
    }
    const headers = hasExtra && origin === targetOrigin ? { ...request.headers(), ...extra } : undefined;
    // Chromium refuses some headers; a request it will not continue is failed, never left paused.
    void request
      .continue(headers ? { headers } : undefined)
      .catch(() => request.abort('failed'))
      .catch(() => undefined);
  });
}

/**
 * Nobody reads a captured page's console, and every call with arguments makes Chromium copy them out
 * of the page for the DevTools protocol: a page that logs in a loop would cost every capture on the
 * instance. The methods stay assignable (libraries wrap them); where a page still reaches a console
 * (a worker), src/browser/launch.ts drops the events before node parses them.
 */
export const QUIET_CONSOLE = `(() => {
  const quiet = () => undefined;
  for (const name of Object.keys(console)) if (typeof console[name] === 'function') console[name] = quiet;
})();`;

/** What a browser keeps of one cookie's name and value together (RFC 6265bis). */
const COOKIE_MAX_BYTES = 4096;

/** In this order; each step is a no-op when its option is unset. */
const EMULATION_STEPS: Step<Emulation>[] = [
  {
    name: 'viewport',
    run: async ({ cdp, view }) => {
      await cdp.send('Emulation.setDeviceMetricsOverride', {
        width: view.width,
        height: view.height,
        deviceScaleFactor: view.scale,
        mobile: view.mobile,
        // The screen as large as the viewport, as on a phone and a maximised window. Unset, it is the
        // headless window's 800 × 600 whatever the viewport: a page that sizes itself by `screen.width`
        // or `device-width` media queries would lay out for a small screen in a 1280-pixel viewport.
        screenWidth: view.width,
        screenHeight: view.height,
      });
    },
  },
  {
    name: 'touch',
    run: async ({ cdp, view }) => {
      if (view.touch) await cdp.send('Emulation.setTouchEmulationEnabled', { enabled: true, maxTouchPoints: 5 });
    },
  },
  {
    name: 'media',
    run: async ({ cdp, opts }) => {
      const features = [
        ...(opts.darkMode ? [{ name: 'prefers-color-scheme', value: 'dark' }] : []),
        ...(opts.reducedMotion ? [{ name: 'prefers-reduced-motion', value: 'reduce' }] : []),
      ];
      if (features.length) await cdp.send('Emulation.setEmulatedMedia', { features });
    },
  },
  {
    name: 'timezone',
    run: async ({ cdp, opts }) => {
      if (!opts.timezone) return;
      await cdp.send('Emulation.setTimezoneOverride', { timezoneId: opts.timezone }).catch(() => {
        throw invalidOption('timezone', `unknown time zone "${opts.timezone}"`);
      });
    },
  },
  {
    name: 'locale',
    run: async ({ cdp, opts }) => {
      if (!opts.locale) return;
      await cdp.send('Emulation.setLocaleOverride', { locale: opts.locale.replace(/-/g, '_') }).catch(() => {
        throw invalidOption('locale', `unsupported locale "${opts.locale}"`);
      });
    },
  },
  {
    // A locale alone still sets the user agent: Accept-Language travels with it.
    name: 'userAgent',
    run: async ({ cdp, page, opts, view }) => {
      if (!view.userAgent && !opts.locale) return;
      const userAgent = view.userAgent ?? (await page.browser().userAgent()).replace('HeadlessChrome', 'Chrome');
      await cdp.send('Emulation.setUserAgentOverride', {
        userAgent,
        ...(opts.locale ? { acceptLanguage: opts.locale } : {}),
      });
    },
  },
  {
    // Host-only (no Domain: subdomains never see them), and Secure for an https target, so they are
    // never sent in clear to the same host over http.
    name: 'cookies',
    run: async ({ cdp, opts }) => {
      if (!opts.cookies.length) return;
      const target = opts.target!;
      const secure = target.protocol === 'https:';
      for (const { name, value } of opts.cookies) {
        if (/^__(Host|Secure)-/i.test(name) && !secure) {
          throw invalidOption('cookies', `cookie ${name}: a __Host- or __Secure- cookie needs an https target`);
        }
        if (Buffer.byteLength(name) + Buffer.byteLength(value) > COOKIE_MAX_BYTES) {
          throw invalidOption('cookies', `cookie ${name}: name and value may be at most ${COOKIE_MAX_BYTES} bytes`);
        }
      }
      const url = `${target.origin}/`;
      const cookies = opts.cookies.map(({ name, value }) => ({ name, value, url, path: '/', secure }));
      await cdp.send('Network.setCookies', { cookies }).catch((err: Error) => {
        throw invalidOption(
          'cookies',
          `Chromium refused a cookie: ${err.message.replace(/^Protocol error[^:]*: /, '')}`,
        );
      });
    },
  },
  {
    name: 'requestRules',
    run: ({ tab, opts }) => interceptRequests(tab, opts),
  },
  {
    // Before the page's own scripts, in every frame: the console silenced, and (for the settle step)
    // the page's animation frames counted.
    name: 'scripts',
    run: async ({ cdp, opts }) => {
      const source = opts.settle ? `${QUIET_CONSOLE}\n${FRAME_COUNTER}` : QUIET_CONSOLE;
      await cdp.send('Page.addScriptToEvaluateOnNewDocument', { source });
    },
  },
];

export async function emulate(tab: Tab, opts: CaptureOptions): Promise<void> {
  await runTogether(EMULATION_STEPS, { tab, cdp: tab.cdp, page: tab.page, opts, view: viewportOf(opts) });
}
