/**
 * The request validators compiled when the code package is built (Ajv's standalone code,
 * fc/layers/validators.ts) against Ajv compiling the same schemas at start, as fastify does: the
 * same verdict, the same first error, the same coercions and defaults, for random and hostile input
 * (fast-check). Every schema the app registers is among them, and the built code package carries
 * them, so a cold start compiles nothing.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AjvCompiler, type ValidatorFactory } from '@fastify/ajv-compiler';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VALIDATORS_FILE } from '../fc/layers/build.js';
import { precompiledValidatorsSource } from '../fc/layers/validators.js';
import { BUILD, ROOT } from '../fc/paths.js';
import { loadConfig } from '../src/config.js';
import type { Precompiled } from '../src/http/precompiled-validators.js';
import { AJV_OPTIONS, validatorKey } from '../src/http/validation.js';
import { OptionsSchema } from '../src/options.js';
import { createLogger, createService } from '../src/service.js';

let precompiled: Precompiled;
/** The schemas the app asks validators for, by key, as the service registers them. */
const asked = new Map<string, unknown>();
let dir: string;

beforeAll(async () => {
  // The generated module, loaded from inside the repository so its `require`s find Ajv's runtime.
  mkdirSync(join(ROOT, 'node_modules', '.cache'), { recursive: true });
  dir = mkdtempSync(join(ROOT, 'node_modules', '.cache', 'validators-'));
  const file = join(dir, 'precompiled.mjs');
  const source = await precompiledValidatorsSource();
  writeFileSync(
    file,
    `import { createRequire } from 'node:module';\nconst require = createRequire(import.meta.url);\n${source}`,
  );
  ({ precompiled } = (await import(file)) as { precompiled: Precompiled });

  const recording: ValidatorFactory = () => (route) => {
    const key = validatorKey(route);
    asked.set(key, route.schema);
    const ready = precompiled[key];
    if (!ready) throw new Error(`no precompiled validator for ${route.method} ${route.url} ${route.httpPart}`);
    return ready as ReturnType<ReturnType<ValidatorFactory>>;
  };
  const service = await createService(loadConfig({}), { validators: recording, logger: createLogger('silent') });
  try {
    await service.app.ready();
  } finally {
    await service.close();
  }
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const compiledAtStart = (schema: unknown) =>
  AjvCompiler()({}, { customOptions: { ...AJV_OPTIONS } })({ schema: schema as object });

const names = Object.keys(OptionsSchema.properties);
const value = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom('png', 'jpeg', 'webp', 'true', 'false', '1', '0', '1.5', '-3', '1e3', '0x10', ' 7', '', 'iPhone 15'),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.oneof(fc.string({ maxLength: 8 }), fc.integer()), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.string({ maxLength: 8 }), fc.integer()), { maxKeys: 3 }),
);
const request = fc.dictionary(fc.oneof(fc.constantFrom(...names), fc.string({ maxLength: 8 })), value, {
  maxKeys: 6,
});

describe('request validators compiled at build', () => {
  it('cover every schema the service registers (a cold start compiles none)', () => {
    expect(asked.size).toBeGreaterThanOrEqual(2); // the capture options, the POST query
    expect(asked.has(validatorKey({ schema: OptionsSchema }))).toBe(true);
  });

  it('answer as Ajv compiling at start does: verdict, first error, coercions and defaults', () => {
    for (const [key, schema] of asked) {
      const atStart = compiledAtStart(schema);
      const built = precompiled[key]! as typeof atStart;
      fc.assert(
        fc.property(request, (input) => {
          const [a, b] = [structuredClone(input), structuredClone(input)];
          const verdict = built(a);
          expect(atStart(b)).toBe(verdict);
          expect(built.errors ?? null).toEqual(atStart.errors ?? null);
          expect(a).toEqual(b);
        }),
        { numRuns: 400 },
      );
    }
  });

  it('are what the built code package carries, beside the bundle that requires them', () => {
    const bundle = readFileSync(join(BUILD, 'code', 'server.cjs'), 'utf8');
    expect(bundle).toContain(`require("./${VALIDATORS_FILE}")`);
    const validators = readFileSync(join(BUILD, 'code', VALIDATORS_FILE), 'utf8');
    for (const key of asked.keys()) expect(validators).toContain(key);
  });
});
