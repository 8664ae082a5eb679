/**
 * Chromium's command line: ours, short, and safe for rendering strangers' pages. We do not take
 * @sparticuz/chromium's defaults: --disable-web-security, --allow-running-insecure-content and
 * --single-process (which also breaks browser contexts) have no place in a public renderer.
 */
export function chromiumFlags(proxyUrl: string, trustSpki: string[] = []): string[] {
  return [
    // Root in a container, as on FC; the sandbox needs user namespaces FC does not give.
    '--no-sandbox',
    // FC's /dev/shm is small; use /tmp-backed shared memory instead.
    '--disable-dev-shm-usage',
    '--disable-gpu',
    '--hide-scrollbars',
    '--mute-audio',
    '--font-render-hinting=none',
    // A page that allocates without end dies at this heap size instead of eating the instance's 1 GB.
    '--js-flags=--max-old-space-size=512',
    // No crash dumps filling /tmp, no phoning home, no first-run work.
    '--disable-breakpad',
    '--disable-crash-reporter',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-domain-reliability',
    '--disable-sync',
    '--no-first-run',
    '--no-default-browser-check',
    '--no-pings',
    '--disable-extensions',
    // RenderDocument: Chromium builds a new frame host, with a new compositor, for every document a
    // tab shows. Without it, a navigation within one site reuses the frame's: a warm tab (the scrub's
    // blank document, then the next capture of its site, src/browser/own-tab.ts) costs about 0.8× the
    // CPU (one vCPU, c = 4: 183 vs 223 ms per capture on the article page, 89 vs 107 on a simple
    // one), and a fresh tab's first navigation is unchanged. Isolation between captures never rested
    // on it: the scrub and the browser context give it (test/warm-tabs.test.ts). What the reused frame
    // host keeps is the widget's own state: a transparent background (omitBackground), so such a tab
    // is never kept (src/capture/render-page.ts).
    '--disable-features=Translate,MediaRouter,OptimizationHints,DialMediaRouteProvider,InterestFeedContentSuggestions,RenderDocument',
    // Every byte through the egress proxy (SOCKS5: Chromium hands it names, never resolves them):
    // all schemes, loopback included, no name resolution of Chromium's own (the proxy resolves and
    // checks), no WebRTC UDP around the proxy.
    `--proxy-server=${proxyUrl}`,
    '--proxy-bypass-list=<-loopback>',
    '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
    '--force-webrtc-ip-handling-policy=disable_non_proxied_udp',
    '--deny-permission-prompts',
    // TRUST_SPKI (tests only): certificates with these public keys pass even though no CA signed them.
    ...(trustSpki.length ? [`--ignore-certificate-errors-spki-list=${trustSpki.join(',')}`] : []),
  ];
}

/**
 * The only variables Chromium inherits from us. Renderers run strangers' JavaScript without a
 * sandbox, so nothing secret may be in their memory: not AUTH_TOKEN or SIGNING_SECRET, not FC's
 * ALIBABA_CLOUD_* role keys. What Chromium needs is listed; everything else stays with node.
 */
const INHERITED_ENV = [
  'PATH',
  'HOME',
  'TMPDIR',
  'TZ',
  'LANG',
  'LANGUAGE',
  'LC_ALL',
  'LD_LIBRARY_PATH',
  'FONTCONFIG_FILE',
  'FONTCONFIG_PATH',
  'XDG_CACHE_HOME',
  'XDG_CONFIG_HOME',
] as const;

export function chromiumEnvironment(parent: NodeJS.ProcessEnv, extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of INHERITED_ENV) {
    const value = parent[name];
    if (value !== undefined) env[name] = value;
  }
  return { ...env, ...extra };
}
