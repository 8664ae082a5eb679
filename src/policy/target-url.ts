/**
 * Turns what a caller typed into the URL we will navigate to, or a 400 naming `url`.
 * The WHATWG URL parser (the one Chromium uses) does the normalising: scheme and host case, IDN to
 * punycode, and every numeric IPv4 spelling (2130706433, 0x7f.1, 0177.0.0.1, 127.1) to dotted form,
 * so the egress check sees the address Chromium would connect to.
 */
import { invalidOption } from '../errors.js';
import { isIpLiteral } from './address.js';

const ALLOWED_SCHEMES = new Set(['http:', 'https:']);

/** Labels of letters, digits, `-` and `_` (seen in real host names), 1–63 long, 253 in all; a final dot is fine. */
const LABEL = /^[a-z0-9_-]{1,63}$/;
function isDnsName(host: string): boolean {
  const name = host.endsWith('.') ? host.slice(0, -1) : host;
  return name.length > 0 && name.length <= 253 && name.split('.').every((label) => LABEL.test(label));
}

/** `example.com` and `localhost:8080/x` have no scheme; `data:…`, `javascript:…`, `HTTPS://…` do. */
function hasScheme(raw: string): boolean {
  const m = /^([a-z][a-z0-9+.-]*):(.*)$/is.exec(raw);
  if (!m) return false;
  // host:port[/path] looks like scheme:digits; treat it as a bare host.
  return !/^\d+(?:[/?#]|$)/.test(m[2]!);
}

export function parseTargetUrl(raw: string): URL {
  const text = raw.trim();
  let url: URL;
  try {
    url = new URL(hasScheme(text) ? text : `https://${text}`);
  } catch {
    throw invalidOption('url', 'not a valid URL');
  }
  if (!ALLOWED_SCHEMES.has(url.protocol)) {
    throw invalidOption('url', `scheme "${url.protocol.replace(/:$/, '')}" is not allowed; use http or https`);
  }
  if (url.username || url.password) {
    throw invalidOption('url', 'credentials in the URL are not accepted');
  }
  if (!url.hostname) throw invalidOption('url', 'the URL has no host');
  if (!isIpLiteral(url.hostname) && !isDnsName(url.hostname)) {
    throw invalidOption('url', `"${url.hostname}" is not a valid host name`);
  }
  return url;
}

export function portOf(url: URL): number {
  if (url.port) return Number(url.port);
  return url.protocol === 'https:' ? 443 : 80;
}
