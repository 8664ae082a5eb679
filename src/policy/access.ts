/**
 * Access control, both optional and both off unless the operator sets them:
 *  - AUTH_TOKEN: a shared token, as `Authorization: Bearer TOKEN` or `?token=TOKEN`;
 *  - SIGNING_SECRET: signed URLs, `?…&expires=UNIX_SECONDS&signature=HEX`, where the signature is
 *    HMAC-SHA256(secret, canonicalQuery) and the canonical query is every other parameter, sorted by
 *    name, URL-encoded, joined with `&` (see `canonicalQuery`; `npm run sign-url` makes one).
 * When both are set, either one admits the request. Comparisons are constant-time.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { unauthorized } from '../errors.js';

export interface AccessOptions {
  authToken?: string;
  signingSecret?: string;
  /** Clock, in Unix seconds; injectable for tests. */
  now?: () => number;
}

type Query = Record<string, unknown>;
type Headers = Record<string, string | string[] | undefined>;

/** Equal-length digests compared in constant time, so neither length nor content leaks through timing. */
function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The string a signature covers: all parameters but `signature` and `token`, sorted, encoded. */
export function canonicalQuery(query: Query): string {
  return Object.keys(query)
    .filter((k) => k !== 'signature' && k !== 'token' && query[k] !== undefined)
    .sort()
    .map((k) => `${encodeURIComponent(k)}=${encodeURIComponent(String(query[k]))}`)
    .join('&');
}

export function sign(query: Query, secret: string): string {
  return createHmac('sha256', secret).update(canonicalQuery(query)).digest('hex');
}

function bearer(headers: Headers): string | undefined {
  const value = headers.authorization;
  const text = Array.isArray(value) ? value[0] : value;
  const m = text ? /^Bearer\s+(.+)$/i.exec(text.trim()) : null;
  return m?.[1];
}

/**
 * Returns the check the app runs before any capture work, or undefined when access is open.
 * It must see the query as the caller sent it (before defaults are filled in), since that is what
 * was signed; the app passes the raw query string's parameters.
 */
export function accessCheck(opts: AccessOptions) {
  const { authToken, signingSecret } = opts;
  if (!authToken && !signingSecret) return undefined;
  const now = opts.now ?? (() => Math.floor(Date.now() / 1000));

  return (query: Query, headers: Headers, method = 'GET'): void => {
    if (authToken) {
      const given = bearer(headers) ?? (typeof query.token === 'string' ? query.token : undefined);
      if (given !== undefined && sameSecret(given, authToken)) return;
      if (!signingSecret) throw unauthorized(given === undefined ? 'missing token' : 'invalid token');
    }
    if (signingSecret) {
      // A signature covers the query; a POST's options are in its body, so POST needs the token.
      if (method === 'POST') throw unauthorized(authToken ? 'invalid token' : 'signed URLs are for GET; POST needs AUTH_TOKEN');
      const signature = query.signature;
      const expires = Number(query.expires);
      if (typeof signature !== 'string') throw unauthorized(authToken ? 'missing token or signature' : 'missing signature');
      if (!Number.isInteger(expires)) throw unauthorized('signed URLs need expires');
      if (!sameSecret(signature.toLowerCase(), sign(query, signingSecret))) throw unauthorized('invalid signature');
      if (expires < now()) throw unauthorized('signature expired');
    }
  };
}
