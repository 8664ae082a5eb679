/**
 * Around the whole suite: unpack the embedded Chromium once before any test file needs it, and
 * afterwards fail the run if a Chromium of ours or a capture file outlived the tests.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadConfig } from '../../src/config.js';
import { unpackEmbedded } from '../../src/browser/locate.js';
import { PROFILE_PREFIX } from '../../src/browser/browser.js';
import { buildAll } from '../../fc/layers/build.js';

/** When a process started, ms since the epoch (field 22 of /proc/PID/stat counts clock ticks since boot). */
function startedAt(pid: string): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  const bootMs = Date.now() - Number(readFileSync('/proc/uptime', 'latin1').split(' ')[0]) * 1000;
  return bootMs + ticks * 10; // USER_HZ is 100 on Linux
}

/** Chromiums started since `since`: older ones belong to another run on the same machine. */
function ourChromiums(since: number): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      const state = /State:\s+(\w)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      if (
        /fcshot-chromium|fc-local\/opt\/chromium|\/chromium\/chromium /.test(cmd) &&
        state !== 'Z' &&
        startedAt(pid) >= since
      )
        found.push(`${pid} ${cmd.slice(0, 120)}`);
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

/** Capture files and profile folders of ours made since `since` (older ones belong to other runs). */
const leftovers = (since: number) =>
  readdirSync(tmpdir()).filter(
    (f) =>
      (/^fcshot-[0-9a-f-]{36}\./.test(f) || f.startsWith(PROFILE_PREFIX)) &&
      statSync(join(tmpdir(), f)).mtimeMs >= since,
  );

export async function setup() {
  const suiteStart = Date.now() - 1000;
  await unpackEmbedded(loadConfig().embeddedChromiumDir);
  // The harness tests run the real artefacts: build them (cached, seconds when nothing changed).
  const started = Date.now();
  await buildAll({ log: () => undefined });
  console.log(`artefacts built for the harness tests in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return async function teardown() {
    await new Promise((r) => setTimeout(r, 500));
    const procs = ourChromiums(suiteStart);
    const files = leftovers(suiteStart);
    if (procs.length) throw new Error(`Chromium processes outlived the suite:\n${procs.join('\n')}`);
    if (files.length) throw new Error(`capture files or Chromium profiles left in ${tmpdir()}: ${files.join(', ')}`);
  };
}
