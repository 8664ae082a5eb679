/**
 * FC's instance lifecycle hooks for custom runtimes (s.yaml `instanceLifecycleConfig`):
 *
 *   POST /initialize  before the instance gets traffic: Chromium launched and a spare page ready.
 *   GET  /pre-stop    before the instance is destroyed: refuse new captures, let the ones in flight
 *                     finish, close Chromium (its profile folder goes with it), remove capture files.
 *
 * 2xx tells FC the hook worked; a failed launch answers 503 so FC does not route traffic to an
 * instance without a browser. The server keeps listening after /pre-stop (FC stops the process with
 * SIGTERM afterwards, see server.ts); captures asked for in between get 503 and `Retry-After`, and
 * /readyz answers 503, so should FC keep such an instance its health check replaces it.
 */
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { CAPTURE_PREFIX } from '../capture/encode.js';
import { unavailable } from '../errors.js';
import { FORMATS, spec } from '../formats.js';

export const LIFECYCLE_PATHS = { initialize: '/initialize', preStop: '/pre-stop' } as const;

export interface LifecycleOptions {
  /** Launches Chromium and readies the spare page (BrowserManager.warm). */
  warm(): Promise<void>;
  /** Lets queued captures finish and closes Chromium (Service.drain). */
  drain(): Promise<void>;
  /** The running browser, for the answer to /initialize. */
  chromium(): { pid?: number; source?: string };
  captureDir: string;
  /** How long /pre-stop waits for requests in flight (the request deadline). */
  graceMs: number;
}

export const isLifecycle = (url: string) => {
  const path = url.split('?')[0];
  return path === LIFECYCLE_PATHS.initialize || path === LIFECYCLE_PATHS.preStop;
};
/** Routes that keep answering while the instance stops. */
const STILL_SERVED = new Set<string>([LIFECYCLE_PATHS.initialize, LIFECYCLE_PATHS.preStop, '/healthz', '/readyz']);

/** A capture file's name (capture/encode.ts): the prefix, a UUID, the format's extension. */
const EXTENSIONS = FORMATS.map((f) => spec(f).extension).join('|');
const CAPTURE_FILE = new RegExp(`^${CAPTURE_PREFIX}[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}\\.(${EXTENSIONS})$`);

/** Removes the capture files left in `dir` (plain files named like ours, nothing else); returns how many. */
async function removeCaptureFiles(dir: string): Promise<number> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const ours = entries.filter((e) => e.isFile() && CAPTURE_FILE.test(e.name));
  await Promise.all(ours.map((e) => rm(join(dir, e.name), { force: true })));
  return ours.length;
}

/**
 * `fromFc` says whether a request came through FC (fc-runtime.ts knows: it drops the x-fc-* headers on
 * arrival); those get FC's own framing lines, `FC Initialize Start RequestId: …` and so on.
 */
export function registerLifecycleRoutes(
  app: FastifyInstance,
  opts: LifecycleOptions,
  fromFc: (request: FastifyRequest) => boolean,
): void {
  const frame = (request: FastifyRequest, hook: string, edge: 'Start' | 'End') => {
    if (fromFc(request)) process.stdout.write(`FC ${hook} ${edge} RequestId: ${request.id}\n`);
  };
  let stopping = false;
  let inFlight = 0;
  let idle: (() => void) | undefined;

  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?')[0]!;
    if (STILL_SERVED.has(path)) return;
    if (stopping) throw unavailable('this instance is stopping; retry', 1);
    inFlight += 1;
    reply.raw.once('close', () => {
      inFlight -= 1;
      if (inFlight === 0) idle?.();
    });
  });

  app.post(LIFECYCLE_PATHS.initialize, async (request, reply) => {
    frame(request, 'Initialize', 'Start');
    try {
      const started = Date.now();
      await opts.warm();
      const chromium = opts.chromium();
      request.log.info({ ...chromium, ms: Date.now() - started }, 'initialized');
      return reply.send({ status: 'initialized', chromium });
    } catch (err) {
      request.log.error({ err }, 'initialize failed');
      throw unavailable(`chromium failed to launch: ${(err as Error).message}`, 1);
    } finally {
      frame(request, 'Initialize', 'End');
    }
  });

  let stopped: Promise<{ removedCaptureFiles: number; waitedMs: number }> | undefined;
  app.get(LIFECYCLE_PATHS.preStop, async (request, reply) => {
    frame(request, 'PreStop', 'Start');
    stopping = true;
    stopped ??= (async () => {
      const started = Date.now();
      if (inFlight > 0) {
        const grace = new Promise<void>((r) => setTimeout(r, opts.graceMs).unref());
        await Promise.race([new Promise<void>((r) => (idle = r)), grace]);
      }
      await opts.drain();
      const removedCaptureFiles = await removeCaptureFiles(opts.captureDir);
      return { removedCaptureFiles, waitedMs: Date.now() - started };
    })();
    try {
      const result = await stopped;
      request.log.info(result, 'pre-stop done');
      return reply.send({ status: 'stopped', ...result });
    } finally {
      frame(request, 'PreStop', 'End');
    }
  });
}
