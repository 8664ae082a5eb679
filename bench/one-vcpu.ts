/**
 * The benchmark's run "as on FC": every system under test in a cgroup of its own with s.yaml's
 * memory (1 GB, swap included, killed whole on OOM like an FC instance; fc/harness/cgroup.ts) and one
 * vCPU (cfs quota = one period), and also pinned with `taskset` to one core, the machine's last (the
 * benchmark's own client is moved to the other cores, so it does not take that core's time).
 * For the service, the raw-CDP floor and the launch-per-request sample, at concurrency 1, 2, 4 and 8,
 * each level in a freshly started process: p50/p95, captures/s, CPU per capture (cpuacct), peak PSS,
 * the cgroup's peak charge, the share of requests that passed the 30 s deadline, failures.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCgroup, CgroupUnavailable, type Cgroup } from '../fc/harness/cgroup.js';
import { localProcess, withDevShm, type LocalLayout } from '../fc/harness/fc-local.js';
import { ROOT } from '../fc/paths.js';
import { loadFunctionSpec } from '../fc/s-yaml.js';
import { chooseSharedMemory, type SharedMemory } from '../src/browser/flags.js';
import { budgetFor, processTree, pssKb } from '../src/browser/memory.js';
import { ownNode } from './own-node.js';

export const LEVELS = [1, 2, 4, 8];
/**
 * Captures per level: this many per concurrent client, at least MIN_PER_LEVEL. The launch-per-request
 * sample takes seconds a capture, so it gets fewer.
 */
export const PER_CLIENT = Number(process.env.BENCH_VCPU_PER_CLIENT ?? 6);
/** Rounds of the service and the floor at MANY_SITES_CONCURRENCY, one site and many (the first included). */
export const HEADLINE_ROUNDS = Number(process.env.BENCH_VCPU_ROUNDS ?? 3);
export const SEED_PER_CLIENT = Number(process.env.BENCH_VCPU_SEED_PER_CLIENT ?? 3);
export const MIN_PER_LEVEL = 6;
/** Captures per concurrent client before a level is measured, the service's and the floor's alike. */
export const WARM_UP_PER_CLIENT = 2;
const DEADLINE_MS = 30_000;

export interface VcpuRow {
  name: 'service' | 'floor' | 'seed';
  /** One site captured over and over, or every capture of another site than the last ones. */
  sites: 'one' | 'many';
  /** The service's WARM_TABS when it was not the default (MAX_CONCURRENCY). */
  warmTabs?: number;
  /** The service ran with a /dev/shm of this size of its own (the rest: the machine's). */
  devShmMb?: number;
  /** Set on the repeated rounds at MANY_SITES_CONCURRENCY (the first round is the tables' row). */
  round?: number;
  concurrency: number;
  n: number;
  p50: number;
  p95: number;
  rps: number;
  cpuMsPerCapture?: number;
  /** The part of it spent in the node process (the rest is Chromium's). */
  nodeCpuMsPerCapture?: number;
  /** CPU ms per capture by process: node, and Chromium's browser, renderers, GPU, utility processes. */
  split?: Partial<Record<Kind, number>>;
  peakPssMb: number;
  /** The peak's PSS by kind of process (as `split`), MB: the sample where the sum was highest. */
  peakSplit?: Partial<Record<Kind, number>>;
  cgroupPeakMb?: number;
  /** Share of requests slower than the deadline (or answered 504). */
  overDeadline: number;
  failed: number;
  oomKilled: boolean;
}

export interface VcpuRun {
  rows: VcpuRow[];
  /** Where the service's Chromium kept its shared memory in `rows` (src/browser/flags.ts). */
  sharedMemory: SharedMemory;
  /**
   * The service at MANY_SITES_CONCURRENCY with a container's 64 MB /dev/shm (its shared memory in
   * files in /tmp), one site and many, beside the same service on the machine's /dev/shm, in turn.
   */
  smallDevShm: VcpuRow[];
  confinement: string;
  core: number;
  loadBefore: number[];
  loadAfter: number[];
  memoryMb: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

export function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export interface Confined {
  child: ChildProcess;
  cgroup?: Cgroup;
  oomKilled(): boolean;
  /** The last few KB the process wrote to stderr: why it failed, when it did. */
  stderrTail(): string;
  stop(): Promise<void>;
}

const STDERR_TAIL = 4096;

/** Starts `cmd args` confined: in a fresh FC-limits cgroup and on `core`. */
export function startConfined(
  cmd: string,
  args: string[],
  opts: { env: NodeJS.ProcessEnv; cwd?: string; core?: number; ipc?: boolean; memoryMb: number },
): Confined {
  let cgroup: Cgroup | undefined;
  try {
    cgroup = createCgroup({ memoryMb: opts.memoryMb, cpus: 1 });
  } catch (err) {
    if (!(err instanceof CgroupUnavailable)) throw err;
  }
  const pinned =
    opts.core === undefined ? { cmd, args } : { cmd: 'taskset', args: ['-c', String(opts.core), cmd, ...args] };
  const run = cgroup ? cgroup.wrap(pinned.cmd, pinned.args) : pinned;
  return watched(run.cmd, run.args, opts, cgroup);
}

/** Starts `cmd args` as it is, on the machine's cores (the two-core runs): the same handle, no cgroup. */
export function startFree(cmd: string, args: string[], opts: { env: NodeJS.ProcessEnv; cwd?: string }): Confined {
  return watched(cmd, args, opts);
}

function watched(
  cmd: string,
  args: string[],
  opts: { env: NodeJS.ProcessEnv; cwd?: string; ipc?: boolean },
  cgroup?: Cgroup,
): Confined {
  const child = spawn(cmd, args, {
    env: opts.env,
    cwd: opts.cwd,
    stdio: opts.ipc ? ['ignore', 'ignore', 'pipe', 'ipc'] : ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-STDERR_TAIL);
  });
  let oom = false;
  cgroup?.watchOom(() => (oom = true));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child,
    cgroup,
    oomKilled: () => oom,
    stderrTail: () => stderr,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000)]);
      await cgroup?.remove();
    },
  };
}

/** The service's process exited before it answered: its exit and the end of its stderr. */
class ExitedBeforeReady extends Error {
  constructor(
    port: number,
    readonly stderr: string,
    exit: string,
  ) {
    super(`the process for port ${port} exited (${exit}) before it answered:\n${stderr.trim() || '(no stderr)'}`);
  }
}

/** Until `svc` answers /healthz on `port`; fails at once, and says why, if it exits first. */
async function waitForHttp(svc: Confined, port: number, ms = 60_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const { exitCode, signalCode } = svc.child;
    if (exitCode !== null || signalCode !== null) {
      // Its last words may still be in the pipe.
      await sleep(100);
      throw new ExitedBeforeReady(port, svc.stderrTail(), signalCode ?? `code ${exitCode}`);
    }
    try {
      await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2000) });
      return;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(`port ${port} never answered in ${ms / 1000} s:\n${svc.stderrTail().trim() || '(no stderr)'}`);
}

/**
 * Starts a server with `start` on a free port and waits until it answers. `freePort` gives a port
 * that was free a moment ago, and the client's own connections take ephemeral ports from the same
 * range: a server that found its port taken meanwhile is started again on another.
 */
export async function startListening(
  freePort: () => Promise<number>,
  start: (port: number) => Confined,
): Promise<{ svc: Confined; port: number }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const svc = start(port);
    try {
      await waitForHttp(svc, port);
      return { svc, port };
    } catch (err) {
      await svc.stop();
      if (!(err instanceof ExitedBeforeReady && err.stderr.includes('EADDRINUSE') && attempt < 3)) throw err;
    }
  }
}

interface Outcome {
  latencies: number[];
  failed: number;
  over: number;
  wallMs: number;
}

/** Closed loop: `concurrency` clients, `n` requests in all, to `urls` in turn. */
export async function httpLoad(urls: string[], concurrency: number, n: number): Promise<Outcome> {
  const latencies: number[] = [];
  let failed = 0;
  let over = 0;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const url = urls[next % urls.length]!;
        next += 1;
        const t0 = performance.now();
        try {
          const res = await fetch(url, { signal: AbortSignal.timeout(DEADLINE_MS * 2) });
          await res.arrayBuffer();
          const ms = performance.now() - t0;
          if (res.status === 504 || ms > DEADLINE_MS) over += 1;
          if (res.status === 200) latencies.push(ms);
          else failed += 1;
        } catch {
          failed += 1;
          if (performance.now() - t0 > DEADLINE_MS) over += 1;
        }
      }
    }),
  );
  return { latencies, failed, over, wallMs: performance.now() - started };
}

/** CPU time (user + system) a process has used so far, ms; undefined once it is gone. */
function processCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10; // utime + stime, in clock ticks of 10 ms
  } catch {
    return undefined;
  }
}

/** The kinds of process the CPU and PSS splits count, in table order. */
export const KINDS = ['node', 'browser', 'renderer', 'GPU', 'utility', 'zygote', 'other'] as const;
export type Kind = (typeof KINDS)[number];

/** Chromium's --type values that name their kind (a zygote's is decided by its parent). */
const BY_TYPE: Record<string, Kind> = { 'gpu-process': 'GPU', utility: 'utility', renderer: 'renderer' };

/**
 * What each process under `root` is, from its command line (Chromium's --type): the GPU and utility
 * processes say so, and so do renderers; a child of a zygote that still carries the zygote's command
 * line is a renderer too. A kind is remembered once the process has said what it is, by pid and start
 * time (a pid taken again is another process); a process without a --type of its own (the browser, a
 * child caught between its fork and its exec, a zygote's child not yet retitled) is looked at again
 * every time.
 */
class ProcessKinds {
  private readonly known = new Map<string, Kind>();

  constructor(private readonly root: number) {}

  of(pid: number): Kind {
    if (pid === this.root) return 'node';
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const key = `${pid}:${fields[19]}`; // field 22, the start time
      const cached = this.known.get(key);
      if (cached) return cached;
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
      const type = /--type=([\w-]+)/.exec(cmd)?.[1];
      if (!type) return cmd.includes('chrom') ? 'browser' : 'other';
      if (type === 'zygote' && this.of(Number(fields[1])) === 'zygote') return 'renderer';
      const kind = BY_TYPE[type] ?? (type === 'zygote' ? 'zygote' : 'other');
      this.known.set(key, kind);
      return kind;
    } catch {
      return 'other';
    }
  }
}

/**
 * CPU by kind of process in `cgroup` while `work` runs: every process's CPU time read every 50 ms,
 * the last reading of one that ended counted (at most 50 ms of it missed).
 */
async function withSplit<T>(cgroup: Cgroup | undefined, root: number, work: () => Promise<T>) {
  const classify = new ProcessKinds(root);
  /** Each process's kind when last read (a process that ended keeps it). */
  const kinds = new Map<number, Kind>();
  const first = new Map<number, number>();
  const last = new Map<number, number>();
  /** `atStart`: what a process has used so far is not counted; a process seen later counts from 0. */
  const read = (atStart = false) => {
    for (const pid of cgroup ? cgroup.pids() : [root]) {
      const ms = processCpuMs(pid);
      if (ms === undefined) continue;
      kinds.set(pid, classify.of(pid));
      if (!first.has(pid)) first.set(pid, atStart ? ms : 0);
      last.set(pid, ms);
    }
  };
  read(true);
  let running = true;
  const sampler = (async () => {
    while (running) {
      await sleep(50);
      read();
    }
  })();
  const result = await work();
  running = false;
  await sampler;
  read();
  const split: Partial<Record<Kind, number>> = {};
  for (const [pid, ms] of last) {
    const kind = kinds.get(pid)!;
    split[kind] = (split[kind] ?? 0) + ms - (first.get(pid) ?? 0);
  }
  return { result, split };
}

/**
 * Peak PSS of the process tree at `root` while `work` runs (sampled every `everyMs`), and how the
 * sample with the highest sum divides it by kind of process.
 */
export async function withPeak<T>(
  root: number,
  work: () => Promise<T>,
  everyMs = 250,
): Promise<{ result: T; peakMb: number; peakSplit?: Partial<Record<Kind, number>> }> {
  const classify = new ProcessKinds(root);
  let peak = 0;
  let peakSplit: Partial<Record<Kind, number>> | undefined;
  const sample = async () => {
    const tree = await processTree(root);
    const kinds = tree.map((pid) => classify.of(pid));
    const kb = await Promise.all(tree.map(pssKb));
    const total = kb.reduce((a, b) => a + b, 0) / 1024;
    if (total <= peak) return;
    const split: Partial<Record<Kind, number>> = {};
    kinds.forEach((kind, i) => {
      split[kind] = (split[kind] ?? 0) + kb[i]! / 1024;
    });
    [peak, peakSplit] = [total, split];
  };
  let running = true;
  const sampler = (async () => {
    while (running) {
      await sample().catch(() => undefined);
      await sleep(everyMs);
    }
  })();
  const result = await work();
  running = false;
  await sampler;
  return { result, peakMb: peak, peakSplit };
}

/** Runs one level on one confined process and turns it into a row. */
async function level(
  name: VcpuRow['name'],
  c: number,
  proc: Confined,
  work: () => Promise<Outcome>,
  sites: VcpuRow['sites'] = 'one',
): Promise<VcpuRow> {
  const cpu0 = proc.cgroup?.stats().cpuMs;
  const node0 = processCpuMs(proc.child.pid!);
  const {
    result: { result, peakMb, peakSplit },
    split,
  } = await withSplit(proc.cgroup, proc.child.pid!, () => withPeak(proc.child.pid!, work));
  const stats = proc.cgroup?.stats();
  const node1 = processCpuMs(proc.child.pid!);
  const n = result.latencies.length + result.failed;
  const perCapture = Math.max(1, result.latencies.length);
  const row: VcpuRow = {
    name,
    sites,
    concurrency: c,
    n,
    p50: pct(result.latencies, 50),
    p95: pct(result.latencies, 95),
    rps: result.latencies.length / (result.wallMs / 1000),
    cpuMsPerCapture:
      stats?.cpuMs !== undefined && cpu0 !== undefined
        ? (stats.cpuMs - cpu0) / Math.max(1, result.latencies.length)
        : undefined,
    nodeCpuMsPerCapture:
      node0 !== undefined && node1 !== undefined ? (node1 - node0) / Math.max(1, result.latencies.length) : undefined,
    split: Object.fromEntries(Object.entries(split).map(([kind, ms]) => [kind, ms / perCapture])),
    peakPssMb: peakMb,
    peakSplit,
    cgroupPeakMb: stats?.maxUsageMb,
    overDeadline: result.over / n,
    failed: result.failed,
    oomKilled: proc.oomKilled(),
  };
  console.log(
    `  ${name}${sites === 'many' ? ' (many sites)' : ''} @${c}: p50 ${row.p50.toFixed(0)} ms, p95 ${row.p95.toFixed(0)} ms, ${row.rps.toFixed(2)}/s, ` +
      `${row.cpuMsPerCapture?.toFixed(0) ?? '?'} CPU ms/capture (node ${row.nodeCpuMsPerCapture?.toFixed(0) ?? '?'}), PSS ${peakMb.toFixed(0)} MB, ` +
      `failed ${row.failed}${row.oomKilled ? ', OOM-killed' : ''}; split ${JSON.stringify(row.split, (_k, v) => (typeof v === 'number' ? Math.round(v) : v))}`,
  );
  return row;
}

const perLevel = (c: number, perClient = PER_CLIENT) => Math.max(MIN_PER_LEVEL, perClient * c);

/** Where and how the systems run: the layers, the measured core, the memory, free ports. */
export interface Setup {
  layout: LocalLayout;
  allow: string;
  freePort: () => Promise<number>;
  core?: number;
  memoryMb: number;
}

/** The service at concurrency `c` in a process of its own, capturing `urls` in turn. */
export async function runService(
  setup: Setup,
  c: number,
  urls: string[],
  sites: VcpuRow['sites'],
  opts: {
    warmTabs?: number;
    extraEnv?: Record<string, string>;
    /** A /dev/shm of this size of the service's own (fc/harness/fc-local.ts, withDevShm). */
    devShmMb?: number;
  } = {},
): Promise<VcpuRow> {
  const { warmTabs, extraEnv = {}, devShmMb } = opts;
  const { svc, port } = await startListening(setup.freePort, (port) => {
    const local = localProcess(setup.layout, port, {
      EGRESS_ALLOW: setup.allow,
      LOG_LEVEL: 'warn',
      RECYCLE_AFTER: '0',
      MAX_CONCURRENCY: String(c),
      MAX_QUEUE: '16',
      // Never frozen here (requests keep coming): the low-traffic run (frozen.ts) measures the freeze.
      FROZEN_WHEN_IDLE: 'false',
      ...(warmTabs === undefined ? {} : { WARM_TABS: String(warmTabs) }),
      ...extraEnv,
    });
    const { env, cwd } = local;
    const { cmd, args } = devShmMb === undefined ? local : withDevShm(local.cmd, local.args, devShmMb);
    return startConfined(cmd, args, { env, cwd, core: setup.core, memoryMb: setup.memoryMb });
  });
  try {
    const targets = urls.map((url) => `http://127.0.0.1:${port}/?url=${encodeURIComponent(url)}`);
    // Warmed up at the level's concurrency: what is measured is the steady state, where the service
    // has a tab per client (the first captures at a new concurrency open them).
    const warmUp = WARM_UP_PER_CLIENT * c;
    await httpLoad(targets, c, warmUp);
    const measured = after(targets, warmUp);
    const row = await level('service', c, svc, () => httpLoad(measured, c, perLevel(c)), sites);
    return { ...row, ...(warmTabs === undefined ? {} : { warmTabs }), ...(devShmMb === undefined ? {} : { devShmMb }) };
  } finally {
    await svc.stop();
  }
}

/**
 * `urls` in turn from where `done` captures left off: the measured captures go on with the warm-up's
 * turn, so with many sites none comes up again sooner than the turn says.
 */
const after = (urls: string[], done: number) => [
  ...urls.slice(done % urls.length),
  ...urls.slice(0, done % urls.length),
];

/** The raw-CDP floor at concurrency `c` in a process of its own, capturing `urls` in turn. */
export async function runFloor(setup: Setup, c: number, urls: string[], sites: VcpuRow['sites']): Promise<VcpuRow> {
  const { layout } = setup;
  const floor = startConfined(
    ownNode(layout, 'floor'),
    ['--import', 'tsx', join(ROOT, 'bench/floor.ts'), join(layout.opt, 'chromium/chromium'), join(layout.opt, 'lib')],
    { env: process.env, core: setup.core, ipc: true, memoryMb: setup.memoryMb },
  );
  try {
    await new Promise((r) => floor.child.once('message', r));
    const ask = (n: number, concurrency: number, urls: string[]) =>
      new Promise<Outcome>((resolve) => {
        const onExit = () => resolve({ latencies: [], failed: n, over: 0, wallMs: 1 });
        floor.child.once('exit', onExit);
        floor.child.once('message', (m) => {
          floor.child.off('exit', onExit);
          const { latencies, failures, wallMs } = m as { latencies: number[]; failures: number; wallMs: number };
          resolve({ latencies, failed: failures, over: latencies.filter((l) => l > DEADLINE_MS).length, wallMs });
        });
        floor.child.send({ n, concurrency, urls });
      });
    const warmUp = WARM_UP_PER_CLIENT * c;
    await ask(warmUp, c, urls);
    const row = await level('floor', c, floor, () => ask(perLevel(c), c, after(urls, warmUp)), sites);
    if (floor.child.connected) floor.child.send('exit');
    return row;
  } finally {
    await floor.stop();
  }
}

/** The concurrency the run with every capture of another site is made at (s.yaml's). */
export const MANY_SITES_CONCURRENCY = 4;

/**
 * The whole one-vCPU run: `url` (the article page) at every level for the service, the floor and the
 * launch-per-request sample; then, at MANY_SITES_CONCURRENCY, the service and the floor on `siteUrls`
 * (the same page on other sites, taken in turn: every capture of another site than the last ones).
 */
export async function measureOneVcpu(
  layout: LocalLayout,
  url: string,
  siteUrls: string[],
  allow: string,
  freePort: () => Promise<number>,
): Promise<VcpuRun> {
  const memoryMb = loadFunctionSpec().memorySize;
  const cores = cpus().length;
  const taskset = hasTaskset() && cores > 1;
  const core = cores - 1;
  let cgroupOk = true;
  try {
    await createCgroup({ memoryMb, cpus: 1 }).remove();
  } catch (err) {
    if (!(err instanceof CgroupUnavailable)) throw err;
    cgroupOk = false;
    console.error(`one-vCPU run WITHOUT a cgroup (${err.message}); taskset only`);
  }
  // The client (this process) keeps off the measured core.
  if (taskset) execFileSync('taskset', ['-a', '-p', '-c', `0-${core - 1}`, String(process.pid)], { stdio: 'ignore' });
  const confinement = [
    cgroupOk
      ? `a cgroup of its own with ${memoryMb} MB (swap included) and one vCPU (cpu.cfs_quota_us = cpu.cfs_period_us)`
      : '',
    taskset ? `pinned to core ${core} with taskset` : '',
  ]
    .filter(Boolean)
    .join(', and ');
  const loadBefore = loadavg();
  const rows: VcpuRow[] = [];
  const setup: Setup = { layout, allow, freePort, core: taskset ? core : undefined, memoryMb };

  // Service and floor level by level, so the machine's load drifts little between the two.
  for (const c of LEVELS) {
    rows.push(await runService(setup, c, [url], 'one'));
    rows.push(await runFloor(setup, c, [url], 'one'));
  }
  // Without warm tabs: the memory a capture can count on (warm tabs give theirs up under pressure).
  rows.push(await runService(setup, 1, [url], 'one', { warmTabs: 0 }));

  for (const c of LEVELS) {
    const seedTmp = mkdtempSync(join(tmpdir(), 'bench-seed-'));
    const started = startListening(freePort, (port) =>
      startConfined(ownNode(layout, 'seed'), ['--import', 'tsx', join(ROOT, 'bench/seed-server.ts')], {
        env: { ...process.env, PORT: String(port), TMPDIR: seedTmp },
        core: setup.core,
        memoryMb,
      }),
    );
    const { svc: seed, port } = await started.catch((err) => {
      rmSync(seedTmp, { recursive: true, force: true });
      throw err;
    });
    try {
      const target = `http://127.0.0.1:${port}/?url=${encodeURIComponent(url)}`;
      await httpLoad([target], 1, 1);
      rows.push(await level('seed', c, seed, () => httpLoad([target], c, perLevel(c, SEED_PER_CLIENT))));
    } finally {
      await seed.stop();
      rmSync(seedTmp, { recursive: true, force: true });
    }
  }

  rows.push(await runService(setup, MANY_SITES_CONCURRENCY, siteUrls, 'many'));
  rows.push(await runFloor(setup, MANY_SITES_CONCURRENCY, siteUrls, 'many'));
  // The headline pairs again, in turn floor first and service first, for ratios less at the mercy of
  // one moment's load on a shared machine.
  const c = MANY_SITES_CONCURRENCY;
  for (let round = 2; round <= HEADLINE_ROUNDS; round++) {
    for (const [sites, urls] of [
      ['one', [url]],
      ['many', siteUrls],
    ] as const) {
      const pair = [() => runService(setup, c, [...urls], sites), () => runFloor(setup, c, [...urls], sites)];
      if (round % 2 === 0) pair.reverse();
      for (const run of pair) rows.push({ ...(await run()), round });
    }
  }
  // Where /dev/shm is a container's 64 MB, Chromium's shared memory goes to files in /tmp: that
  // service beside this one, in turn.
  const smallDevShm: VcpuRow[] = [];
  if (cgroupOk && process.getuid?.() === 0) {
    for (const [sites, urls] of [
      ['one', [url]],
      ['many', siteUrls],
    ] as const) {
      smallDevShm.push(await runService(setup, c, [...urls], sites, { devShmMb: 64 }));
      smallDevShm.push(await runService(setup, c, [...urls], sites));
    }
  }
  if (taskset) execFileSync('taskset', ['-a', '-p', '-c', `0-${core}`, String(process.pid)], { stdio: 'ignore' });
  return {
    rows,
    sharedMemory: chooseSharedMemory(budgetFor(memoryMb, 0, 1).budgetMb),
    smallDevShm,
    confinement,
    core,
    loadBefore,
    loadAfter: loadavg(),
    memoryMb,
  };
}

/** Load of the machine as `uptime` says, for the report. */
export const machineLoad = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(', ');
