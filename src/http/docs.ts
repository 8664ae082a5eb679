/**
 * GET /openapi.json: the API described from the same schema the server validates with. The playground
 * (playground.ts) builds its form from this document.
 */
import type { FastifyInstance } from 'fastify';
import { ERROR_CODES } from '../errors.js';
import { openApiHeaders } from './response-headers.js';
import { FORMATS, spec } from '../formats.js';
import { JSON_QUERY_FIELDS, OptionsSchema } from '../options.js';

const ERROR = {
  type: 'object',
  required: ['error', 'message'],
  properties: {
    error: { type: 'string', enum: Object.keys(ERROR_CODES) },
    message: { type: 'string' },
    field: { type: 'string', description: 'the option at fault' },
    reason: { type: 'string' },
    phase: { type: 'string', description: 'for 504: where the deadline ran out' },
  },
};

const JSON_IN_QUERY = new Set<string>(JSON_QUERY_FIELDS);

export function openApiDocument() {
  const schema = JSON.parse(JSON.stringify(OptionsSchema)) as { properties: Record<string, Record<string, unknown>> };
  const parameters = Object.entries(schema.properties)
    .filter(([name]) => name !== 'html')
    .map(([name, prop]) => ({
      name,
      in: 'query',
      required: false,
      description: prop.description,
      ...(JSON_IN_QUERY.has(name)
        ? { content: { 'application/json': { schema: prop } } }
        : { schema: prop, explode: true }),
    }));
  // One response per status, described by the error codes it carries (src/errors.ts).
  const statuses = [...new Set(Object.values(ERROR_CODES).flatMap((e) => e.statuses))].sort();
  const errors = Object.fromEntries(
    statuses.map((status) => {
      const codes = Object.entries(ERROR_CODES).filter(([, e]) => (e.statuses as readonly number[]).includes(status));
      const description = codes.map(([code, e]) => `${code}: ${e.when}`).join('; ');
      return [String(status), { description, content: { 'application/json': { schema: ERROR } } }];
    }),
  );
  const image = {
    description: 'the capture',
    headers: openApiHeaders(),
    content: Object.fromEntries(FORMATS.map((f) => [spec(f).mime, { schema: { type: 'string', format: 'binary' } }])),
  };
  return {
    openapi: '3.1.0',
    info: {
      title: 'fc-screenshot',
      version: '1',
      description: 'Screenshots of web pages on Alibaba Cloud Function Compute',
    },
    paths: {
      '/': {
        get: {
          summary: 'Capture a page',
          parameters,
          responses: { '200': image, '304': { description: 'If-None-Match matched the ETag' }, ...errors },
        },
        head: {
          summary: 'The same, headers only',
          parameters,
          responses: { '200': { description: 'headers of the capture' } },
        },
        post: {
          summary: 'Capture a page or raw HTML, options in a JSON body',
          requestBody: { required: true, content: { 'application/json': { schema } } },
          responses: { '200': image, ...errors },
        },
      },
      '/healthz': { get: { summary: 'The process answers', responses: { '200': { description: 'ok' } } } },
      '/readyz': {
        get: {
          summary: 'Chromium answers',
          responses: { '200': { description: 'ready' }, '503': { description: 'starting' } },
        },
      },
    },
  };
}

export function registerDocs(app: FastifyInstance): void {
  const doc = openApiDocument();
  app.get('/openapi.json', async () => doc);
}
