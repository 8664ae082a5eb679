/**
 * Vocabularies exist in one place, and the docs are held to them: the error codes (ERROR_CODES,
 * src/errors.ts) in the README's error table and /openapi.json, code for code and status for status;
 * the response headers (RESPONSE_HEADERS, src/http/response-headers.ts) in the README and /openapi.json.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../fc/paths.js';
import { ERROR_CODES } from '../src/errors.js';
import { openApiDocument } from '../src/http/docs.js';
import { RESPONSE_HEADERS } from '../src/http/response-headers.js';

/** `code → statuses` from the README's table under "### Errors" (rows without a code are node's own). */
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

function readmeTable(): Record<string, number[]> {
  const section = readme.slice(readme.indexOf('### Errors'), readme.indexOf('\n## ', readme.indexOf('### Errors')));
  const table: Record<string, number[]> = {};
  for (const line of section.split('\n')) {
    const cells = /^\|\s*([\d, ]+)\s*\|\s*`(\w+)`\s*\|/.exec(line);
    if (!cells) continue;
    const statuses = cells[1]!.split(',').map((n) => Number(n.trim()));
    table[cells[2]!] = [...(table[cells[2]!] ?? []), ...statuses];
  }
  return table;
}

const registry = Object.fromEntries(Object.entries(ERROR_CODES).map(([code, e]) => [code, [...e.statuses]]));

describe('vocabularies', () => {
  it("the README's table lists exactly the registry's codes, with their statuses", () => {
    expect(readmeTable()).toEqual(registry);
  });

  it('/openapi.json answers every status the registry has, naming each code', () => {
    const responses = (openApiDocument().paths['/'] as { get: { responses: Record<string, { description: string }> } })
      .get.responses;
    for (const [code, { statuses }] of Object.entries(ERROR_CODES)) {
      for (const status of statuses) expect(responses[String(status)]?.description, code).toContain(code);
    }
  });

  it('every response header is in the README\'s "The response" and in /openapi.json', () => {
    const section = readme.slice(readme.indexOf('### The response'), readme.indexOf('### Errors'));
    const documented = (openApiDocument().paths['/'] as { get: { responses: Record<string, { headers?: object }> } })
      .get.responses['200']!.headers!;
    for (const name of Object.keys(RESPONSE_HEADERS)) {
      expect(section, name).toMatch(new RegExp(`\`${name}[\`:]`));
      expect(Object.keys(documented)).toContain(name);
    }
  });
});
