/**
 * The request validators compiled when the code package is built: the bundle replaces this module
 * with Ajv's standalone code for every schema the app registers (fc/layers/validators.ts). From
 * source there are none, and validation.ts compiles the schemas at start.
 */
export type Precompiled = Record<string, (data: unknown) => boolean>;

export const precompiled: Precompiled = {};
