/**
 * Sets the page up before navigation: device and viewport, media features, time zone, language,
 * user agent, cookies, and the request rules (blocked resources and URLs; headers and basic auth
 * sent to the target's own origin only, never to third parties).
 *
 * Emulation is per CDP session, so it is done on the session the screenshot is taken with.
 */
import { KnownDevices, type HTTPRequest } from 'puppeteer-core';
import type { Tab } from '../browser/browser.js';
import { invalidOption } from '../errors.js';
import type { CaptureOptions } from '../options.js';
import { FRAME_COUNTER } from './settle.js';
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

async function requestRules({ page }: Tab, opts: CaptureOptions): Promise<void> {
  const blockTypes = new Set(opts.blockResources);
  const blockUrls = opts.blockUrls;
  const extra: Record<string, string> = { ...opts.headers };
  if (opts.auth)
    extra.authorization = `Basic ${Buffer.from(`${opts.auth.username}:${opts.auth.password}`).toString('base64')}`;
  const targetOrigin = opts.target?.origin;
  const hasExtra = Object.keys(extra).length > 0;
  if (!blockTypes.size && !blockUrls.length && !hasExtra) return;

  await page.setRequestInterception(true);
  page.on('request', (request: HTTPRequest) => {
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

export async function emulate(tab: Tab, opts: CaptureOptions): Promise<void> {
  const { cdp, page } = tab;
  const view = viewportOf(opts);
  const work: Array<Promise<unknown>> = [
    cdp.send('Emulation.setDeviceMetricsOverride', {
      width: view.width,
      height: view.height,
      deviceScaleFactor: view.scale,
      mobile: view.mobile,
    }),
  ];
  if (view.touch) work.push(cdp.send('Emulation.setTouchEmulationEnabled', { enabled: true, maxTouchPoints: 5 }));
  const features = [
    ...(opts.darkMode ? [{ name: 'prefers-color-scheme', value: 'dark' }] : []),
    ...(opts.reducedMotion ? [{ name: 'prefers-reduced-motion', value: 'reduce' }] : []),
  ];
  if (features.length) work.push(cdp.send('Emulation.setEmulatedMedia', { features }));
  if (opts.timezone) {
    work.push(
      cdp.send('Emulation.setTimezoneOverride', { timezoneId: opts.timezone }).catch(() => {
        throw invalidOption('timezone', `unknown time zone "${opts.timezone}"`);
      }),
    );
  }
  if (opts.locale) {
    work.push(
      cdp.send('Emulation.setLocaleOverride', { locale: opts.locale.replace(/-/g, '_') }).catch(() => {
        throw invalidOption('locale', `unsupported locale "${opts.locale}"`);
      }),
    );
  }
  if (view.userAgent || opts.locale) {
    const userAgent = view.userAgent ?? (await page.browser().userAgent()).replace('HeadlessChrome', 'Chrome');
    work.push(
      cdp.send('Emulation.setUserAgentOverride', {
        userAgent,
        ...(opts.locale ? { acceptLanguage: opts.locale } : {}),
      }),
    );
  }
  if (opts.cookies.length) {
    work.push(
      page.browserContext().setCookie(...opts.cookies.map((c) => ({ ...c, domain: opts.target!.hostname, path: '/' }))),
    );
  }
  work.push(requestRules(tab, opts));
  if (opts.settle) work.push(cdp.send('Page.addScriptToEvaluateOnNewDocument', { source: FRAME_COUNTER }));
  await Promise.all(work);
}
