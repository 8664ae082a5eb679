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
    '--disable-features=Translate,MediaRouter,OptimizationHints,DialMediaRouteProvider,InterestFeedContentSuggestions',
    // Every byte through the egress proxy: all schemes, loopback included, and no name resolution
    // of Chromium's own (the proxy resolves and checks), no WebRTC UDP around the proxy.
    `--proxy-server=${proxyUrl}`,
    '--proxy-bypass-list=<-loopback>',
    '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
    '--webrtc-ip-handling-policy=disable_non_proxied_udp',
    '--force-webrtc-ip-handling-policy',
    '--deny-permission-prompts',
    // TRUST_SPKI (tests only): certificates with these public keys pass even though no CA signed them.
    ...(trustSpki.length ? [`--ignore-certificate-errors-spki-list=${trustSpki.join(',')}`] : []),
  ];
}
