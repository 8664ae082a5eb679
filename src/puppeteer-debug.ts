/**
 * Puppeteer's logging, made cheap while it is off. Imported first by the entry point (server.ts),
 * before puppeteer sends its first CDP message.
 *
 * Puppeteer logs every CDP message it sends or receives through the `debug` package, and builds a new
 * logger for each one (`debug(prefix)(message)`): a colour hashed from the prefix, an options copy,
 * and, unless the colour choice is known when `debug` loads, an ioctl and an fstat asking whether
 * stderr is a terminal. A capture has 150–250 messages. So, for CommonJS `require` and ESM `import` alike:
 * - the colours are set off before `debug` loads (our logs never use them);
 * - `debug` hands out one logger per name, made once and kept. A logger still asks whether its name
 *   is enabled on every call (cached until `debug.enable` changes the names), so DEBUG=puppeteer:*
 *   logs as before.
 */
import Module, { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { packageRequire } from './package-require.js';

process.env.DEBUG_COLORS ??= 'false';

type CreateDebug = (namespace: string) => unknown;

/**
 * `debug` as puppeteer-core finds it (the dependencies layer on FC, node_modules here), replaced by
 * one logger per name for CommonJS `require` and ESM `import` alike: its entry file (which only picks
 * the Node implementation over the browser's) is put in node's module cache, loaded, with our
 * function as its exports, before puppeteer loads it. The Node implementation is loaded from its own
 * file, so the entry is never run. Should the package's layout change, nothing is replaced.
 */
function installOneLoggerPerName(): void {
  const fromPuppeteer = createRequire(packageRequire.resolve('puppeteer-core'));
  const entry = fromPuppeteer.resolve('debug');
  let cached = fromPuppeteer.cache[entry];
  // Loaded already (by whatever came first): its loggers are made per message from here on; keep it.
  if (cached?.loaded) return;
  let createDebug: CreateDebug;
  try {
    createDebug = fromPuppeteer(join(dirname(entry), 'node.js')) as CreateDebug;
  } catch {
    return;
  }
  if (typeof createDebug !== 'function') return;
  const loggers = new Map<string, unknown>();
  const loggerFor = (namespace: string): unknown => {
    let logger = loggers.get(namespace);
    if (logger === undefined) {
      logger = createDebug(namespace);
      loggers.set(namespace, logger);
    }
    return logger;
  };
  // Everything else (`enable`, `disable`, `log`, `formatters`, …) is read from and written to `debug`
  // itself, live.
  Object.setPrototypeOf(loggerFor, createDebug);
  const oneLoggerPerName = new Proxy(loggerFor, { set: (_fn, key, value) => Reflect.set(createDebug, key, value) });
  // ESM may have put the entry in the cache, not loaded, while linking the modules that import it.
  if (!cached) {
    cached = new Module(entry);
    cached.filename = entry;
    fromPuppeteer.cache[entry] = cached;
  }
  cached.exports = oneLoggerPerName;
  cached.loaded = true;
}

installOneLoggerPerName();
