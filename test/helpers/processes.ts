/** Finding the processes a test started. */
import { readFileSync, readlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { processTree, processTreeNow } from '../../src/browser/memory.js';
import type { LocalFunction } from '../../fc/harness/fc-local.js';

/** The Chromium browser process under a function run by the harness: the layer's binary, with its CDP pipe. */
export async function layerChromiumOf(fn: LocalFunction): Promise<number | undefined> {
  const binary = join(fn.layout.opt, 'chromium', 'chromium');
  return (await processTree(fn.child.pid!)).find((pid) => {
    try {
      return (
        readlinkSync(`/proc/${pid}/exe`) === binary &&
        readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('--remote-debugging-pipe')
      );
    } catch {
      return false; // it ended while we looked
    }
  });
}

const CHROMIUM = /fcshot-chromium|fc-local\/opt\/chromium|\/chromium\/chromium /;

/** A process's start time in clock ticks since boot (field 22 of /proc/PID/stat), with its command line. */
function identify(pid: number): { start: string; cmd: string; zombie: boolean } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    return { start: fields[19]!, cmd, zombie: fields[0] === 'Z' };
  } catch {
    return undefined; // it ended while we looked
  }
}

/**
 * The Chromiums this test run itself started: every so often the process tree under the vitest
 * process is walked and each Chromium in it remembered (pid and start time, so a reused pid is not
 * taken for it). A Chromium that outlives its test is orphaned, so it is no longer under vitest when
 * the run ends; having been seen there earlier is what marks it as ours. A Chromium started by anyone
 * else on the machine (`npm start` in another terminal) is never under vitest and never counted.
 * One that was started and orphaned within a single interval can be missed.
 */
export class SuiteChromiums {
  private seen = new Map<number, string>();
  /** The --user-data-dir (folder name) of each Chromium seen: the profile folders that are ours. */
  readonly profiles = new Set<string>();
  private timer: NodeJS.Timeout;

  constructor(
    private root = process.pid,
    intervalMs = 300,
  ) {
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  sample(): void {
    for (const pid of processTreeNow(this.root)) {
      if (pid === this.root || this.seen.has(pid)) continue;
      const id = identify(pid);
      if (!id || !CHROMIUM.test(id.cmd)) continue;
      this.seen.set(pid, id.start);
      const profile = /--user-data-dir=(\S+)/.exec(id.cmd)?.[1];
      if (profile) this.profiles.add(basename(profile));
    }
  }

  /** Ours that are still alive, and whatever they have started since: "pid command" lines. */
  alive(): string[] {
    clearInterval(this.timer);
    this.sample();
    const live = new Set<number>();
    for (const [pid, start] of this.seen) {
      const id = identify(pid);
      if (id && id.start === start && !id.zombie) {
        for (const p of processTreeNow(pid)) live.add(p);
      }
    }
    return [...live].flatMap((pid) => {
      const id = identify(pid);
      return id && !id.zombie ? [`${pid} ${id.cmd.slice(0, 120)}`] : [];
    });
  }
}
