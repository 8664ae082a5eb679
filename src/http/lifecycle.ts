/**
 * FC's instance lifecycle hooks for custom runtimes (s.yaml `instanceLifecycleConfig`):
 *
 *   POST /initialize  before the instance gets traffic: Chromium launched and a spare page ready.
 *   GET  /pre-stop    before the instance is destroyed: refuse new captures, let the ones in flight
 *                     finish, close Chromium (its profile folder goes with it), remove this process's capture files
 *                     (only those: another process may share /tmp).
 *
 * 2xx tells FC the hook worked; a failed launch answers 503 so FC does not route traffic to an
 * instance without a browser. The server keeps listening after /pre-stop (FC stops the process with
 * SIGTERM afterwards, see server.ts); captures asked for in between get 503 and `Retry-After`, and
 * /readyz answers 503, so should FC keep such an instance its health check replaces it.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { noRoute, unavailable } from '../errors.js';

export const LIFECYCLE_PATHS = { initialize: '/initialize', preStop: '/pre-stop' } as const;

export interface LifecycleOptions {
  /** Served at all (on FC only; config.ts `lifecycleHooks`): otherwise the paths are unknown routes. */
  enabled: boolean;
  /** Launches Chromium and readies the spare page (BrowserManager.warm). */
  warm(): Promise<void>;
  /** Lets queued captures finish and closes Chromium (Service.drain). */
  drain(): Promise<void>;
  /** Removes this process's capture files still on disk; how many there were (CaptureFiles.discardAll). */
  discardCaptureFiles(): Promise<number>;
  /** The running browser, for the answer to /initialize. */
  chromium(): { pid?: number; source?: string };
  /** How long /pre-stop waits for requests in flight (the request deadline). */
  graceMs: number;
}

export const isLifecycle = (url: string) => {
  const path = url.split('?')[0];
  return path === LIFECYCLE_PATHS.initialize || path === LIFECYCLE_PATHS.preStop;
};
/** Routes that keep answering while the instance stops. */
const STILL_SERVED = new Set<string>([LIFECYCLE_PATHS.initialize, LIFECYCLE_PATHS.preStop, '/healthz', '/readyz']);

/** What fc-runtime.ts read from FC's headers before dropping them. */
export interface FcRequestFacts {
  /** The request came through FC: it gets FC's framing lines, `FC Initialize Start RequestId: …` and so on. */
  fromFc(request: FastifyRequest): boolean;
  /** FC's `x-fc-control-path`, naming the call (`/initialize`, `/pre-stop`, `/http-invoke`…). */
  controlPath(request: FastifyRequest): string | undefined;
}

/**
 * A hook runs only for FC's own call to it, which names the hook in `x-fc-control-path`: a caller
 * reaching /pre-stop through the public trigger must not stop the instance. Anything else is answered
 * as any unknown route is.
 */
function onlyForFc(request: FastifyRequest, path: string, facts: FcRequestFacts): void {
  if (facts.controlPath(request) !== path) throw noRoute(request.method, path);
}

export function registerLifecycleRoutes(app: FastifyInstance, opts: LifecycleOptions, facts: FcRequestFacts): void {
  if (!opts.enabled) return;
  const { fromFc } = facts;
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
    onlyForFc(request, LIFECYCLE_PATHS.initialize, facts);
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
    onlyForFc(request, LIFECYCLE_PATHS.preStop, facts);
    frame(request, 'PreStop', 'Start');
    stopping = true;
    stopped ??= (async () => {
      const started = Date.now();
      if (inFlight > 0) {
        const grace = new Promise<void>((r) => setTimeout(r, opts.graceMs).unref());
        await Promise.race([new Promise<void>((r) => (idle = r)), grace]);
      }
      await opts.drain();
      const removedCaptureFiles = await opts.discardCaptureFiles();
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
