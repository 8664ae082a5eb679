/**
 * The after-suite check counts only the Chromiums the suite itself started (test/helpers/processes.ts):
 * one that a test left behind is counted even after it was orphaned; one started by anyone else on the
 * machine (`npm start` in another terminal) is not. Stand-ins whose command line reads like our
 * Chromium's are used, so no browser is needed.
 */
import { spawn } from 'node:child_process';
import { afterAll, expect, it } from 'vitest';
import { SuiteChromiums } from './helpers/processes.js';

const started: number[] = [];
afterAll(() => {
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/**
 * Starts, through a parent that exits after `parentLivesMs`, a detached process whose command line
 * names /tmp/fcshot-chromium/…/chromium; returns its pid once its parent is gone (it is orphaned).
 */
async function orphanedChromium(parentLivesMs: number): Promise<number> {
  const script = `
    const { spawn } = require('node:child_process');
    const c = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)', '/tmp/fcshot-chromium/0/chromium', '--type=renderer'],
      { detached: true, stdio: 'ignore' });
    c.unref();
    console.log(c.pid);
    setTimeout(() => {}, ${parentLivesMs});`;
  const parent = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  parent.stdout.on('data', (d) => (out += d));
  await new Promise((r) => parent.on('close', r));
  const pid = Number(out.trim());
  started.push(pid);
  return pid;
}

it("counts an orphaned Chromium the suite started, and not another run's", async () => {
  // Someone else's: started and orphaned before this tracker (standing in for the suite) began.
  const foreign = await orphanedChromium(0);
  const tracker = new SuiteChromiums(process.pid, 100);
  // Ours: under this process long enough to be seen, then orphaned when its parent exits.
  const ours = await orphanedChromium(1000);
  const alive = tracker.alive().map((line) => Number(line.split(' ')[0]));
  expect(alive).toContain(ours);
  expect(alive).not.toContain(foreign);
  process.kill(ours, 'SIGKILL');
  await new Promise((r) => setTimeout(r, 200));
  expect(tracker.alive().map((line) => Number(line.split(' ')[0]))).not.toContain(ours);
});
