/**
 * The errors a caller can see. Each carries its HTTP status and the JSON body it is answered with:
 * `{"error": code, "message": text, "field"?: option, "reason"?: why, "phase"?: where time ran out}`.
 */
export interface ErrorBody {
  error: ErrorCode;
  message: string;
  field?: string;
  reason?: string;
  phase?: string;
}

/**
 * Every error code a caller can see: its HTTP statuses and when it happens. The README's error table
 * and /openapi.json's responses are checked against (or built from) this table, so they cannot drift.
 */
export const ERROR_CODES = {
  invalid_option: { statuses: [400], when: 'an option is invalid; `field` names it' },
  bad_request: {
    statuses: [400, 408, 415, 431],
    when: 'the request is not well-formed HTTP or its body not JSON (400), took too long to arrive (408), its body is not application/json (415), or its headers are too large (431)',
  },
  unauthorized: { statuses: [401], when: 'token or signature missing, wrong or expired (`reason`)' },
  blocked: { statuses: [403], when: 'the URL, or a redirect of it, points at an address the egress guard refuses' },
  not_found: { statuses: [404], when: '`selector` or `click` matched no element (`field`), or no such route' },
  not_clickable: { statuses: [422], when: 'the `click` element is hidden, invisible or has no box (`field`)' },
  bad_gateway: {
    statuses: [502],
    when: 'the page could not be loaded, its renderer crashed, or it passed the memory budget (`reason`)',
  },
  navigation_loop: { statuses: [502], when: 'the page kept navigating (`reason: too_many_navigations`)' },
  unavailable: {
    statuses: [503],
    when: 'the queue is full, or Chromium died under the capture twice (`reason: browser_gone`); see Retry-After',
  },
  timeout: { statuses: [504], when: 'the deadline ran out; `phase` says where' },
  internal: { statuses: [500], when: 'a bug of ours (logged with its stack); never expected' },
} as const satisfies Record<string, { statuses: readonly number[]; when: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly body: ErrorBody,
    readonly headers: Record<string, string> = {},
  ) {
    super(body.message);
    this.name = 'HttpError';
  }
}

/** 400: an option the caller sent is wrong. */
export const invalidOption = (field: string, message: string) =>
  new HttpError(400, { error: 'invalid_option', field, message });

/** 403: the egress guard refused a destination. */
export const blocked = (reason: string, field = 'url') =>
  new HttpError(403, { error: 'blocked', field, reason, message: `destination refused: ${reason}` });

/** 401: access control refused the request. */
export const unauthorized = (reason: string) =>
  new HttpError(401, { error: 'unauthorized', reason, message: reason }, { 'www-authenticate': 'Bearer' });

/** 502: the target page could not be loaded (DNS, TLS, connection, renderer crash…). */
export const badGateway = (message: string, reason = 'navigation_failed') =>
  new HttpError(502, { error: 'bad_gateway', reason, message });

/** 503: the service cannot take the request now (queue full, browser gone). */
export const unavailable = (message: string, retryAfterSeconds = 1) =>
  new HttpError(503, { error: 'unavailable', message }, { 'retry-after': String(retryAfterSeconds) });

/** 503: Chromium died under the capture (the capture is retried once on a new one before this is answered). */
export const browserGone = () =>
  new HttpError(
    503,
    { error: 'unavailable', reason: 'browser_gone', message: 'the browser went away during the capture; retry' },
    { 'retry-after': '1' },
  );

/** Puppeteer's words for "the page went away under us" (its target closed, its session or frame gone). */
export const isPageGone = (err: unknown) => /Target closed|Session closed|frame was detached/i.test(String(err));

export const isBrowserGone = (err: unknown) => err instanceof HttpError && err.body.reason === 'browser_gone';

/** 504: the request's deadline ran out; `phase` says during what. */
export const deadlineExceeded = (phase: string) =>
  new HttpError(504, { error: 'timeout', phase, message: `deadline exceeded during ${phase}` });

/** 404: an element the caller named (`selector`, `click`) is not on the page. */
export const notFound = (field: string, selector: string) =>
  new HttpError(404, { error: 'not_found', field, message: `no element matches ${JSON.stringify(selector)}` });

/** 404: no such route (or a lifecycle hook asked for by someone other than FC). */
export const noRoute = (method: string, path: string) =>
  new HttpError(404, { error: 'not_found', message: `no route ${method} ${path}` });

/** 422: the element named by `click` is on the page but has nothing to click (hidden, no box, the document itself). */
export const notClickable = (selector: string) =>
  new HttpError(422, {
    error: 'not_clickable',
    field: 'click',
    message: `the element matching ${JSON.stringify(selector)} cannot be clicked: it is hidden or has no box`,
  });

/** 502: the page kept navigating (a redirect loop in script or meta refresh). */
export const navigationLoop = (hops: number, url: string) =>
  new HttpError(502, {
    error: 'navigation_loop',
    reason: 'too_many_navigations',
    message: `the page kept navigating: more than ${hops} client-side navigations (last to ${url})`,
  });

/** The client closed its connection: the work for it stops, and nothing is answered. */
export class ClientGone extends Error {
  constructor() {
    super('client closed the connection');
    this.name = 'ClientGone';
  }
}
