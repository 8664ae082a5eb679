/**
 * The request validators compiled when the code package is built: in the bundle this module is
 * `validators.cjs` beside it, Ajv's standalone code for every schema the app registers
 * (fc/layers/validators.ts, fc/layers/build.ts). From source there are none, and validation.ts
 * compiles the schemas at start.
 */
export type Precompiled = Record<string, (data: unknown) => boolean>;

export const precompiled: Precompiled = {};
