/**
 * Every operator setting, read once from the environment. Nothing else in src/ reads process.env
 * for behaviour, so this file is the one place to look up what can be configured.
 */
import { tmpdir } from 'node:os';

export interface Config {
  /** TCP port: PORT, else FC_SERVER_PORT (set by FC custom runtimes), else 9000. */
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
  /** Hard cap on one request, queue to last byte, in ms; a caller's `timeout` is clamped to it. */
  requestTimeoutMs: number;
  /** Captures running at once, and requests allowed to wait for a slot. */
  maxConcurrency: number;
  maxQueue: number;
  /** `host:port` pairs the egress guard lets through even though they are internal (tests, private deployments). */
  egressAllow: string[];
  /** Optional shared secret: `Authorization: Bearer …` or `?token=`. */
  authToken?: string;
  /** Optional HMAC key for signed URLs (`?expires=…&signature=…`). */
  signingSecret?: string;
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
  /** Recycle Chromium after this many captures (0: never). */
  recycleAfter: number;
  /** Recycle Chromium when its process tree's anonymous memory passes this many MB (0: never). */
  recycleAboveMb: number;
  /** Log level for pino. */
  logLevel: string;
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

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return {
    port: int(env, 'PORT', int(env, 'FC_SERVER_PORT', 9000, 0), 0),
    defaultUrl: env.DEFAULT_URL || 'https://www.serverless-devs.com',
    captureDir: env.CAPTURE_DIR || tmpdir(),
    chromiumPath: env.CHROMIUM_PATH || undefined,
    layerRoot: env.LAYER_ROOT || '/opt',
    embeddedChromiumDir: env.EMBEDDED_CHROMIUM_DIR || `${tmpdir()}/fcshot-chromium`,
    requestTimeoutMs: int(env, 'REQUEST_TIMEOUT_MS', 30_000, 1000),
    maxConcurrency: int(env, 'MAX_CONCURRENCY', 4, 1),
    maxQueue: int(env, 'MAX_QUEUE', 16, 0),
    egressAllow: list(env.EGRESS_ALLOW),
    authToken: env.AUTH_TOKEN || undefined,
    signingSecret: env.SIGNING_SECRET || undefined,
    cacheTtlSeconds: int(env, 'CACHE_TTL_SECONDS', 0, 0),
    captureCacheMb: int(env, 'CAPTURE_CACHE_MB', 0, 0),
    captureCacheDir: env.CAPTURE_CACHE_DIR || undefined,
    memoryLimitMb: env.MEMORY_LIMIT_MB || env.FC_FUNCTION_MEMORY_SIZE ? int(env, 'MEMORY_LIMIT_MB', int(env, 'FC_FUNCTION_MEMORY_SIZE', 0, 0), 0) : undefined,
    recycleAfter: int(env, 'RECYCLE_AFTER', 500, 0),
    recycleAboveMb: int(env, 'RECYCLE_ABOVE_MB', 600, 0),
    logLevel: env.LOG_LEVEL || 'info',
  };
}
