/**
 * The request URL as it may appear in a log line: the values of parameters that carry credentials,
 * or are sent to the target as credentials, are replaced by `***`. Names are compared after
 * decoding, as the router decodes them (`%74oken` is `token`), so no spelling gets a secret logged.
 */
const SECRET_PARAMS = new Set(['token', 'signature', 'auth', 'headers', 'cookies']);

function decodedName(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' ')).trim().toLowerCase();
  } catch {
    return raw.toLowerCase(); // not valid percent-encoding: compared as written
  }
}

export function maskedUrl(url: string): string {
  const at = url.search(/[?#]/);
  if (at < 0) return url;
  const pairs = url
    .slice(at + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq < 0 ? pair : pair.slice(0, eq);
      return SECRET_PARAMS.has(decodedName(name)) ? `${name}=***` : pair;
    });
  return `${url.slice(0, at)}?${pairs.join('&')}`;
}
