/**
 * One instance inside FC's budget whatever the pages do: the built function runs through the
 * `fc:local` harness in a cgroup with s.yaml's memory (1024 MB, swap included) and one vCPU, at
 * s.yaml's concurrency. Pages that eat memory (JS arrays, huge canvases, thousands of large images)
 * run next to ordinary full-page captures: the ordinary ones get their image, the hostile ones an
 * error, and the kernel never has to OOM-kill anything in the cgroup (on FC that ends the instance;
 * the harness kills the whole cgroup then, as FC would). Afterwards the same node and the same
 * Chromium serve the next request.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocal, type LocalFunction } from '../fc/harness/fc-local.js';
import { loadFunctionSpec } from '../fc/s-yaml.js';
import { startFixtures, tallPage, type FixtureServer } from './helpers/fixtures.js';
import { routeHostilePages } from './helpers/hostile-pages.js';
import { layerChromiumOf } from './helpers/processes.js';

let fixtures: FixtureServer;
let fn: LocalFunction;
const spec = loadFunctionSpec();
const concurrency = Number(spec.env.MAX_CONCURRENCY);

beforeAll(async () => {
  fixtures = await startFixtures({ '/ordinary': tallPage(6000) });
  await routeHostilePages(fixtures);
  fn = await startLocal({ port: 0, limits: true, extraEnv: { EGRESS_ALLOW: fixtures.allowEntry, LOG_LEVEL: 'info' } });
  // Chromium up and warm (on a loaded machine its launch at start can time out; a request relaunches it)
  expect((await shoot('/red', { width: '64', height: '64' })).status).toBe(200);
}, 120_000);

afterAll(async () => {
  const cgroup = fn?.cgroup;
  await fn?.stop();
  await fixtures?.close();
  if (cgroup) expect(existsSync(join('/sys/fs/cgroup/memory', cgroup.name))).toBe(false);
});

async function shoot(path: string, extra: Record<string, string> = {}) {
  const query = new URLSearchParams({ url: `${fixtures.origin}${path}`, ...extra });
  const res = await fetch(`http://127.0.0.1:${fn.port}/?${query}`);
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, body, json: res.status === 200 ? undefined : JSON.parse(body.toString()) };
}

/** Two hostile pages beside two ordinary full-page captures, all at once. */
async function hostileNextToOrdinary(hostile: string, extra: Record<string, string> = {}) {
  expect(fn.cgroup, 'the test needs a cgroup v1 with FC limits (root, /sys/fs/cgroup/memory)').toBeDefined();
  // four requests: at s.yaml's concurrency, those beyond it wait in the queue
  expect(concurrency + Number(spec.env.MAX_QUEUE)).toBeGreaterThanOrEqual(4);
  const node = fn.child.pid!;
  const chromium = await layerChromiumOf(fn);
  expect(chromium).toBeDefined();
  const [bombA, bombB, okA, okB] = await Promise.all([
    shoot(hostile, extra),
    shoot(hostile, extra),
    shoot('/ordinary', { fullPage: 'true' }),
    shoot('/ordinary', { fullPage: 'true' }),
  ]);
  const stats = fn.cgroup!.stats();
  expect(fn.oomKilled(), 'the instance was OOM-killed').toBeUndefined();
  expect(stats.oomKill, 'OOM kills in the cgroup').toBe(0);
  expect(stats.underOom).toBe(0);
  for (const ok of [okA, okB]) {
    expect(ok.status, JSON.stringify(ok.json)).toBe(200);
    const meta = await sharp(ok.body).metadata();
    expect([meta.width, meta.height]).toEqual([1280, 6000]);
  }
  // the same node and the same Chromium answer the next request
  expect(fn.child.exitCode).toBeNull();
  const next = await shoot('/red', { width: '64', height: '64' });
  expect(next.status).toBe(200);
  expect(fn.child.pid).toBe(node);
  expect(await layerChromiumOf(fn)).toBe(chromium);
  return [bombA, bombB];
}

describe(`inside ${spec.memorySize} MB and ${spec.cpu} vCPU at concurrency ${concurrency}`, () => {
  it('two pages growing JS arrays beside two ordinary captures: the bombs get a 502, the rest an image', async () => {
    for (const bomb of await hostileNextToOrdinary('/bomb-js')) {
      expect(bomb.status).toBe(502);
      expect(['page_too_large', 'renderer_crashed']).toContain(bomb.json.reason);
    }
    expect(fn.output()).toContain('page over the memory budget; renderer killed');
  }, 120_000);

  it('two pages painting 8192×8192 canvases: 502 page_too_large, never the instance', async () => {
    for (const bomb of await hostileNextToOrdinary('/bomb-canvas')) {
      expect(bomb.status).toBe(502);
      expect(bomb.json.reason).toBe('page_too_large');
    }
  }, 120_000);

  it('two pages with 2000 large images each: an answer for every request, the instance intact', async () => {
    for (const bomb of await hostileNextToOrdinary('/bomb-images', { timeout: '20000' })) {
      expect([200, 502, 504]).toContain(bomb.status);
    }
  }, 120_000);

  it('logs its budget: instance, reserve, base and each capture’s share', () => {
    const line = fn
      .output()
      .split('\n')
      .find((l) => l.includes('"memory budget"'));
    expect(line).toBeDefined();
    const budget = JSON.parse(line!);
    expect(budget.instanceMb).toBe(spec.memorySize);
    expect(budget.budgetMb).toBe(budget.instanceMb - budget.reserveMb);
    expect(budget.shareMb).toBe(Math.floor((budget.budgetMb - budget.baseMb) / concurrency));
    expect(budget.baseMb).toBeGreaterThan(20);
  });
});
