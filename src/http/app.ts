/**
 * The fastify app: routes, validation, headers, streaming. Both entry points (server.ts for custom
 * runtimes and local use, fc.ts for built-in runtimes) serve exactly this app.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { unlink } from 'node:fs/promises';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Deadline } from '../deadline.js';
import { mimeOf, QuerySchema, resolveOptions } from '../options.js';
import { checkTarget, takeScreenshot, type ScreenshotDeps } from '../screenshot.js';
import { errorHandler } from './errors.js';

export interface AppOptions {
  deps: ScreenshotDeps;
  defaultUrl: string;
  requestTimeoutMs: number;
  cacheTtlSeconds: number;
  logger: FastifyBaseLogger;
  /** Access control (401), run on the query as sent, before validation and before any work. */
  authorize?: (query: Record<string, string>, headers: Record<string, string | string[] | undefined>) => void;
}

/** Query parameters that must never reach a log line. */
const SECRET_PARAMS = /([?&](?:token|signature)=)[^&]*/gi;

export function buildApp(opts: AppOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: opts.logger,
    // FC's request id when there is one, so our logs and FC's line up.
    genReqId: (req) => {
      const fc = req.headers['x-fc-request-id'];
      return typeof fc === 'string' && /^[\w-]{1,128}$/.test(fc) ? fc : randomUUID();
    },
    logController: new LogController({ requestIdLogLabel: 'requestId', disableRequestLogging: true }),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, useDefaults: true, allErrors: false } },
    routerOptions: { maxParamLength: 200 },
    bodyLimit: 1024 * 64,
  }).withTypeProvider<TypeBoxTypeProvider>();

  // x-fc-* headers carry the function role's temporary credentials: drop them on arrival.
  // A request that came through FC gets FC's invocation lines around it, as FC's own runtimes print.
  const fromFc = new WeakSet<object>();
  app.addHook('onRequest', async (request) => {
    if (request.headers['x-fc-request-id']) {
      fromFc.add(request);
      process.stdout.write(`FC Invoke Start RequestId: ${request.id}\n`);
    }
    for (const name of Object.keys(request.headers)) {
      if (name.startsWith('x-fc-')) delete request.headers[name];
    }
  });
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      {
        method: request.method,
        url: request.url.replace(SECRET_PARAMS, '$1***'),
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
        phases: reply.getHeader('server-timing'),
      },
      'request completed',
    );
    if (fromFc.has(request)) process.stdout.write(`FC Invoke End RequestId: ${request.id}\n`);
  });
  app.setErrorHandler(errorHandler);

  app.route({
    method: ['GET', 'HEAD'],
    url: '/',
    exposeHeadRoute: false,
    schema: { querystring: QuerySchema },
    preValidation: async (request) => {
      const raw = Object.fromEntries(new URLSearchParams(request.url.split('?')[1] ?? ''));
      opts.authorize?.(raw, request.headers);
    },
    handler: async (request, reply) => {
      const options = resolveOptions(request.query, {
        accept: request.headers.accept,
        defaultUrl: opts.defaultUrl,
        maxTimeoutMs: opts.requestTimeoutMs,
      });
      options.url = await checkTarget(options.url, opts.deps.egress);

      const deadline = new Deadline(options.timeout);
      const onClose = () => {
        if (!reply.sent) deadline.clientGone();
      };
      request.raw.once('close', onClose);
      let shot;
      try {
        shot = await takeScreenshot(opts.deps, options, deadline);
      } finally {
        deadline.dispose();
        request.raw.off('close', onClose);
        reply.header('server-timing', deadline.serverTiming());
      }

      reply
        .header('content-type', mimeOf(options.format))
        .header('content-length', String(shot.size))
        .header('x-blocked-requests', String(shot.blockedRequests))
        .header('cache-control', opts.cacheTtlSeconds > 0 ? `public, max-age=${opts.cacheTtlSeconds}` : 'no-store')
        .header('vary', 'Accept');
      if (shot.targetStatus !== undefined) reply.header('x-target-status', String(shot.targetStatus));

      if (request.method === 'HEAD' || request.raw.destroyed) {
        await unlink(shot.path).catch(() => undefined);
        return reply.send();
      }
      // Stream from the file; remove it when the stream ends, fails, or the client goes away.
      const stream = createReadStream(shot.path);
      stream.once('close', () => void unlink(shot.path).catch(() => undefined));
      reply.raw.once('close', () => stream.destroy());
      return reply.send(stream);
    },
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const ready = await opts.deps.browser.ready();
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'starting' });
  });

  return app;
}
