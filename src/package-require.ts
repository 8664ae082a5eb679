/**
 * `require` for packages, from the ESM build and from the CommonJS bundle deployed to FC alike: in
 * the bundle it is node's own `require`, which finds the dependencies layer through NODE_PATH (an
 * `import()` there would not). For what is loaded on first need or read from a package's files.
 */
import { createRequire } from 'node:module';

export const packageRequire: NodeJS.Require = typeof require === 'function' ? require : createRequire(import.meta.url);
