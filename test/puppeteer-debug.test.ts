/**
 * src/puppeteer-debug.ts on the ESM path (`npm start`, tsx): puppeteer, imported after it, makes one
 * logger per name rather than one per CDP message. The CommonJS bundle deployed to FC is checked over
 * a real launch and page in lifecycle.test.ts ("through the built function").
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('puppeteer debug loggers (ESM)', () => {
  it('puppeteer imported as ESM gets the same logger for the same name, and debug itself behind it', () => {
    const out = execFileSync(process.execPath, ['--import', 'tsx', 'test/helpers/debug-loggers.ts'], {
      encoding: 'utf8',
      env: { ...process.env, DEBUG: '' },
    });
    expect(JSON.parse(out)).toEqual({ sameLoggerTwice: true, otherNameOtherLogger: true, enableReadThrough: true });
  });
});
