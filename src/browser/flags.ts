import { statfsSync } from 'node:fs';

/** statfs's magic number for a tmpfs (linux/magic.h). */
const TMPFS_MAGIC = 0x01021994;
/**
 * Room /dev/shm must have for Chromium to use it, at the least: its shared memory (tiles, frames,
 * response bodies passed between its processes) peaked at 266 MB at concurrency 4 with every capture
 * another site, and at 253 MB for full-page captures. A full tmpfs fails Chromium's allocations (four
 * full-page captures at once hung past 30 s on a 64 MB one). It must also have as much as the
 * instance's memory budget, so that it never fills before the memory guard acts (src/browser/memory.ts).
 */
export const DEV_SHM_MIN_FREE_MB = 512;

/** Where Chromium's shared memory lives, and why. */
export interface SharedMemory {
  /** `dev-shm`: /dev/shm, a tmpfs; `temp-files`: files in the temp dir (--disable-dev-shm-usage). */
  where: 'dev-shm' | 'temp-files';
  /** What /dev/shm had free, MB (undefined: no /dev/shm, or not a tmpfs). */
  devShmFreeMb?: number;
}

/**
 * /dev/shm when it is a tmpfs with DEV_SHM_MIN_FREE_MB and `budgetMb` (the memory guard's budget)
 * free, else files in the temp dir (where a container's 64 MB /dev/shm would fail Chromium under load). Files on a disk cost a file system's
 * inode allocation and block reads for every region: on one vCPU at concurrency 4, /dev/shm took
 * 0.84× the CPU per capture with every capture another site and 0.88× with one site (README, "Chromium's
 * shared memory").
 */
export function chooseSharedMemory(
  budgetMb = 0,
  statfs: (path: string) => { type: number; bavail: number; bsize: number } = statfsSync,
): SharedMemory {
  try {
    const fs = statfs('/dev/shm');
    if (fs.type !== TMPFS_MAGIC) return { where: 'temp-files' };
    const devShmFreeMb = Math.floor((fs.bavail * fs.bsize) / 2 ** 20);
    const enough = devShmFreeMb >= Math.max(DEV_SHM_MIN_FREE_MB, budgetMb);
    return { where: enough ? 'dev-shm' : 'temp-files', devShmFreeMb };
  } catch {
    return { where: 'temp-files' };
  }
}

/**
 * What /dev/shm has gained since the least it held since this was called, MB: Chromium's shared memory
 * there (and anything else put there meanwhile, which the instance pays for all the same). The least,
 * not the first: what an earlier Chromium (recycled) still held when this one started goes when it does.
 */
export function devShmGrowth(read: () => number = devShmUsedMb): () => number {
  let least = read();
  return () => {
    const used = read();
    least = Math.min(least, used);
    return used - least;
  };
}

/** What /dev/shm holds, MB (0 when it cannot be read). */
export function devShmUsedMb(
  statfs: (path: string) => { blocks: number; bfree: number; bsize: number } = statfsSync,
): number {
  try {
    const fs = statfs('/dev/shm');
    return ((fs.blocks - fs.bfree) * fs.bsize) / 2 ** 20;
  } catch {
    return 0;
  }
}

/**
 * Chromium's command line: ours, short, and safe for rendering strangers' pages. We do not take
 * @sparticuz/chromium's defaults: --disable-web-security, --allow-running-insecure-content and
 * --single-process (which also breaks browser contexts) have no place in a public renderer.
 */
export function chromiumFlags(
  proxyUrl: string,
  trustSpki: string[] = [],
  shared: SharedMemory = chooseSharedMemory(),
): string[] {
  return [
    // Root in a container, as on FC; the sandbox needs user namespaces FC does not give.
    '--no-sandbox',
    ...(shared.where === 'temp-files' ? ['--disable-dev-shm-usage'] : []),
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
    // The network service on a thread of the browser process, not in a utility process of its own (22-24 MB
    // of PSS at the peak there, about 9 MB in the browser process). One vCPU, concurrency 4, article page,
    // with and without, interleaved, median of five: peak PSS 346 vs 362 MB with one site, 305 vs 313 with
    // every capture another; CPU per capture 302 vs 311 ms and 349 vs 359 (within the noise). A crash in
    // the network stack now takes the browser with it, which the service relaunches as after any other
    // (test/resilience.test.ts). The memory guard reads the browser process every sample (memory.ts).
    '--enable-features=NetworkServiceInProcess2',
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
