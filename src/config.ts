/**
 * Every operator setting, read once from the environment. Nothing else in src/ reads process.env
 * for behaviour, so this file is the one place to look up what can be configured.
 */
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Config {
  /**
   * TCP port: PORT, else FC_CUSTOM_LISTEN_PORT (FC 3.0's documented name), else FC_SERVER_PORT (set by
   * FC custom runtimes), else 9000.
   */
  port: number;
  /** Page captured when a request names no url. */
  defaultUrl: string;
  /** Directory the captures are written to before being streamed back (FC: /tmp). */
  captureDir: string;
  /** Explicit Chromium binary; wins over the layer and the embedded default. */
  chromiumPath?: string;
  /** Where layers are unpacked (FC: /opt); Chromium is looked for at `${layerRoot}/chromium/chromium`. */
  layerRoot: string;
  /** Where the embedded @sparticuz/chromium binary is unpacked when no layer is present. */
  embeddedChromiumDir: string;
  /** The layer's font set for the embedded Chromium (`npm start` fills it; fc/layers/local-fonts.ts). */
  localFontsDir: string;
  /** Hard cap on one request, queue to last byte, in ms; a caller's `timeout` is clamped to it. */
  requestTimeoutMs: number;
  /** Captures running at once, and requests allowed to wait for a slot. */
  maxConcurrency: number;
  maxQueue: number;
  /** `host:port` pairs the egress guard lets through even though they are internal (tests, private deployments). */
  egressAllow: string[];
  /** Ports global addresses may be reached on: a comma list, or `*` for any (EGRESS_PORTS). */
  egressPorts: string;
  /** Optional shared secret: `Authorization: Bearer …` or `?token=`. */
  authToken?: string;
  /** Optional HMAC key for signed URLs (`?expires=…&signature=…`). */
  signingSecret?: string;
  /** Longest lifetime of a signed URL, seconds (0: no limit). */
  signingMaxTtl: number;
  /** Seconds a client may cache an image (Cache-Control max-age), and the capture cache's entry lifetime. */
  cacheTtlSeconds: number;
  /** Capture cache size in MB (0: no capture cache). */
  captureCacheMb: number;
  /** Keep cached captures as files here instead of in memory. */
  captureCacheDir?: string;
  /**
   * The instance's memory in MB, which the memory guard keeps the process tree inside: MEMORY_LIMIT_MB,
   * else FC_FUNCTION_MEMORY_SIZE (set by FC), else undefined (the cgroup's limit or the machine's
   * memory is used). 0: no guard.
   */
  memoryLimitMb?: number;
  /**
   * Tabs kept, scrubbed, for the next capture of the same site, which then needs no new renderer
   * process (src/browser/warm-tabs.ts): WARM_TABS, else MAX_CONCURRENCY. 0: a fresh context every time.
   */
  warmTabs: number;
  /** Recycle Chromium after this many captures (0: never). */
  recycleAfter: number;
  /** Recycle Chromium when its process tree's anonymous memory passes this many MB (0: never). */
  recycleAboveMb: number;
  /** Log level for pino. */
  logLevel: string;
  /**
   * Serve FC's lifecycle hooks (POST /initialize, GET /pre-stop): only on FC, which sets FC_FUNCTION_NAME.
   * Elsewhere nobody but a caller could ask for them, and FC's control header would be the caller's to forge.
   */
  lifecycleHooks: boolean;
  /**
   * The platform stops the instance whenever no request is running (FC freezes it until the next
   * request): the last capture in flight waits for the tabs being scrubbed before it answers, or a
   * scrub would stop half done and its tab be lost. FROZEN_WHEN_IDLE
   * (`true`/`false`), else on FC only (FC_FUNCTION_NAME is set).
   */
  frozenWhenIdle: boolean;
  /**
   * SHA-256 hashes (base64) of public keys Chromium trusts even when their certificate does not
   * verify: for test certificates only. Never set in production.
   */
  trustSpki: string[];
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    throw new Error(`${name} must be an integer ≥ ${min}, got "${raw}"`);
  }
  return value;
}

function list(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
}

/** The download and build cache: FCSHOT_CACHE_DIR, else ~/.cache/fc-screenshot. */
export function cacheDirOf(env: NodeJS.ProcessEnv): string {
  return env.FCSHOT_CACHE_DIR || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'fc-screenshot');
}

/** Base64 SHA-256 digests: 43 characters and one '=' each; anything else is a mistake worth failing on. */
function spkiList(raw: string | undefined): string[] {
  const hashes = (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = hashes.find((h) => !/^[A-Za-z0-9+/]{43}=$/.test(h));
  if (bad) throw new Error(`TRUST_SPKI must be base64 SHA-256 public-key hashes, got "${bad}"`);
  return hashes;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const maxConcurrency = int(env, 'MAX_CONCURRENCY', 4, 1);
  return {
    port: int(env, 'PORT', int(env, 'FC_CUSTOM_LISTEN_PORT', int(env, 'FC_SERVER_PORT', 9000, 0), 0), 0),
    defaultUrl: env.DEFAULT_URL || 'https://www.serverless-devs.com',
    captureDir: env.CAPTURE_DIR || tmpdir(),
    chromiumPath: env.CHROMIUM_PATH || undefined,
    layerRoot: env.LAYER_ROOT || '/opt',
    embeddedChromiumDir: env.EMBEDDED_CHROMIUM_DIR || `${tmpdir()}/fcshot-chromium`,
    localFontsDir: join(cacheDirOf(env), 'local-fonts'),
    requestTimeoutMs: int(env, 'REQUEST_TIMEOUT_MS', 30_000, 1000),
    maxConcurrency,
    maxQueue: int(env, 'MAX_QUEUE', 16, 0),
    egressAllow: list(env.EGRESS_ALLOW),
    egressPorts: env.EGRESS_PORTS || '80,443,8080,8443',
    authToken: env.AUTH_TOKEN || undefined,
    signingSecret: env.SIGNING_SECRET || undefined,
    signingMaxTtl: int(env, 'SIGNING_MAX_TTL', 7 * 24 * 3600, 0),
    cacheTtlSeconds: int(env, 'CACHE_TTL_SECONDS', 0, 0),
    captureCacheMb: int(env, 'CAPTURE_CACHE_MB', 0, 0),
    captureCacheDir: env.CAPTURE_CACHE_DIR || undefined,
    memoryLimitMb:
      env.MEMORY_LIMIT_MB || env.FC_FUNCTION_MEMORY_SIZE
        ? int(env, 'MEMORY_LIMIT_MB', int(env, 'FC_FUNCTION_MEMORY_SIZE', 0, 0), 0)
        : undefined,
    warmTabs: int(env, 'WARM_TABS', maxConcurrency, 0),
    recycleAfter: int(env, 'RECYCLE_AFTER', 500, 0),
    recycleAboveMb: int(env, 'RECYCLE_ABOVE_MB', 600, 0),
    logLevel: env.LOG_LEVEL || 'info',
    lifecycleHooks: Boolean(env.FC_FUNCTION_NAME),
    frozenWhenIdle: env.FROZEN_WHEN_IDLE ? env.FROZEN_WHEN_IDLE === 'true' : Boolean(env.FC_FUNCTION_NAME),
    trustSpki: spkiList(env.TRUST_SPKI),
  };
}
