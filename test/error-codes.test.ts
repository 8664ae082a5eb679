/**
 * The error codes exist in one place (ERROR_CODES, src/errors.ts): the README's error table and
 * /openapi.json must say the same, code for code and status for status.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../fc/paths.js';
import { ERROR_CODES } from '../src/errors.js';
import { openApiDocument } from '../src/http/docs.js';

/** `code → statuses` from the README's table under "### Errors" (rows without a code are node's own). */
function readmeTable(): Record<string, number[]> {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
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

describe('error codes', () => {
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
});
