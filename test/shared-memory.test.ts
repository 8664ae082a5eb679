/**
 * Where Chromium's shared memory goes (src/browser/flags.ts, chooseSharedMemory), on the built function
 * with a /dev/shm of its own (a tmpfs in a mount namespace: fc/harness/fc-local.ts, withDevShm; root
 * only). A container's 64 MB sends it to files in the temp dir, and captures four at a time, full page,
 * still succeed; a /dev/shm with room takes it. Which one is read off Chromium's own mappings: its
 * shared memory regions are files named `.org.chromium.Chromium.*`, in /dev/shm or in the temp dir.
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocal, type LocalFunction } from '../fc/harness/fc-local.js';
import { chooseSharedMemory, devShmGrowth } from '../src/browser/flags.js';
import { anonMb, budgetFor, MemoryGuard, processTree } from '../src/browser/memory.js';
import { startFixtures, tallPage, type FixtureServer } from './helpers/fixtures.js';

const canMount = (() => {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync(
      'unshare',
      ['--mount', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs -o size=1m t /dev/shm'],
      {
        stdio: 'ignore',
      },
    );
    return true;
  } catch {
    return false;
  }
})();

let fixtures: FixtureServer;
beforeAll(async () => {
  fixtures = await startFixtures({ '/tall': tallPage(6000) });
});
afterAll(() => fixtures.close());

/** The folders of the shared memory files Chromium's processes have mapped right now. */
async function sharedMemoryFolders(fn: LocalFunction): Promise<Set<string>> {
  const folders = new Set<string>();
  for (const pid of await processTree(fn.child.pid!)) {
    try {
      for (const m of readFileSync(`/proc/${pid}/maps`, 'utf8').matchAll(/ (\S*)\/\.org\.chromium\.Chromium\.\S+/g))
        folders.add(m[1]!);
    } catch {
      // it ended while we looked
    }
  }
  return folders;
}

async function captureFourAtOnce(fn: LocalFunction): Promise<{ statuses: number[]; folders: Set<string> }> {
  const folders = new Set<string>();
  let capturing = true;
  const watching = (async () => {
    while (capturing) {
      for (const f of await sharedMemoryFolders(fn)) folders.add(f);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const url = `http://127.0.0.1:${fn.port}/?url=${encodeURIComponent(`${fixtures.origin}/tall`)}&fullPage=true`;
  const statuses = await Promise.all(
    Array.from({ length: 4 }, async () => {
      const res = await fetch(url);
      await res.arrayBuffer();
      return res.status;
    }),
  );
  capturing = false;
  await watching;
  return { statuses, folders };
}

/** Runs `check` on the built function started with a /dev/shm of `mb` MB of its own, and stops it. */
async function withDevShmOf(mb: number, check: (fn: LocalFunction) => Promise<void>): Promise<void> {
  const fn = await startLocal({
    port: 0,
    devShmMb: mb,
    extraEnv: { EGRESS_ALLOW: fixtures.allowEntry, LOG_LEVEL: 'info' },
  });
  try {
    await check(fn);
  } finally {
    expect(await fn.stop()).toBe(0);
  }
}

describe.skipIf(!canMount)('Chromium’s shared memory', () => {
  it(
    'with a 64 MB /dev/shm (a container’s): files in the temp dir, and four full-page captures at once succeed',
    () =>
      withDevShmOf(64, async (fn) => {
        expect(fn.output()).toMatch(/"sharedMemory":"temp-files","devShmFreeMb":64\b/);
        const { statuses, folders } = await captureFourAtOnce(fn);
        expect(statuses).toEqual([200, 200, 200, 200]);
        expect([...folders].length).toBeGreaterThan(0);
        expect([...folders].every((f) => !f.startsWith('/dev/shm'))).toBe(true);
      }),
    90_000,
  );

  it(
    'with a /dev/shm of 1 GB: /dev/shm',
    () =>
      withDevShmOf(1024, async (fn) => {
        expect(fn.output()).toMatch(/"sharedMemory":"dev-shm","devShmFreeMb":1024\b/);
        const { statuses, folders } = await captureFourAtOnce(fn);
        expect(statuses).toEqual([200, 200, 200, 200]);
        expect([...folders]).toEqual(['/dev/shm']);
      }),
    90_000,
  );
});

describe.skipIf(chooseSharedMemory(budgetFor(1024, 0, 1).budgetMb).where !== 'dev-shm')(
  'the memory guard and /dev/shm',
  () => {
    it('counts what was put in /dev/shm since Chromium started: 200 MB there take a page over its budget', async () => {
      // A stand-in renderer holding 16 MB.
      const page = spawn(process.execPath, [
        '-e',
        'const keep = Buffer.alloc(16 << 20, 1); setInterval(() => keep[0]++, 1000)',
      ]);
      const file = `/dev/shm/fcshot-test-guard-${process.pid}`;
      try {
        await new Promise((r) => setTimeout(r, 500));
        // A budget 100 MB above the tree as it is now (this process and the page).
        const now = anonMb(process.pid) + anonMb(page.pid!);
        let instanceMb = Math.ceil(now) + 100;
        while (budgetFor(instanceMb, 0, 1).budgetMb < now + 100) instanceMb += 1;
        const guard = new MemoryGuard({
          instanceMb,
          concurrency: 1,
          log: { info: () => undefined, warn: () => undefined },
        });
        guard.listProcesses = async () => [{ pid: page.pid!, type: 'renderer' }];
        guard.sharedMb = devShmGrowth(); // as src/browser/browser.ts sets it
        await guard.measureBase();
        guard.sample();
        expect(page.exitCode === null && page.signalCode === null).toBe(true); // within the budget: it lives
        const fd = openSync(file, 'w');
        const chunk = Buffer.alloc(1 << 20, 1);
        for (let i = 0; i < 200; i++) writeSync(fd, chunk);
        closeSync(fd);
        guard.sample();
        await new Promise((r) => page.once('exit', r));
        expect(page.signalCode).toBe('SIGKILL');
      } finally {
        page.kill('SIGKILL');
        rmSync(file, { force: true });
      }
    });
  },
);
