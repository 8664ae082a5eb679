/**
 * The screenshot routes: `GET /` and `HEAD /` with the options in the query, `POST /` with them in a
 * JSON body (and raw `html` instead of a URL). Access control runs first, then validation, then the
 * pipeline; the answer is streamed from the capture file, which is removed afterwards.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { Deadline } from '../deadline.js';
import { invalidOption } from '../errors.js';
import { spec } from '../formats.js';
import {
  checkNumberSpelling,
  JSON_QUERY_FIELDS,
  OptionsSchema,
  resolveOptions,
  type ValidatedOptions,
} from '../options.js';
import type { CaptureFiles } from '../capture-files.js';
import { type Screenshot, type ScreenshotDeps, takeScreenshot } from '../screenshot.js';
import type { AccessRequest, Admission } from '../policy/access.js';
import { cacheKey, etagOf, matches, type CaptureCache } from './capture-cache.js';
import { reportHeaders } from './response-headers.js';
import { isClientGone } from './error-handler.js';

export interface CaptureRouteOptions {
  deps: ScreenshotDeps;
  defaultUrl: string;
  requestTimeoutMs: number;
  cacheTtlSeconds: number;
  cache?: CaptureCache;
  /** Access control (401), run on the query as parsed, before validation and before any work. */
  authorize?: (request: AccessRequest) => Admission;
}

type Headers = Record<string, string>;

/** `headers` and `cookies` arrive in a query as JSON text; everything else as the schema says. */
function parseJsonQueryFields(query: Record<string, unknown>): void {
  for (const field of JSON_QUERY_FIELDS) {
    const value = query[field];
    if (typeof value !== 'string') continue;
    try {
      query[field] = JSON.parse(value);
    } catch {
      throw invalidOption(field, `${field} must be JSON in a query string`);
    }
  }
}

function sendFile(request: FastifyRequest, reply: FastifyReply, files: CaptureFiles, path: string) {
  // Stream from the file; it is removed when the stream ends, fails, or the client goes away.
  const stream = files.stream(path);
  reply.raw.once('close', () => stream.destroy());
  if (request.method === 'HEAD') {
    stream.destroy();
    return reply.send();
  }
  return reply.send(stream);
}

/** Requests let in by a signature: their output may not depend on anything unsigned, such as Accept. */
const signed = new WeakSet<FastifyRequest>();

/** Answers one screenshot request: from the capture cache, or by taking the screenshot. */
async function respond(
  request: FastifyRequest,
  reply: FastifyReply,
  input: ValidatedOptions,
  opts: CaptureRouteOptions,
) {
  const options = resolveOptions(input, {
    accept: signed.has(request) ? undefined : request.headers.accept,
    defaultUrl: opts.defaultUrl,
    maxTimeoutMs: opts.requestTimeoutMs,
  });

  // The key is a digest of the options: only worth computing when there is a cache to look in.
  const key = opts.cache ? cacheKey(options) : '';
  const ifNoneMatch = request.headers['if-none-match'];
  const common: Headers = {
    vary: 'Accept',
    'cache-control': opts.cacheTtlSeconds > 0 ? `public, max-age=${opts.cacheTtlSeconds}` : 'no-cache',
  };
  const cached = opts.cache?.get(key);
  if (cached) return opts.cache!.answer(cached, request, reply, common);

  const deadline = new Deadline(options.timeout);
  // The response's 'close' before it finished means the client left (the request stream closes as
  // soon as a POST body has been read, so it cannot tell).
  const onClose = () => {
    if (!reply.raw.writableFinished) deadline.clientLeft();
  };
  reply.raw.once('close', onClose);
  let screenshot: Screenshot;
  try {
    screenshot = await takeScreenshot(opts.deps, options, deadline);
  } finally {
    deadline.dispose();
    reply.raw.off('close', onClose);
    reply.header('server-timing', deadline.serverTiming());
  }

  const about = reportHeaders(screenshot);
  const mime = spec(options.format).mime;
  const { files } = opts.deps;
  const etag = etagOf(screenshot);
  if (opts.cache && !screenshot.gaveUp.length) {
    const entry = { mime, etag, size: screenshot.size, headers: about };
    await opts.cache.put(key, screenshot.path, entry, () => files.read(screenshot.path)).catch(() => undefined);
  }
  const xCache = opts.cache ? 'miss' : 'off';
  if (isClientGone(reply) || matches(ifNoneMatch, etag)) {
    // Gone, or the client already holds exactly these bytes: nothing to stream.
    await files.discard(screenshot.path);
    if (isClientGone(reply)) return reply.send();
    return reply
      .code(304)
      .headers({ ...about, ...common, etag, 'x-cache': xCache })
      .send();
  }
  reply.headers({ ...about, ...common, etag, 'content-type': mime, 'content-length': String(screenshot.size) });
  reply.header('x-cache', xCache);
  return sendFile(request, reply, files, screenshot.path);
}

export function registerCaptureRoutes(app: FastifyInstance, opts: CaptureRouteOptions): void {
  // The query the router parsed is the one validated and captured, so it is the one checked.
  const authorize = async (request: FastifyRequest) => {
    if (!opts.authorize) return;
    const query = request.query as Record<string, unknown>;
    const admission = opts.authorize({ query, headers: request.headers, method: request.method, rawUrl: request.url });
    if (admission === 'signature') signed.add(request);
  };

  app.route({
    method: ['GET', 'HEAD'],
    url: '/',
    exposeHeadRoute: false,
    schema: { querystring: OptionsSchema },
    preValidation: async (request) => {
      await authorize(request);
      checkNumberSpelling(request.query as Record<string, unknown>);
      parseJsonQueryFields(request.query as Record<string, unknown>);
    },
    handler: (request, reply) => respond(request, reply, request.query as ValidatedOptions, opts),
  });

  app.route({
    method: 'POST',
    url: '/',
    schema: {
      body: OptionsSchema,
      querystring: Type.Object(
        { token: Type.Optional(Type.String({ maxLength: 512 })) },
        { additionalProperties: false },
      ),
    },
    preValidation: async (request) => {
      await authorize(request);
      if (request.body && typeof request.body === 'object')
        checkNumberSpelling(request.body as Record<string, unknown>);
    },
    handler: (request, reply) => respond(request, reply, request.body as ValidatedOptions, opts),
  });
}
