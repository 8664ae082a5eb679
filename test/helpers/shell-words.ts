/**
 * Reads a one-line shell command the way sh would (quotes, backslashes, $VAR), and a curl command
 * line as the request it sends: for checking the playground's curl line without needing curl.
 */

/** The words of a command line; `$NAME` outside single quotes takes its value from `vars`. */
export function shellWords(line: string, vars: Record<string, string> = {}): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let i = 0;
  const add = (s: string) => {
    word = (word ?? '') + s;
  };
  const variable = () => {
    const name = /^[A-Za-z_]\w*/.exec(line.slice(i + 1))?.[0];
    if (!name) throw new Error(`bare $ at ${i}`);
    if (!(name in vars)) throw new Error(`$${name} is not set`);
    add(vars[name]!);
    i += name.length + 1;
  };
  while (i < line.length) {
    const c = line[i]!;
    if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
      i += 1;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error('unclosed single quote');
      add(line.slice(i + 1, end));
      i = end + 1;
    } else if (c === '"') {
      add('');
      i += 1;
      while (line[i] !== '"') {
        if (i >= line.length) throw new Error('unclosed double quote');
        if (line[i] === '$') variable();
        else if (line[i] === '\\' && /["\\$`]/.test(line[i + 1] ?? '')) {
          add(line[i + 1]!);
          i += 2;
        } else add(line[i++]!);
      }
      i += 1;
    } else if (c === '\\') {
      add(line[i + 1] ?? '');
      i += 2;
    } else if (c === '$') variable();
    else if (/[;&|<>`()]/.test(c)) throw new Error(`shell syntax "${c}" in a command meant to be one curl call`);
    else add(line[i++]!);
  }
  if (word !== undefined) words.push(word);
  return words;
}

export interface CurlRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
  output?: string;
}

/** The request a `curl` command sends, for the options the playground uses (-H, -d/--data-raw, -o, -X, -sS). */
export function curlToRequest(words: string[]): CurlRequest {
  if (words[0] !== 'curl') throw new Error(`not a curl command: ${words[0]}`);
  const req: Partial<CurlRequest> & { headers: Record<string, string> } = { headers: {} };
  for (let i = 1; i < words.length; i++) {
    const w = words[i]!;
    const next = () => {
      const value = words[++i];
      if (value === undefined) throw new Error(`${w} needs a value`);
      return value;
    };
    if (w === '-H' || w === '--header') {
      const h = next();
      const colon = h.indexOf(':');
      req.headers[h.slice(0, colon).trim()] = h.slice(colon + 1).trim();
    } else if (w === '-d' || w === '--data' || w === '--data-raw') req.body = next();
    else if (w === '-o' || w === '--output') req.output = next();
    else if (w === '-X' || w === '--request') req.method = next();
    // -f (fail on an error answer), -s, -S: how curl reports, nothing sent differently
    else if (/^-[fsS]+$/.test(w)) continue;
    else if (w.startsWith('-')) throw new Error(`curl option ${w} is not understood here`);
    else req.url = w;
  }
  if (!req.url) throw new Error('curl command without a URL');
  return { ...req, url: req.url, method: req.method ?? (req.body !== undefined ? 'POST' : 'GET') };
}
