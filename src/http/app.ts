/**
 * The fastify app: routes, validation, headers, streaming. Both entry points (server.ts for custom
 * runtimes and local use, fc.ts for built-in runtimes) serve exactly this app.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { registerCaptureRoutes, type CaptureRouteOptions } from './capture-route.js';
import { registerDocs } from './docs.js';
import { errorHandler } from './errors.js';
import { isLifecycle, registerLifecycleRoutes, type LifecycleOptions } from './lifecycle.js';

export interface AppOptions extends CaptureRouteOptions {
  logger: FastifyBaseLogger;
  /** FC's custom-runtime hooks, POST /initialize and GET /pre-stop (service.ts wires them). */
  lifecycle?: LifecycleOptions;
}

/** Query parameters that must never reach a log line: credentials, and what is sent to the target as such. */
const SECRET_PARAMS = /([?&](?:token|signature|auth|headers|cookies)=)[^&]*/gi;

export function buildApp(opts: AppOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: opts.logger,
    // FC's request id when there is one, so our logs and FC's line up.
    genReqId: (req) => {
      const fc = req.headers['x-fc-request-id'];
      return typeof fc === 'string' && /^[\w-]{1,128}$/.test(fc) ? fc : randomUUID();
    },
    logController: new LogController({ requestIdLogLabel: 'requestId', disableRequestLogging: true }),
    // coerceTypes 'array': a single ?hide=.x is a list of one
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } },
    routerOptions: { maxParamLength: 200 },
    // room for POST {html} (LIMITS.htmlLength) and its JSON escaping
    bodyLimit: 4 * 1024 * 1024,
  }).withTypeProvider<TypeBoxTypeProvider>();

  // x-fc-* headers carry the function role's temporary credentials: drop them on arrival.
  // A request that came through FC gets FC's invocation lines around it, as FC's own runtimes print.
  const fromFc = new WeakSet<object>();
  app.addHook('onRequest', async (request) => {
    if (request.headers['x-fc-request-id']) {
      fromFc.add(request);
      if (!isLifecycle(request.url)) process.stdout.write(`FC Invoke Start RequestId: ${request.id}\n`);
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
    if (fromFc.has(request) && !isLifecycle(request.url)) {
      process.stdout.write(`FC Invoke End RequestId: ${request.id}\n`);
    }
  });
  app.setErrorHandler(errorHandler);

  if (opts.lifecycle) registerLifecycleRoutes(app, opts.lifecycle, (request) => fromFc.has(request));
  registerCaptureRoutes(app, opts);
  registerDocs(app);

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const ready = await opts.deps.browser.ready();
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'starting' });
  });

  return app;
}
