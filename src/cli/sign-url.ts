/**
 * Signs a screenshot URL for services that set SIGNING_SECRET.
 *   SIGNING_SECRET=… npm run sign-url -- 'https://YOUR-FUNCTION/?url=https://example.com&width=800' [ttlSeconds]
 * Prints the URL with `expires` and `signature` added (default lifetime: one hour; the service refuses
 * one longer than its SIGNING_MAX_TTL).
 */
import { queryOf, sign } from '../policy/access.js';

const [target, ttlArg = '3600'] = process.argv.slice(2);
const secret = process.env.SIGNING_SECRET;
if (!target || !secret) {
  console.error("usage: SIGNING_SECRET=… npm run sign-url -- 'https://host/?url=…' [ttlSeconds]");
  process.exit(2);
}
const url = new URL(target);
url.hash = '';
url.searchParams.delete('signature');
url.searchParams.set('expires', String(Math.floor(Date.now() / 1000) + Number(ttlArg)));
url.searchParams.set('signature', sign(queryOf(url.searchParams), secret));
console.log(url.href);
