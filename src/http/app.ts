/**
 * The fastify app: routes, validation, headers, streaming. The entry point (server.ts, for FC's custom
 * runtime and local use) serves exactly this app; what is particular to FC is added by service.ts from
 * fc-runtime.ts.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { ValidatorFactory } from '@fastify/ajv-compiler';
import { registerCaptureRoutes, type CaptureRouteOptions } from './capture-route.js';
import { registerDocs } from './docs.js';
import { registerPlayground, type PlaygroundOptions } from './playground.js';
import { noRoute } from '../errors.js';
import { clientErrorHandler, errorHandler } from './error-handler.js';
import { maskedUrl } from './log-mask.js';
import { AJV_OPTIONS, serializerFactory, validatorFactory } from './validation.js';

/** The whole request, a full body (4 MB) at 200 KB/s. */
const REQUEST_ARRIVAL_MS = 20_000;
const HEADERS_ARRIVAL_MS = 10_000;

export interface AppOptions extends CaptureRouteOptions {
  logger: FastifyBaseLogger;
  /** What access control asks of a caller, for the playground to explain (default: nothing). */
  access?: PlaygroundOptions['access'];
  /** How request schemas become validators (default: precompiled where the build made them, else Ajv). */
  validators?: ValidatorFactory;
}

export function buildApp(opts: AppOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: opts.logger,
    // FC's request id when there is one, so our logs and FC's line up.
    genReqId: (req) => {
      const fc = req.headers['x-fc-request-id'];
      return typeof fc === 'string' && /^[\w-]{1,128}$/.test(fc) ? fc : randomUUID();
    },
    logController: new LogController({ requestIdLogLabel: 'requestId', disableRequestLogging: true }),
    ajv: { customOptions: AJV_OPTIONS },
    schemaController: {
      compilersFactory: { buildValidator: opts.validators ?? validatorFactory(), buildSerializer: serializerFactory() },
    },
    routerOptions: { maxParamLength: 200 },
    // room for POST {html} (LIMITS.htmlLength) and its JSON escaping
    bodyLimit: 4 * 1024 * 1024,
    // A request (headers and body) must arrive within REQUEST_ARRIVAL_MS, else node answers 408: a
    // caller trickling a byte at a time cannot hold a connection. Checked every second.
    requestTimeout: REQUEST_ARRIVAL_MS,
    clientErrorHandler,
    http: { headersTimeout: HEADERS_ARRIVAL_MS, connectionsCheckingInterval: 1000 },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      {
        method: request.method,
        url: maskedUrl(request.url),
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
        phases: reply.getHeader('server-timing'),
      },
      'request completed',
    );
  });
  app.setErrorHandler(errorHandler);
  // Unknown routes answer in the same JSON shape as every other error.
  app.setNotFoundHandler(async (request) => {
    throw noRoute(request.method, request.url.split('?')[0]!);
  });

  registerCaptureRoutes(app, opts);
  registerDocs(app);
  registerPlayground(app, { access: opts.access ?? { token: false, signedUrls: false } });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const ready = await opts.deps.browser.ready();
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'starting' });
  });

  return app;
}
