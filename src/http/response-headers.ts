/**
 * The headers a capture is answered with, in one table: what each says, and (for the report on the
 * page) how it is made from the screenshot. The route sets them from here and /openapi.json describes
 * them from here, so the two cannot drift.
 */
import type { Screenshot } from '../screenshot.js';

interface HeaderSpec {
  schema: { type: 'string' | 'integer'; enum?: string[] };
  description: string;
  /** The value from the screenshot's report; undefined: the header is not sent. */
  of?: (shot: Screenshot) => string | undefined;
}

export const RESPONSE_HEADERS = {
  'Server-Timing': { schema: { type: 'string' }, description: 'the phases, in ms (policy, queue, page, …, encode)' },
  'X-Request-Id': { schema: { type: 'string' }, description: "the request's id (FC's x-fc-request-id when present)" },
  ETag: { schema: { type: 'string' }, description: "a digest of the image's bytes" },
  'X-Blocked-Requests': {
    schema: { type: 'integer' },
    description: 'requests of the page the egress guard refused',
    of: (shot) => String(shot.blockedRequests),
  },
  'X-Target-Status': {
    schema: { type: 'integer' },
    description: 'HTTP status of the page captured (after client-side navigation)',
    of: (shot) => (shot.targetStatus === undefined ? undefined : String(shot.targetStatus)),
  },
  'X-Best-Attempt': {
    schema: { type: 'string' },
    description: 'present when a wait timed out and bestAttempt captured anyway',
    of: (shot) => (shot.gaveUp.length ? `timed out: ${shot.gaveUp.join(', ')}` : undefined),
  },
  'X-Truncated': {
    schema: { type: 'string' },
    description: 'present when a limit cut the image: fullPageMaxHeight=N, capturePixels=N, or FORMAT=Npx',
    of: (shot) => shot.truncated,
  },
  'X-Cache': { schema: { type: 'string', enum: ['hit', 'miss', 'off'] }, description: 'the capture cache' },
  'Cache-Control': { schema: { type: 'string' }, description: 'no-cache, or public with CACHE_TTL_SECONDS' },
  Vary: { schema: { type: 'string' }, description: 'Accept (it can choose the format)' },
} satisfies Record<string, HeaderSpec>;

/** The headers that report on the page captured (lower-case names), from the screenshot. */
export function reportHeaders(shot: Screenshot): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, spec] of Object.entries(RESPONSE_HEADERS) as Array<[string, HeaderSpec]>) {
    const value = spec.of?.(shot);
    if (value !== undefined) headers[name.toLowerCase()] = value;
  }
  return headers;
}

/** The table as OpenAPI response headers. */
export function openApiHeaders() {
  return Object.fromEntries(
    (Object.entries(RESPONSE_HEADERS) as Array<[string, HeaderSpec]>).map(([name, { schema, description }]) => [
      name,
      { schema, description },
    ]),
  );
}
