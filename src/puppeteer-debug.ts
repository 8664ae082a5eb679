/**
 * Puppeteer's logging, made cheap while it is off. Imported first by the entry point (server.ts),
 * before puppeteer sends its first CDP message.
 *
 * Puppeteer logs every CDP message it sends or receives through the `debug` package, and builds a new
 * logger for each one (`debug(prefix)(message)`): a colour hashed from the prefix, an options copy,
 * and, unless the colour choice is known when `debug` loads, an ioctl and an fstat asking whether
 * stderr is a terminal. A capture has 150–250 messages. So:
 * - the colours are set off before `debug` loads (our logs never use them);
 * - `debug` hands out one logger per name, made once and kept. A logger still asks whether its name
 *   is enabled on every call (cached until `debug.enable` changes the names), so DEBUG=puppeteer:*
 *   logs as before.
 */
import { createRequire } from 'node:module';
import { packageRequire } from './package-require.js';

process.env.DEBUG_COLORS ??= 'false';

type CreateDebug = ((namespace: string) => unknown) & Record<string, unknown>;

/** `debug` as puppeteer-core resolves it (the dependencies layer on FC, node_modules here). */
const fromPuppeteer = createRequire(packageRequire.resolve('puppeteer-core'));
const debugPath = fromPuppeteer.resolve('debug');
const createDebug = fromPuppeteer(debugPath) as CreateDebug;
const loggers = new Map<string, unknown>();
function oneLoggerPerName(namespace: string): unknown {
  let logger = loggers.get(namespace);
  if (logger === undefined) {
    logger = createDebug(namespace);
    loggers.set(namespace, logger);
  }
  return logger;
}
// Everything else (`enable`, `disable`, `formatters`, …) is read through to `debug` itself, live.
Object.setPrototypeOf(oneLoggerPerName, createDebug);
const loaded = fromPuppeteer.cache[debugPath];
if (loaded) loaded.exports = oneLoggerPerName;
