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
import { localProcess, type LocalLayout } from '../fc/harness/fc-local.js';
import { ROOT } from '../fc/paths.js';
import { loadFunctionSpec } from '../fc/s-yaml.js';
import { treePssMb } from '../src/browser/memory.js';

export const LEVELS = [1, 2, 4, 8];
/**
 * Captures per level: this many per concurrent client, at least MIN_PER_LEVEL. The launch-per-request
 * sample takes seconds a capture, so it gets fewer.
 */
export const PER_CLIENT = Number(process.env.BENCH_VCPU_PER_CLIENT ?? 6);
export const SEED_PER_CLIENT = Number(process.env.BENCH_VCPU_SEED_PER_CLIENT ?? 3);
export const MIN_PER_LEVEL = 6;
const DEADLINE_MS = 30_000;

export interface VcpuRow {
  name: 'service' | 'floor' | 'seed';
  concurrency: number;
  n: number;
  p50: number;
  p95: number;
  rps: number;
  cpuMsPerCapture?: number;
  /** The part of it spent in the node process (the rest is Chromium's). */
  nodeCpuMsPerCapture?: number;
  peakPssMb: number;
  cgroupPeakMb?: number;
  /** Share of requests slower than the deadline (or answered 504). */
  overDeadline: number;
  failed: number;
  oomKilled: boolean;
}

export interface VcpuRun {
  rows: VcpuRow[];
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

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

interface Confined {
  child: ChildProcess;
  cgroup?: Cgroup;
  oomKilled(): boolean;
  stop(): Promise<void>;
}

/** Starts `cmd args` confined: in a fresh FC-limits cgroup and on `core`. */
function startConfined(
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
  const child = spawn(run.cmd, run.args, {
    env: opts.env,
    cwd: opts.cwd,
    stdio: opts.ipc ? ['ignore', 'ignore', 'ignore', 'ipc'] : 'ignore',
  });
  let oom = false;
  cgroup?.watchOom(() => (oom = true));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child,
    cgroup,
    oomKilled: () => oom,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000)]);
      await cgroup?.remove();
    },
  };
}

async function waitForHttp(port: number, ms = 60_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try {
      await fetch(`http://127.0.0.1:${port}/healthz`);
      return;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(`port ${port} never answered`);
}

interface Outcome {
  latencies: number[];
  failed: number;
  over: number;
  wallMs: number;
}

/** Closed loop: `concurrency` clients, `n` requests in all. */
async function httpLoad(url: string, concurrency: number, n: number): Promise<Outcome> {
  const latencies: number[] = [];
  let failed = 0;
  let over = 0;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
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

async function withPeak<T>(pid: number, work: () => Promise<T>): Promise<{ result: T; peakMb: number }> {
  let peak = 0;
  let running = true;
  const sampler = (async () => {
    while (running) {
      peak = Math.max(peak, await treePssMb(pid).catch(() => 0));
      await sleep(250);
    }
  })();
  const result = await work();
  running = false;
  await sampler;
  return { result, peakMb: peak };
}

/** Runs one level on one confined process and turns it into a row. */
async function level(name: VcpuRow['name'], c: number, proc: Confined, work: () => Promise<Outcome>): Promise<VcpuRow> {
  const cpu0 = proc.cgroup?.stats().cpuMs;
  const node0 = processCpuMs(proc.child.pid!);
  const { result, peakMb } = await withPeak(proc.child.pid!, work);
  const stats = proc.cgroup?.stats();
  const node1 = processCpuMs(proc.child.pid!);
  const n = result.latencies.length + result.failed;
  const row: VcpuRow = {
    name,
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
    peakPssMb: peakMb,
    cgroupPeakMb: stats?.maxUsageMb,
    overDeadline: result.over / n,
    failed: result.failed,
    oomKilled: proc.oomKilled(),
  };
  console.log(
    `  ${name} @${c}: p50 ${row.p50.toFixed(0)} ms, p95 ${row.p95.toFixed(0)} ms, ${row.rps.toFixed(2)}/s, ` +
      `${row.cpuMsPerCapture?.toFixed(0) ?? '?'} CPU ms/capture (node ${row.nodeCpuMsPerCapture?.toFixed(0) ?? '?'}), PSS ${peakMb.toFixed(0)} MB, ` +
      `failed ${row.failed}${row.oomKilled ? ', OOM-killed' : ''}`,
  );
  return row;
}

const perLevel = (c: number, perClient = PER_CLIENT) => Math.max(MIN_PER_LEVEL, perClient * c);

/** The whole one-vCPU run on `url` (the article page). */
export async function measureOneVcpu(
  layout: LocalLayout,
  url: string,
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
  const onCore = taskset ? core : undefined;

  for (const c of LEVELS) {
    const port = await freePort();
    const { cmd, args, env, cwd } = localProcess(layout, port, {
      EGRESS_ALLOW: allow,
      LOG_LEVEL: 'warn',
      RECYCLE_AFTER: '0',
      MAX_CONCURRENCY: String(c),
      MAX_QUEUE: '16',
    });
    const svc = startConfined(cmd, args, { env, cwd, core: onCore, memoryMb });
    try {
      await waitForHttp(port);
      const target = `http://127.0.0.1:${port}/?url=${encodeURIComponent(url)}`;
      await httpLoad(target, 1, 2);
      rows.push(await level('service', c, svc, () => httpLoad(target, c, perLevel(c))));
    } finally {
      await svc.stop();
    }
  }

  for (const c of LEVELS) {
    const floor = startConfined(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'bench/floor.ts'), join(layout.opt, 'chromium/chromium'), join(layout.opt, 'lib')],
      {
        env: process.env,
        core: onCore,
        ipc: true,
        memoryMb,
      },
    );
    try {
      await new Promise((r) => floor.child.once('message', r));
      const ask = (n: number, concurrency: number) =>
        new Promise<Outcome>((resolve) => {
          const onExit = () => resolve({ latencies: [], failed: n, over: 0, wallMs: 1 });
          floor.child.once('exit', onExit);
          floor.child.once('message', (m) => {
            floor.child.off('exit', onExit);
            const { latencies, failures, wallMs } = m as { latencies: number[]; failures: number; wallMs: number };
            resolve({ latencies, failed: failures, over: latencies.filter((l) => l > DEADLINE_MS).length, wallMs });
          });
          floor.child.send({ n, concurrency, url });
        });
      await ask(2, 1);
      rows.push(await level('floor', c, floor, () => ask(perLevel(c), c)));
      if (floor.child.connected) floor.child.send('exit');
    } finally {
      await floor.stop();
    }
  }

  for (const c of LEVELS) {
    const port = await freePort();
    const seedTmp = mkdtempSync(join(tmpdir(), 'bench-seed-'));
    const seed = startConfined(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/seed-server.ts')], {
      env: { ...process.env, PORT: String(port), TMPDIR: seedTmp },
      core: onCore,
      memoryMb,
    });
    try {
      await waitForHttp(port);
      const target = `http://127.0.0.1:${port}/?url=${encodeURIComponent(url)}`;
      await httpLoad(target, 1, 1);
      rows.push(await level('seed', c, seed, () => httpLoad(target, c, perLevel(c, SEED_PER_CLIENT))));
    } finally {
      await seed.stop();
      rmSync(seedTmp, { recursive: true, force: true });
    }
  }
  if (taskset) execFileSync('taskset', ['-a', '-p', '-c', `0-${core}`, String(process.pid)], { stdio: 'ignore' });
  return { rows, confinement, core, loadBefore, loadAfter: loadavg(), memoryMb };
}

/** Load of the machine as `uptime` says, for the report. */
export const machineLoad = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(', ');
