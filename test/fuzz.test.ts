/**
 * Property-based: fast-check throws random and hostile values at every option, through GET, POST
 * and the FC event handler, against the real service (real Chromium for whatever passes
 * validation). Whatever comes in, the answer is never a 500 and never a hang: an image, or a JSON
 * error with a code and a message (and the field, for a 400). Failures shrink to a minimal input.
 */
import fc from 'fast-check';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OptionsSchema } from '../src/options.js';
import { startFixtures, type FixtureServer } from './helpers/fixtures.js';
import { binary, shutdownClean, startService, type TestService } from './helpers/service.js';

let fixtures: FixtureServer;
let svc: TestService;

beforeAll(async () => {
  fixtures = await startFixtures();
  // A DNS that knows no name: a fuzzed url never leaves the machine. A short deadline bounds waits.
  const resolve = async () => {
    throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
  };
  svc = await startService(
    { EGRESS_ALLOW: fixtures.allowEntry, REQUEST_TIMEOUT_MS: '6000', MAX_QUEUE: '100' },
    { resolve },
  );
});
afterAll(async () => {
  await shutdownClean(svc);
  await fixtures.close();
});

const FIELDS = Object.keys(OptionsSchema.properties);

/** Values that have broken parsers before: odd numbers, control characters, injections, sizes. */
const nasty = fc.constantFrom(
  'Infinity',
  '-Infinity',
  'NaN',
  '0x10',
  '0b11',
  '1e3',
  '1e309',
  '-1',
  '-0',
  '0',
  '1.5',
  ' 1',
  '1 ',
  '٣',
  '99999999999999999999',
  'true',
  'false',
  'null',
  'undefined',
  '[]',
  '{}',
  '{"a":1}',
  '[{"name":"a","value":"b"}]',
  '{"Host":"x"}',
  '{"X Bad":"v"}',
  '{"a":"b\\r\\nc"}',
  '\r\n',
  'a\r\nX-Injected: 1',
  '\u0000',
  '%00',
  '%',
  '%zz',
  '../../etc/passwd',
  'file:///etc/passwd',
  'javascript:alert(1)',
  'data:text/html,<h1>x',
  'http://169.254.169.254/',
  'http://[::1]/',
  'http://2130706433/',
  'ht!tp://x',
  '*'.repeat(300),
  `${'*a'.repeat(40)}*b`,
  'a'.repeat(5000),
  '<script>alert(1)</script>',
  '::',
  ':',
  ',',
  '0,0,0,0',
  '1,1,99999,1',
  'iPhone 15',
  'Pixel 7',
  'zz-ZZ',
  'Mars/Olympus',
);

/** A string value for a query: anything at all, biased to the nasty ones. */
const queryValue = fc.oneof(
  { weight: 3, arbitrary: nasty },
  { weight: 2, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
  { weight: 1, arbitrary: fc.integer({ min: -100_000, max: 100_000 }).map(String) },
);

/** A JSON value for a body: also numbers, booleans, null, arrays and objects. */
const bodyValue = fc.oneof(
  { weight: 3, arbitrary: queryValue },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  { weight: 1, arbitrary: fc.double() },
);

/** One to three options (now and then an unknown one), fuzzed on top of a capturable page. */
const optionsOf = <T>(value: fc.Arbitrary<T>) =>
  fc.dictionary(fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...FIELDS) }, fc.string({ maxLength: 8 })), value, {
    minKeys: 1,
    maxKeys: 3,
  });

// Captures that pass validation load a small page, and never wait long on a slow option.
const base = () => ({ url: `${fixtures.origin}/red`, width: '64', height: '48' });
const tame = (opts: Record<string, unknown>) => {
  const out: Record<string, unknown> = { ...base(), ...opts };
  if (Number(out.delay) > 300) out.delay = '300';
  return out;
};

interface Answer {
  status: number;
  type: string;
  body: Buffer;
}

function expectSound(answer: Answer, input: unknown): void {
  const where = JSON.stringify(input).slice(0, 300);
  expect(answer.status, where).not.toBe(500);
  if (answer.status === 200) {
    expect(answer.type, where).toMatch(/^(image\/|application\/pdf)/);
    expect(answer.body.length, where).toBeGreaterThan(0);
    return;
  }
  expect(answer.type, where).toMatch(/^application\/json/);
  const error = JSON.parse(answer.body.toString()) as { error?: unknown; message?: unknown; field?: unknown };
  expect(typeof error.error, where).toBe('string');
  expect(typeof error.message, where).toBe('string');
  if (answer.status === 400) expect(typeof error.field, where).toBe('string');
  // 5xx only for what the outside did: no such host (502), a page slower than the deadline (504).
  if (answer.status >= 500) expect([502, 504], where).toContain(answer.status);
}

/** FUZZ_RUNS=600 npx vitest run test/fuzz.test.ts: a longer hunt than CI's. */
const RUNS = { numRuns: Number(process.env.FUZZ_RUNS ?? 60), endOnFailure: true };
const timeoutMs = 180_000 * Math.max(1, RUNS.numRuns / 60);

describe('hostile input never reaches a 500 or a hang', () => {
  /** Options through the HTTP server: GET puts them in the query, POST in a JSON body. */
  const overHttp = (method: 'get' | 'post', values: fc.Arbitrary<unknown>) => async () => {
    await fc.assert(
      fc.asyncProperty(optionsOf(values), async (opts) => {
        const call = request(svc.app.server)[method]('/');
        const res = await (method === 'get' ? call.query(tame(opts)) : call.send(tame(opts)))
          .timeout(15_000)
          .buffer(true)
          .parse(binary);
        expectSound({ status: res.status, type: res.headers['content-type'] ?? '', body: res.body as Buffer }, opts);
      }),
      RUNS,
    );
  };

  it('GET query', overHttp('get', queryValue), timeoutMs);

  it('POST JSON body', overHttp('post', bodyValue), timeoutMs);

  it('left nothing behind: no capture file, no open browser context', async () => {
    await expect.poll(() => svc.leftovers(), { timeout: 5000 }).toEqual([]);
    expect(await svc.browser.openContexts()).toBe(0);
  });
});
