/**
 * Access control, both optional and both off unless the operator sets them:
 *  - AUTH_TOKEN: a shared token, as `Authorization: Bearer TOKEN` or `?token=TOKEN`;
 *  - SIGNING_SECRET: signed URLs, `?…&expires=UNIX_SECONDS&signature=HEX`, where the signature is
 *    HMAC-SHA256(secret, canonicalQuery) and the canonical query is every other parameter, sorted by
 *    name, URL-encoded, joined with `&`, a repeated key once per value in the order sent (see
 *    `canonicalQuery`; `npm run sign-url` makes one).
 * When both are set, either one admits the request. Comparisons are constant-time.
 *
 * A signature is checked against the query exactly as the router parsed it, the object the capture
 * then runs on, never against a re-reading of the raw URL: what is signed is what is used.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { unauthorized } from '../errors.js';

export interface AccessOptions {
  authToken?: string;
  signingSecret?: string;
  /** Longest lifetime a signed URL may have, seconds from now to `expires` (0: no limit). */
  signingMaxTtl?: number;
  /** Clock, in Unix seconds; injectable for tests. */
  now?: () => number;
}

/** A parsed query: a repeated key is an array of its values in the order sent. */
export type Query = Record<string, unknown>;
type Headers = Record<string, string | string[] | undefined>;

/** How a request was let in: signed requests must not vary with anything unsigned (such as Accept). */
export type Admission = 'token' | 'signature';

/** What the router hands the check: the parsed query, and the raw request target to refuse tricks on. */
export interface AccessRequest {
  query: Query;
  headers: Headers;
  method: string;
  /** The request target as it arrived (`/?a=b`). */
  rawUrl: string;
}

/** Equal-length digests compared in constant time, so neither length nor content leaks through timing. */
function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The string a signature covers: all parameters but `signature` and `token`, sorted, encoded. */
export function canonicalQuery(query: Query): string {
  const pairs: string[] = [];
  for (const key of Object.keys(query).sort()) {
    if (key === 'signature' || key === 'token' || query[key] === undefined) continue;
    const values = Array.isArray(query[key]) ? (query[key] as unknown[]) : [query[key]];
    for (const value of values) pairs.push(`${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`);
  }
  return pairs.join('&');
}

export function sign(query: Query, secret: string): string {
  return createHmac('sha256', secret).update(canonicalQuery(query)).digest('hex');
}

/** A URLSearchParams as a Query, repeated keys kept (what the router makes of the same string). */
export function queryOf(params: URLSearchParams): Query {
  const out: Query = {};
  for (const key of new Set(params.keys())) {
    const all = params.getAll(key);
    out[key] = all.length > 1 ? all : all[0];
  }
  return out;
}

function bearer(headers: Headers): string | undefined {
  const value = headers.authorization;
  const text = Array.isArray(value) ? value[0] : value;
  const m = text ? /^Bearer\s+(.+)$/i.exec(text.trim()) : null;
  return m?.[1];
}

/**
 * Returns the check the app runs before any capture work, or undefined when access is open. It runs
 * on the query as the caller sent it (before validation fills in defaults), since that is what was
 * signed, and answers how the request was admitted.
 */
export function accessCheck(opts: AccessOptions) {
  const { authToken, signingSecret } = opts;
  if (!authToken && !signingSecret) return undefined;
  const now = opts.now ?? (() => Math.floor(Date.now() / 1000));
  const maxTtl = opts.signingMaxTtl ?? 0;

  return ({ query, headers, method, rawUrl }: AccessRequest): Admission => {
    if (authToken) {
      const given = bearer(headers) ?? (typeof query.token === 'string' ? query.token : undefined);
      if (given !== undefined && sameSecret(given, authToken)) return 'token';
      if (!signingSecret) throw unauthorized(given === undefined ? 'missing token' : 'invalid token');
    }
    // A signature covers the query; a POST's options are in its body, so POST needs the token.
    if (method === 'POST')
      throw unauthorized(authToken ? 'invalid token' : 'signed URLs are for GET; POST needs AUTH_TOKEN');
    const signature = query.signature;
    if (typeof signature !== 'string')
      throw unauthorized(authToken ? 'missing token or signature' : 'missing signature');
    // A '#' never belongs in a request target; routers disagree on where a query starts around one.
    if (rawUrl.includes('#')) throw unauthorized('a signed URL may not contain "#"');
    const expires = Number(query.expires);
    if (typeof query.expires !== 'string' || !Number.isInteger(expires)) throw unauthorized('signed URLs need expires');
    if (!sameSecret(signature.toLowerCase(), sign(query, signingSecret!))) throw unauthorized('invalid signature');
    if (expires < now()) throw unauthorized('signature expired');
    if (maxTtl > 0 && expires - now() > maxTtl) {
      throw unauthorized(`expires is more than SIGNING_MAX_TTL (${maxTtl} s) away`);
    }
    return 'signature';
  };
}
