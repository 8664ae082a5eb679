/**
 * Memory does not grow with the number of requests. The built function runs through the `fc:local`
 * harness (s.yaml's environment, in a cgroup with 1024 MB and one vCPU where one can be made) and
 * takes SOAK_REQUESTS mixed requests at s.yaml's concurrency: ordinary captures in every format,
 * pages that hang or eat memory, refused destinations, bad options, clients that leave. Afterwards,
 * at rest, the function's whole process tree (node and Chromium, PSS) is within 1.3× of what it
 * was warm, before the mix.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocal, type LocalFunction } from '../fc/harness/fc-local.js';
import { loadFunctionSpec } from '../fc/s-yaml.js';
import { treePssMb } from '../src/browser/memory.js';
import { colourPage, startFixtures, type FixtureServer } from './helpers/fixtures.js';
import { jsBomb } from './helpers/hostile-pages.js';

const REQUESTS = Number(process.env.SOAK_REQUESTS ?? 240);
const concurrency = Number(loadFunctionSpec().env.MAX_CONCURRENCY);
let fixtures: FixtureServer;
let fn: LocalFunction;

beforeAll(async () => {
  fixtures = await startFixtures({
    '/article': colourPage('#fafafa', `<h1>Soak</h1><p>${'words '.repeat(800)}</p><img src="/red">`),
    '/hang': '<body><script>while (true) {}</script></body>',
    '/bomb': jsBomb,
  });
  fn = await startLocal({ port: 0, limits: true, extraEnv: { EGRESS_ALLOW: fixtures.allowEntry } });
}, 120_000);

afterAll(async () => {
  await fn?.stop();
  await fixtures?.close();
});

/** One request; a client that leaves early is aborted after `leaveAfterMs`. */
async function call(query: Record<string, string>, leaveAfterMs?: number): Promise<number> {
  const abort = new AbortController();
  if (leaveAfterMs) setTimeout(() => abort.abort(), leaveAfterMs);
  try {
    const res = await fetch(`http://127.0.0.1:${fn.port}/?${new URLSearchParams(query)}`, { signal: abort.signal });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0; // we left
  }
}

const page = (path: string) => `${fixtures.origin}${path}`;
const MIX: Array<() => Promise<number>> = [
  () => call({ url: page('/article') }),
  () => call({ url: page('/article'), fullPage: 'true', format: 'webp' }),
  () => call({ url: page('/article'), format: 'jpeg', width: '1920', height: '1080' }),
  () => call({ url: page('/hang'), timeout: '2000' }),
  () => call({ url: page('/bomb'), timeout: '3000' }),
  () => call({ url: 'http://127.0.0.1:1/' }),
  () => call({ width: 'wide' }),
  () => call({ url: page('/article'), format: 'pdf' }),
  () => call({ url: page('/article'), fullPage: 'true' }, 150),
];

async function warmPss(): Promise<number> {
  for (let i = 0; i < 8; i++) expect(await call({ url: page('/article') })).toBe(200);
  await new Promise((r) => setTimeout(r, 5000));
  return treePssMb(fn.child.pid!);
}

describe('memory after many mixed requests', () => {
  it(
    `settles within 1.3× of its warm size after ${REQUESTS} requests`,
    async () => {
      const warm = await warmPss();
      const statuses: number[] = [];
      let next = 0;
      const worker = async () => {
        while (next < REQUESTS) statuses.push(await MIX[next++ % MIX.length]!());
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
      expect(statuses).not.toContain(500);
      const after = await warmPss();
      console.log(`soak: ${REQUESTS} requests, PSS warm ${warm.toFixed(0)} MB, after ${after.toFixed(0)} MB`);
      expect(after / warm).toBeLessThanOrEqual(1.3);
    },
    15 * 60_000,
  );
});
