/**
 * Entry point for FC 3.0 built-in runtimes (HTTP trigger): `handler(event, context)`.
 * The event (a Buffer of JSON: rawPath, headers, queryParameters, body, requestContext) is replayed into the same fastify app the
 * server runs, with `inject`, and the reply is returned as `{statusCode, headers, body,
 * isBase64Encoded}`; image bodies are base64. `initializer` launches Chromium ahead of the first call.
 */
import { loadConfig } from './config.js';
import { createService, type Service } from './service.js';

export interface FcHttpEvent {
  version?: string;
  rawPath?: string;
  body?: string;
  isBase64Encoded?: boolean;
  headers?: Record<string, string>;
  queryParameters?: Record<string, string>;
  requestContext?: { requestId?: string; http?: { method?: string; path?: string } };
}

export interface FcHttpResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
  isBase64Encoded: boolean;
}

export interface FcContext {
  requestId?: string;
}

const TEXT_TYPES = /^(application\/json|text\/)/;

export function createHandler(getService: () => Promise<Service>) {
  return async function handler(event: Buffer | string | FcHttpEvent, context?: FcContext): Promise<FcHttpResult> {
    const parsed: FcHttpEvent =
      Buffer.isBuffer(event) || typeof event === 'string' ? (JSON.parse(event.toString()) as FcHttpEvent) : event;
    const { app } = await getService();
    const headers: Record<string, string> = { ...(parsed.headers ?? {}) };
    const requestId = context?.requestId ?? parsed.requestContext?.requestId;
    if (requestId) headers['x-fc-request-id'] = requestId;

    const response = await app.inject({
      method: (parsed.requestContext?.http?.method ?? 'GET') as 'GET',
      url: parsed.rawPath || '/',
      query: parsed.queryParameters ?? {},
      headers,
      payload: parsed.body ? Buffer.from(parsed.body, parsed.isBase64Encoded ? 'base64' : 'utf8') : undefined,
    });

    const outHeaders: Record<string, string> = {};
    for (const [name, value] of Object.entries(response.headers)) {
      if (value !== undefined) outHeaders[name] = Array.isArray(value) ? value.join(', ') : String(value);
    }
    const binary = !TEXT_TYPES.test(outHeaders['content-type'] ?? '');
    return {
      statusCode: response.statusCode,
      headers: outHeaders,
      body: binary ? response.rawPayload.toString('base64') : response.body,
      isBase64Encoded: binary,
    };
  };
}

let service: Promise<Service> | undefined;
const getService = () => (service ??= createService(loadConfig()));

export const handler = createHandler(getService);

/** FC initializer: launch Chromium before the first invocation. */
export async function initializer(): Promise<void> {
  await (await getService()).browser.warm();
}
