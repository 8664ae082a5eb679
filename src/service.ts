/**
 * Puts the pieces together from a Config: egress proxy, browser, capture queue, fastify app.
 * The entry points and the tests build the service here and nowhere else.
 */
import { mkdir } from 'node:fs/promises';
import PQueue from 'p-queue';
import pino, { type Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import type { ValidatorFactory } from '@fastify/ajv-compiler';
import { BrowserManager } from './browser/browser.js';
import { CaptureFiles } from './capture-files.js';
import { locateChromium, type ChromiumBinary } from './browser/locate.js';
import { instanceMemoryMb, MemoryGuard } from './browser/memory.js';
import type { Config } from './config.js';
import { buildApp } from './http/app.js';
import { CaptureCache } from './http/capture-cache.js';
import { registerFcRuntime } from './http/fc-runtime.js';
import { accessCheck } from './policy/access.js';
import { allowListFrom, cachingResolver, portListFrom, systemResolver, type Resolver } from './policy/destination.js';
import { startEgressProxy, type EgressProxy } from './policy/egress-proxy.js';

export interface Service {
  app: FastifyInstance;
  /** What the service writes under the capture directory. */
  files: CaptureFiles;
  browser: BrowserManager;
  proxy: EgressProxy;
  /** Lets queued captures finish and closes Chromium; the HTTP server keeps listening (FC's pre-stop). */
  drain(): Promise<void>;
  /** Stops accepting, lets captures finish, closes Chromium and the egress proxy. */
  close(): Promise<void>;
}

export interface ServiceOverrides {
  /** DNS for the egress guard; tests pass a resolver they control. */
  resolve?: Resolver;
  logger?: Logger;
  locate?: () => Promise<ChromiumBinary>;
  /** How request schemas become validators (the build passes Ajv's standalone mode to record them). */
  validators?: ValidatorFactory;
}

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    // Belt and braces: whatever an object logs, these never come out.
    redact: { paths: ['req.headers', 'headers', '*.authorization', '*.token', '*.signature'], remove: true },
  });
}

export async function createService(config: Config, overrides: ServiceOverrides = {}): Promise<Service> {
  const logger = overrides.logger ?? createLogger(config.logLevel);
  const egress = {
    allow: allowListFrom(config.egressAllow),
    ports: portListFrom(config.egressPorts),
    resolve: overrides.resolve ?? cachingResolver(systemResolver),
  };
  await mkdir(config.captureDir, { recursive: true });

  const proxy = await startEgressProxy(egress, logger);
  const browser = new BrowserManager({
    locate: overrides.locate ?? (() => locateChromium(config)),
    proxyUrl: proxy.url,
    proxyEntrance: () => proxy.entrance(),
    recycleAfter: config.recycleAfter,
    warmTabs: config.warmTabs,
    recycleAboveMb: config.recycleAboveMb,
    trustSpki: config.trustSpki,
    memory:
      config.memoryLimitMb === 0
        ? undefined
        : new MemoryGuard({
            instanceMb: instanceMemoryMb(config.memoryLimitMb),
            concurrency: config.maxConcurrency,
            log: logger,
          }),
    log: logger,
  });
  const queue = new PQueue({ concurrency: config.maxConcurrency });
  const files = new CaptureFiles(config.captureDir);
  const drain = async () => {
    await queue.onIdle();
    await browser.close();
  };
  const app = buildApp({
    deps: { browser, queue, maxQueue: config.maxQueue, egress, files, frozenWhenIdle: config.frozenWhenIdle },
    defaultUrl: config.defaultUrl,
    requestTimeoutMs: config.requestTimeoutMs,
    cacheTtlSeconds: config.cacheTtlSeconds,
    cache:
      config.captureCacheMb > 0
        ? new CaptureCache({
            maxBytes: config.captureCacheMb * 1024 * 1024,
            ttlMs: Math.max(config.cacheTtlSeconds, 60) * 1000,
            dir: config.captureCacheDir,
          })
        : undefined,
    logger,
    validators: overrides.validators,
    authorize: accessCheck(config),
    access: { token: Boolean(config.authToken), signedUrls: Boolean(config.signingSecret) },
  });
  registerFcRuntime(app, {
    enabled: config.lifecycleHooks,
    warm: () => browser.warm(),
    drain,
    discardCaptureFiles: () => files.discardAll(),
    chromium: () => ({ pid: browser.pid, source: browser.source?.source }),
    graceMs: config.requestTimeoutMs,
  });

  // While closing, answers ask clients to hang up, so kept-alive connections do not hold us open.
  let closing = false;
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });

  return {
    app,
    files,
    browser,
    proxy,
    drain,
    async close() {
      closing = true;
      const closed = app.close(); // stop accepting; resolves once in-flight requests are answered
      app.server.closeIdleConnections();
      await queue.onIdle();
      await closed;
      await drain();
      await proxy.close();
    },
  };
}
