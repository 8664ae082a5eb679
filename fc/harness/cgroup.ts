/**
 * FC's limits on this machine: a cgroup (v1) with the instance's memory and CPU share, for the
 * `fc:local` harness, the tests and the benchmark.
 *
 * - memory: `memory.limit_in_bytes` = the function's memorySize, swap counted in the same limit
 *   (`memory.memsw.limit_in_bytes`, when the kernel has it) and swappiness 0: an FC instance has no
 *   swap to hide in. The kernel's OOM killer acts inside the cgroup when it is full; FC instead ends
 *   the whole instance, so `watchOom` kills every process of the cgroup as soon as the kernel reports
 *   an OOM kill there (`memory.oom_control`), like FC would.
 * - cpu: `cpu.cfs_quota_us` = `cpu.cfs_period_us` × vCPUs, i.e. at most that many CPUs' worth of
 *   time, however many cores the machine has.
 * - freezer (`freeze`/`thaw`, with `freezer: true`): FC freezes an instance whenever no request is
 *   running on it, and thaws it for the next; whatever the function left running after its response
 *   (a timer, a child process's work) stops until then. The harness does the same (fc-local.ts).
 *
 * The cgroup is made under the caller's own cgroup (so whatever limits the caller lives under still
 * apply), named `fcshot-<random>`, and removed by `remove()`, which first kills what is left in it
 * (empty ones a killed harness left behind are removed by the next `createCgroup`).
 * The process is put in before it runs anything (`wrap` starts it through `sh`, which joins the
 * cgroup and then execs): nothing it allocates is charged elsewhere.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = '/sys/fs/cgroup';

export interface CgroupLimits {
  /** Memory limit in MB (swap included). */
  memoryMb: number;
  /** CPUs' worth of time per period (FC: 1 at 1024 MB). */
  cpus?: number;
  /** Join a freezer cgroup too, so that `freeze` and `thaw` work. */
  freezer?: boolean;
}

export interface CgroupStats {
  /** Current charge, MB (page cache included). */
  usageMb: number;
  /** Highest charge seen, MB (`memory.max_usage_in_bytes`). */
  maxUsageMb: number;
  /** Times the charge hit the limit (`memory.failcnt`); reclaiming cache at the limit counts too. */
  failcnt: number;
  /** Processes the kernel's OOM killer ended in this cgroup. */
  oomKill: number;
  /** 1 while the cgroup is out of memory. */
  underOom: number;
  /** CPU time used by the cgroup's processes, ms (cpuacct, when mounted). */
  cpuMs?: number;
  /** Periods in which the cgroup was throttled (cpu.stat). */
  throttled?: number;
}

export interface Cgroup {
  name: string;
  limits: CgroupLimits;
  /** `cmd args` wrapped so the process joins this cgroup before it execs. */
  wrap(cmd: string, args: string[]): { cmd: string; args: string[] };
  stats(): CgroupStats;
  /** Pids in the cgroup now. */
  pids(): number[];
  /** Stops every process in it, as FC does between requests; resolves once all are frozen. */
  freeze(): Promise<void>;
  /** Lets them run again. */
  thaw(): void;
  /**
   * Polls the OOM counter; on the first OOM kill, kills every process in the cgroup (FC ends the
   * instance) and calls `onKill`. Returns a function that stops watching.
   */
  watchOom(onKill: (stats: CgroupStats) => void, everyMs?: number): () => void;
  /** Kills what is left, waits for the cgroup to empty, removes it. Safe to call twice. */
  remove(): Promise<void>;
}

/** Why no cgroup could be made here, for the caller to print. */
export class CgroupUnavailable extends Error {
  override name = 'CgroupUnavailable';
}

/** The caller's own cgroup path in a v1 hierarchy (`/proc/self/cgroup`), e.g. `/` or `/user.slice`. */
function ownPath(controller: string): string {
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const [, controllers, path] = line.split(':');
    if (controllers?.split(',').includes(controller)) return path || '/';
  }
  throw new CgroupUnavailable(`this process is in no ${controller} cgroup (v1)`);
}

const read = (file: string) => readFileSync(file, 'utf8').trim();
const readNum = (file: string) => Number(read(file));

/**
 * Removes cgroups of ours a harness killed outright (SIGKILL) left behind: empty, and older than a
 * minute (a fresh one is empty only for the moment before its process joins).
 */
function removeStale(parent: string): void {
  for (const entry of readdirSync(parent)) {
    if (!entry.startsWith('fcshot-')) continue;
    const dir = join(parent, entry);
    try {
      if (Date.now() - statSync(dir).mtimeMs > 60_000 && read(join(dir, 'cgroup.procs')) === '') rmdirSync(dir);
    } catch {
      // in use, or gone already
    }
  }
}

function makeDir(controller: string, name: string): string {
  const hierarchy = join(ROOT, controller);
  if (!existsSync(join(hierarchy, 'cgroup.procs'))) {
    throw new CgroupUnavailable(`no cgroup v1 ${controller} hierarchy at ${hierarchy}`);
  }
  const parent = join(hierarchy, ownPath(controller));
  removeStale(parent);
  const dir = join(parent, name);
  try {
    mkdirSync(dir);
  } catch (err) {
    throw new CgroupUnavailable(
      `cannot create ${dir}: ${(err as Error).message} (root and a writable cgroup v1 are needed)`,
    );
  }
  return dir;
}

/** Makes a cgroup with FC's limits, or throws CgroupUnavailable saying why not. */
export function createCgroup(limits: CgroupLimits): Cgroup {
  const name = `fcshot-${randomBytes(6).toString('hex')}`;
  const dirs: string[] = [];
  const memory = makeDir('memory', name);
  dirs.push(memory);
  let cpu: string | undefined;
  let cpuacct: string | undefined;
  let freezer: string | undefined;
  try {
    const bytes = String(limits.memoryMb * 1024 * 1024);
    writeFileSync(join(memory, 'memory.limit_in_bytes'), bytes);
    // memsw (memory + swap) must be set after the memory limit and be at least as high.
    if (existsSync(join(memory, 'memory.memsw.limit_in_bytes')))
      writeFileSync(join(memory, 'memory.memsw.limit_in_bytes'), bytes);
    writeFileSync(join(memory, 'memory.swappiness'), '0');
    if (limits.cpus) {
      cpu = makeDir('cpu', name);
      dirs.push(cpu);
      const period = readNum(join(cpu, 'cpu.cfs_period_us'));
      writeFileSync(join(cpu, 'cpu.cfs_quota_us'), String(Math.round(period * limits.cpus)));
    }
    if (existsSync(join(ROOT, 'cpuacct', 'cgroup.procs'))) {
      cpuacct = makeDir('cpuacct', name);
      dirs.push(cpuacct);
    }
    if (limits.freezer) {
      freezer = makeDir('freezer', name);
      dirs.push(freezer);
    }
  } catch (err) {
    for (const d of dirs.reverse()) rmdirSync(d);
    throw err;
  }
  const procsFiles = dirs.map((d) => join(d, 'cgroup.procs'));

  const pids = () => read(join(memory, 'cgroup.procs')).split('\n').filter(Boolean).map(Number);

  const stats = (): CgroupStats => {
    const oom = Object.fromEntries(
      read(join(memory, 'memory.oom_control'))
        .split('\n')
        .map((l) => l.split(' ')),
    );
    const mb = (f: string) => readNum(join(memory, f)) / 2 ** 20;
    const out: CgroupStats = {
      usageMb: mb('memory.usage_in_bytes'),
      maxUsageMb: mb('memory.max_usage_in_bytes'),
      failcnt: readNum(join(memory, 'memory.failcnt')),
      oomKill: Number(oom.oom_kill ?? 0),
      underOom: Number(oom.under_oom ?? 0),
    };
    if (cpuacct) out.cpuMs = readNum(join(cpuacct, 'cpuacct.usage')) / 1e6;
    if (cpu) out.throttled = Number(/nr_throttled (\d+)/.exec(read(join(cpu, 'cpu.stat')))?.[1] ?? 0);
    return out;
  };

  const freezerState = (state?: 'FROZEN' | 'THAWED') => {
    if (!freezer) throw new Error('this cgroup was made without a freezer');
    if (state) writeFileSync(join(freezer, 'freezer.state'), state);
    return read(join(freezer, 'freezer.state'));
  };

  const killAll = () => {
    for (const pid of pids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  };

  let removed = false;
  return {
    name,
    limits,
    wrap(cmd, args) {
      // sh joins every hierarchy (its children inherit it), then becomes the command.
      // Arguments: how many cgroup.procs files, the files, then the command.
      const script =
        'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 125; shift; n=$((n-1)); done; exec "$@"';
      return { cmd: '/bin/sh', args: ['-c', script, 'sh', String(procsFiles.length), ...procsFiles, cmd, ...args] };
    },
    stats,
    pids,
    async freeze() {
      freezerState('FROZEN');
      // FREEZING until every task has stopped; one that never does is given up on, thawed.
      for (const giveUp = Date.now() + 5000; freezerState() !== 'FROZEN'; ) {
        if (Date.now() > giveUp) {
          freezerState('THAWED');
          throw new Error('the cgroup did not freeze within 5 s');
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    },
    thaw() {
      freezerState('THAWED');
    },
    watchOom(onKill, everyMs = 100) {
      const timer = setInterval(() => {
        if (removed) return;
        const s = stats();
        if (s.oomKill > 0 || s.underOom > 0) {
          clearInterval(timer);
          killAll();
          onKill(s);
        }
      }, everyMs);
      timer.unref();
      return () => clearInterval(timer);
    },
    async remove() {
      if (removed) return;
      removed = true;
      if (freezer) freezerState('THAWED'); // a frozen process does not die until it runs again
      for (let attempt = 0; attempt < 50; attempt++) {
        killAll();
        if (pids().length === 0) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      for (const d of [...dirs].reverse()) {
        for (let attempt = 0; attempt < 20; attempt++) {
          try {
            rmdirSync(d);
            break;
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === 'ENOENT') break;
            await new Promise((r) => setTimeout(r, 100)); // EBUSY: the last exit is still being reaped
          }
        }
      }
    },
  };
}
