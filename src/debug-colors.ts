/**
 * Imported first by the entry point (server.ts), before any module that loads the `debug` package:
 * puppeteer logs every CDP message through it, building a logger per message, and unless told the
 * colour choice when it loads, each logger asks the kernel whether stderr is a terminal (an ioctl and
 * an fstat per message, ~2–3 % of node's time per capture in a profile). Our logs never use its
 * colours. Set any later (puppeteer-core loads `debug` as it is imported) and it has no effect.
 */
process.env.DEBUG_COLORS ??= 'false';
