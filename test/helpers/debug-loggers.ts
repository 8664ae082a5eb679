/**
 * Run as a process of its own (`node --import tsx`), as `npm start` runs the service: ESM, with
 * src/puppeteer-debug.ts imported before puppeteer-core. Prints what puppeteer's logger factory hands out.
 */
import '../../src/puppeteer-debug.js';
import 'puppeteer-core';
import { importDebug } from 'puppeteer-core/internal/common/Debug.js';

const debug = (await importDebug()) as unknown as ((name: string) => unknown) & { enable: unknown };
const send = debug('puppeteer:protocol:SEND ►');
console.log(
  JSON.stringify({
    sameLoggerTwice: send === debug('puppeteer:protocol:SEND ►'),
    otherNameOtherLogger: send !== debug('puppeteer:protocol:RECV ◀'),
    enableReadThrough: typeof debug.enable === 'function',
  }),
);
