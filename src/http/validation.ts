/**
 * How the app's schemas become code. Ajv compiling the capture options (a large schema) costs ~150 ms
 * of CPU, and loading Ajv ~40 ms more, on every cold start; so the code package is built with the
 * request validators already compiled (Ajv's standalone code, fc/layers/validators.ts), and neither
 * Ajv nor the response serializers' compiler (which loads Ajv too) is loaded at start. A schema found
 * nowhere among them (a run from source, the tests) is compiled here, with the same options, exactly
 * as fastify would.
 */
import { createHash } from 'node:crypto';
import type { ValidatorFactory } from '@fastify/ajv-compiler';
import type { SerializerFactory } from '@fastify/fast-json-stringify-compiler';
import { packageRequire } from '../package-require.js';
import { precompiled as PRECOMPILED, type Precompiled } from './precompiled-validators.js';

/** Ajv's options for every request schema; `coerceTypes: 'array'` makes a single ?hide=.x a list of one. */
export const AJV_OPTIONS = {
  removeAdditional: false,
  coerceTypes: 'array',
  useDefaults: true,
  allErrors: false,
} as const;

/**
 * Names a validator by its schema alone (every request part is validated with the same options), so
 * a validator built from another version of a schema is never picked up.
 */
export function validatorKey({ schema }: { schema: unknown }): string {
  return createHash('sha256').update(JSON.stringify(schema)).digest('base64url');
}

/** The validators for fastify: precompiled ones where there are, else Ajv (loaded on first need). */
export function validatorFactory(precompiled: Precompiled = PRECOMPILED): ValidatorFactory {
  return (externalSchemas, options) => {
    let compile: ReturnType<ValidatorFactory> | undefined;
    return (route) => {
      const ready = precompiled[validatorKey(route)];
      if (ready) return ready as ReturnType<ReturnType<ValidatorFactory>>;
      if (!compile) {
        const { AjvCompiler } = packageRequire('@fastify/ajv-compiler') as typeof import('@fastify/ajv-compiler');
        compile = AjvCompiler()(externalSchemas, options);
      }
      return compile(route);
    };
  };
}

/**
 * Response serializers, fastify's own, their compiler loaded on first need: no route of ours has a
 * response schema, so at start nothing needs it.
 */
export function serializerFactory(): SerializerFactory {
  return (externalSchemas, options) => {
    let compile: ReturnType<SerializerFactory> | undefined;
    return (route) => {
      if (!compile) {
        const { SerializerSelector } = packageRequire(
          '@fastify/fast-json-stringify-compiler',
        ) as typeof import('@fastify/fast-json-stringify-compiler');
        compile = SerializerSelector()(externalSchemas, options);
      }
      return compile(route);
    };
  };
}
