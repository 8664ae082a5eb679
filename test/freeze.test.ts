/**
 * FC freezes an instance whenever no request is running on it, until the next request comes
 * (its documentation: code left running after a response is suspended until then). The `fc:local`
 * harness does the same with a cgroup freezer (`freeze: true`), and the built function runs in it.
 * A tab being scrubbed to be kept for its site must not be left to a frozen instance: the scrub would
 * stop half done, run out of time as soon as the instance wakes, and the tab be lost. So the last
 * capture running waits for the scrubs in progress before it answers (FROZEN_WHEN_IDLE, on by
 * default on FC).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { layOut, type LocalLayout, startLocal, type LocalFunction } from '../fc/harness/fc-local.js';
import { startFixtures, type FixtureServer } from './helpers/fixtures.js';
import { capture, type TestService, withOwnService } from './helpers/service.js';

let fixtures: FixtureServer;
let layout: LocalLayout;

beforeAll(async () => {
  // A page whose pagehide handler holds its renderer 2.5 s: the scrub that replaces it takes that long.
  fixtures = await startFixtures({
    '/slow-to-leave': `<body style="background:#0f0"><script>addEventListener('pagehide', () => {
      const t = Date.now(); while (Date.now() - t < 2500);
    });</script></body>`,
  });
  layout = await layOut();
});
afterAll(async () => {
  await fixtures?.close();
});

async function withFrozenInstance(env: Record<string, string>, work: (fn: LocalFunction) => Promise<void>) {
  const fn = await startLocal({
    port: 0,
    freeze: true,
    layout,
    extraEnv: { EGRESS_ALLOW: fixtures.allowEntry, ...env },
  });
  try {
    await work(fn);
  } finally {
    await fn.stop();
  }
}

async function shoot(fn: LocalFunction) {
  const res = await fetch(`http://127.0.0.1:${fn.port}/?url=${encodeURIComponent(`${fixtures.origin}/red`)}`);
  await res.arrayBuffer();
  return { status: res.status, timing: res.headers.get('server-timing') ?? '' };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Longer than a scrub's own time limit (3 s). */
const IDLE_MS = 4000;

/** A service that tidies before answering, after one capture of the page whose tab takes 2.5 s to scrub. */
async function withSlowScrub(work: (svc: TestService, url: string) => Promise<void>) {
  await withOwnService(
    { EGRESS_ALLOW: fixtures.allowEntry, FROZEN_WHEN_IDLE: 'true', MAX_CONCURRENCY: '1' },
    async (svc) => {
      const url = `${fixtures.origin}/slow-to-leave`;
      await capture(svc, { url });
      await work(svc, url);
    },
  );
}

/** The `tidy` phase of an answer's Server-Timing, ms. */
const tidyMs = (res: { headers: Record<string, string> }) =>
  Number(/tidy;dur=([\d.]+)/.exec(res.headers['server-timing'] ?? '')?.[1]);

describe('an instance frozen between requests, as on FC', () => {
  it('runs nothing while no request runs, and answers the next one', async () => {
    await withFrozenInstance({}, async (fn) => {
      expect((await shoot(fn)).status).toBe(200);
      await sleep(300);
      const before = fn.cgroup!.stats().cpuMs!;
      await sleep(1500);
      expect(fn.cgroup!.stats().cpuMs! - before).toBe(0);
      expect((await shoot(fn)).status).toBe(200);
      await sleep(300);
      expect(fn.freezes!().count).toBeGreaterThanOrEqual(3); // after start-up and after each answer
    });
  });

  it('the last capture tidies up before it answers: the next capture of the site, however late, gets the warm tab', async () => {
    await withFrozenInstance({}, async (fn) => {
      await shoot(fn);
      await shoot(fn); // the site recurs: this tab is kept, and scrubbed before the answer
      await sleep(IDLE_MS);
      const late = await shoot(fn);
      expect(late.status).toBe(200);
      expect(late.timing).toMatch(/tidy;dur=/);
      expect(late.timing).toMatch(/page;desc=warm/);
    });
  });

  it('left to run after the answer, that work is lost to the freeze (FROZEN_WHEN_IDLE=false)', async () => {
    await withFrozenInstance({ FROZEN_WHEN_IDLE: 'false' }, async (fn) => {
      await shoot(fn);
      await shoot(fn);
      await sleep(IDLE_MS);
      const late = await shoot(fn);
      expect(late.status).toBe(200);
      expect(late.timing).not.toMatch(/tidy;dur=|page;desc=warm/);
    });
  });

  it('the wait is bounded: a scrub that takes longer holds the answer 1 s at most', async () => {
    await withSlowScrub(async (svc, url) => {
      const second = await capture(svc, { url }); // the site recurs: its tab is scrubbed, for 2.5 s
      expect(second.status).toBe(200);
      const tidy = tidyMs(second);
      expect(tidy).toBeGreaterThan(800);
      expect(tidy).toBeLessThan(1500);
    });
  });

  it('a capture that comes during the wait ends it: the instance stays awake, so the answer goes at once', async () => {
    await withSlowScrub(async (svc, url) => {
      // Started now (a supertest request starts when awaited): its tab will be scrubbed for 2.5 s.
      const first = Promise.resolve(capture(svc, { url }));
      for (let waited = 0; svc.browser.scrubsInProgress === 0; waited += 10) {
        expect(waited, 'the scrub never started').toBeLessThan(10_000);
        await sleep(10);
      }
      await sleep(100);
      const other = Promise.resolve(capture(svc, { url: `${fixtures.origin}/red`, width: '50', height: '50' }));
      const waited = await first;
      expect(waited.status).toBe(200);
      expect(tidyMs(waited)).toBeLessThan(700);
      expect((await other).status).toBe(200);
    });
  });
});
