/**
 * The "one vCPU and 1 GB, as on FC" section of BENCHMARKS.md, and the settings derived from it
 * (s.yaml's instanceConcurrency, MAX_CONCURRENCY, MAX_QUEUE, REQUEST_TIMEOUT_MS), arithmetic included.
 */
import { budgetFor } from '../src/browser/memory.js';
import { ALIAS_SITES } from './fixtures.js';
import {
  KINDS,
  LEVELS,
  MANY_SITES_CONCURRENCY,
  MIN_PER_LEVEL,
  WARM_UP_PER_CLIENT,
  PER_CLIENT,
  SEED_PER_CLIENT,
  type VcpuRow,
  type VcpuRun,
} from './one-vcpu.js';

export const VCPU_SECTION = '## One vCPU and 1 GB, as on FC';

const LABEL: Record<VcpuRow['name'], string> = {
  service: 'service',
  floor: 'raw-CDP floor',
  seed: 'the launch-per-request sample',
};

export interface Derived {
  concurrency: number;
  maxQueue: number;
  requestTimeoutMs: number;
}

/** GB-seconds an instance of `memoryMb` is billed for 1000 captures at `rps`. */
const gbSecondsPer1000 = (memoryMb: number, rps: number) => ((memoryMb / 1024) * 1000) / rps;

/** A capture's memory share must hold a heavy real page's renderer (news sites: 100–150 MB). */
export const MIN_SHARE_MB = 150;
/** p95 at the chosen concurrency stays under half the 30 s deadline. */
const MAX_P95_MS = 15_000;

/**
 * On one vCPU the captures/s of this loopback page are CPU-bound (≈ 1000 / CPU ms per capture) at
 * any concurrency; real pages also wait on the network, which is what concurrency fills. So the
 * concurrency is bounded by memory and latency instead: the highest level with nothing failed or
 * past the deadline, p95 under half the deadline, and a memory share per capture (the guard's
 * (budget − base) / concurrency, base taken as the service's peak PSS at concurrency 1) of at least
 * MIN_SHARE_MB.
 */
export function derive(rows: VcpuRow[], memoryMb: number): Derived & { shareMb: number; baseMb: number } {
  const svc = rows.filter((r) => r.name === 'service' && r.sites === 'one' && r.warmTabs === undefined);
  // The base leaves the warm tabs out: the memory guard closes them before it stops a page.
  const cold = rows.find((r) => r.name === 'service' && r.warmTabs === 0 && r.concurrency === 1);
  const baseMb = Math.round((cold ?? svc.find((r) => r.concurrency === 1))?.peakPssMb ?? 0);
  const share = (c: number) => Math.floor((budgetFor(memoryMb, baseMb, c).budgetMb - baseMb) / c);
  const sound = svc.filter(
    (r) =>
      r.failed === 0 &&
      r.overDeadline === 0 &&
      !r.oomKilled &&
      r.p95 <= MAX_P95_MS &&
      share(r.concurrency) >= MIN_SHARE_MB,
  );
  const chosen = sound.at(-1) ?? svc[0]!;
  const c = chosen.concurrency;
  // A full queue (one round of captures ahead) waits one p95, the capture takes another, and a real
  // page's network adds up to 10 s: at least 30 s, at most 50 s (FC's function timeout is 60 s).
  const requestTimeoutMs = Math.min(50_000, Math.max(30_000, Math.ceil((2 * chosen.p95 + 10_000) / 5000) * 5000));
  return { concurrency: c, maxQueue: c, requestTimeoutMs, shareMb: share(c), baseMb };
}

export function vcpuReport(all: VcpuRun, machine: { before: string; after: string }): string[] {
  // The tables show the first round; the repeated headline rounds have a paragraph of their own.
  const whole = { ...all, rows: all.rows.filter((r) => r.round === undefined) };
  const run = { ...whole, rows: whole.rows.filter((r) => r.sites === 'one' && r.warmTabs === undefined) };
  const cold = whole.rows.find((r) => r.warmTabs === 0);
  const many = whole.rows.filter((r) => r.sites === 'many');
  const f0 = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '–' : x.toFixed(0));
  const f2 = (x: number) => (Number.isNaN(x) ? '–' : x.toFixed(2));
  const out = [VCPU_SECTION, ''];
  out.push(
    `Each system ran in ${run.confinement}; the benchmark's client ran on the other cores. Article page, PNG, closed loop,`,
    'a freshly started process for every concurrency level (the service with MAX_CONCURRENCY set to that level), the service and the floor level by level.',
    `Machine load (1/5/15-minute averages) before: ${machine.before}; after: ${machine.after}. On a shared machine the`,
    "captures/s move with the load; CPU per capture (the cgroup's cpuacct) moves much less.",
    '',
    '| system | concurrency | p50 ms | p95 ms | captures/s | CPU ms / capture | of which node | peak PSS MB | cgroup peak MB | past the 30 s deadline | failed | GB-s per 1000 captures |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const row of run.rows) {
    out.push(
      `| ${LABEL[row.name]} | ${row.concurrency} | ${f0(row.p50)} | ${f0(row.p95)} | ${f2(row.rps)} | ${f0(row.cpuMsPerCapture)} | ${f0(row.nodeCpuMsPerCapture)} | ` +
        `${f0(row.peakPssMb)} | ${f0(row.cgroupPeakMb)} | ${(row.overDeadline * 100).toFixed(0)} % | ${row.failed}${row.oomKilled ? ' (OOM: instance killed)' : ''} | ` +
        `${row.rps > 0 ? f0(gbSecondsPer1000(run.memoryMb, row.rps)) : '–'} |`,
    );
  }
  const of = (name: VcpuRow['name'], c: number) => run.rows.find((r) => r.name === name && r.concurrency === c);
  const d = derive(whole.rows, run.memoryMb);
  const svc = of('service', d.concurrency)!;
  const floor4 = of('floor', 4);
  const svc4 = of('service', 4);
  const seeds = run.rows.filter((r) => r.name === 'seed' && r.rps > 0 && r.failed === 0);
  const seedBest = seeds.sort((a, b) => b.rps - a.rps)[0];
  const seedCpuRows = run.rows.filter((r) => r.name === 'seed' && r.cpuMsPerCapture);
  const seedCpu = seedCpuRows.reduce((a, r) => a + r.cpuMsPerCapture!, 0) / Math.max(1, seedCpuRows.length);
  const svcRows = run.rows.filter((r) => r.name === 'service' && r.cpuMsPerCapture);
  const cpuMs = svcRows.reduce((a, r) => a + r.cpuMsPerCapture!, 0) / Math.max(1, svcRows.length);
  out.push('');
  const ratio = (a?: number, b?: number) => (a && b ? f2(a / b) : '–');
  const manySvc = many.find((r) => r.name === 'service');
  const manyFloor = many.find((r) => r.name === 'floor');
  if (manySvc && manyFloor) {
    out.push(
      `Every capture of another site (the same page, ${manySvc.n} captures over the benchmark's ${ALIAS_SITES} other loopback sites in turn, so no`,
      `site comes up again within ${ALIAS_SITES - 1} captures, beyond the ${2 * manySvc.concurrency} within which a site counts as recurring), concurrency ${manySvc.concurrency}:`,
      '',
      '| system | p50 ms | p95 ms | captures/s | CPU ms / capture | of which node | peak PSS MB | failed |',
      '|---|---|---|---|---|---|---|---|',
      ...[manySvc, manyFloor].map(
        (r) =>
          `| ${LABEL[r.name]} | ${f0(r.p50)} | ${f0(r.p95)} | ${f2(r.rps)} | ${f0(r.cpuMsPerCapture)} | ${f0(r.nodeCpuMsPerCapture)} | ${f0(r.peakPssMb)} | ${r.failed} |`,
      ),
      '',
      `Here the service made ${ratio(manySvc.rps, manyFloor.rps)}× the floor's captures/s at ` +
        `${ratio(manySvc.cpuMsPerCapture, manyFloor.cpuMsPerCapture)}× its CPU per capture.`,
      '',
    );
  }
  const splitRows = [svc4, floor4, manySvc, manyFloor].filter((r): r is VcpuRow => Boolean(r?.split));
  if (splitRows.length) {
    out.push(
      `CPU ms per capture by process at concurrency 4 (each process's CPU time read every 50 ms; "renderer" is every`,
      "renderer and the zygote's children, \"utility\" Chromium's utility processes: the floor's network service; the",
      'service runs its network service in the browser process):',
      '',
      `| system | sites | ${KINDS.join(' | ')} |`,
      `|---|---|${KINDS.map(() => '---').join('|')}|`,
      ...splitRows.map(
        (r) =>
          `| ${LABEL[r.name]} | ${r.sites === 'one' ? 'one' : 'every capture another'} | ${KINDS.map((k) => f0(r.split?.[k] ?? 0)).join(' | ')} |`,
      ),
      '',
    );
  }
  const peakRows = splitRows.filter((r) => Object.keys(r.peakSplit ?? {}).length);
  if (peakRows.length) {
    const shm =
      all.sharedMemory.where === 'dev-shm' ? "the service's is in /dev/shm" : "the service's is in files in /tmp too";
    out.push(
      'Peak PSS by process at concurrency 4, MB (the sample, every 250 ms, where the sum was highest; the same kinds',
      "as above; each figure rounded). Chromium's shared memory counts in the processes that map it:",
      `${shm}, the floor's in files in /tmp:`,
      '',
      `| system | sites | ${KINDS.join(' | ')} | sum |`,
      `|---|---|${KINDS.map(() => '---').join('|')}|---|`,
      ...peakRows.map(
        (r) =>
          `| ${LABEL[r.name]} | ${r.sites === 'one' ? 'one' : 'every capture another'} | ${KINDS.map((k) => f0(r.peakSplit?.[k] ?? 0)).join(' | ')} | ${f0(r.peakPssMb)} |`,
      ),
      '',
    );
  }
  if (svc4 && floor4) {
    out.push(
      `At concurrency 4, one site, the service made ${f2(svc4.rps / floor4.rps)}× the floor's captures/s and used ` +
        `${svc4.cpuMsPerCapture && floor4.cpuMsPerCapture ? f2(svc4.cpuMsPerCapture / floor4.cpuMsPerCapture) : '–'}× its CPU per capture ` +
        `(node ${f0(svc4.nodeCpuMsPerCapture)} vs ${f0(floor4.nodeCpuMsPerCapture)} ms, Chromium ` +
        `${f0((svc4.cpuMsPerCapture ?? NaN) - (svc4.nodeCpuMsPerCapture ?? NaN))} vs ` +
        `${f0((floor4.cpuMsPerCapture ?? NaN) - (floor4.nodeCpuMsPerCapture ?? NaN))} ms).`,
      '',
    );
  }
  out.push(...roundsReport(all.rows), '', ...sharedMemoryReport(all));
  out.push(
    '### Settings derived from this table (s.yaml)',
    '',
    `- One vCPU makes at most ≈ 1000 / ${f0(cpuMs)} ≈ ${f2(1000 / cpuMs)} captures/s of this page, whatever the concurrency (the`,
    "  service's CPU per capture, mean of its levels): the loopback page never waits on the network, so more at once",
    '  only stretches each request. Real pages wait on the network, and that idle time is what concurrency fills; so the',
    '  concurrency is bounded by memory and latency rather than read off the captures/s.',
    `- **instanceConcurrency = MAX_CONCURRENCY = ${d.concurrency}**: the highest level above with nothing failed or past the`,
    `  deadline, p95 ≤ 15 s (half the deadline: ${f0(svc.p95)} ms here), and a memory share per capture ≥ ${MIN_SHARE_MB} MB (a heavy`,
    `  real page): base ≈ the service's peak PSS at concurrency 1 without warm tabs (WARM_TABS=0; the memory guard closes`,
    `  them before it stops a page) = ${d.baseMb} MB${cold ? ` (with its warm tab: ${f0(run.rows.find((r) => r.name === 'service' && r.concurrency === 1)?.peakPssMb)} MB)` : ''} (conservative: the guard's own base,`,
    `  anonymous memory at start, is ~100 MB), budget = ${run.memoryMb} − reserve (README`,
    `  "Memory budget"), share = (budget − ${d.baseMb}) / ${d.concurrency} = ${d.shareMb} MB` +
      (d.concurrency < 8
        ? `; at ${d.concurrency * 2} it would be ${Math.floor((budgetFor(run.memoryMb, d.baseMb, d.concurrency * 2).budgetMb - d.baseMb) / (d.concurrency * 2))} MB.`
        : '.'),
    `- **MAX_QUEUE = ${d.maxQueue}**: FC sends an instance at most instanceConcurrency requests, so the queue only serves`,
    '  traffic that does not come through FC (fc:local, a burst during a drain); one more round of captures waits, the rest',
    '  get 503 + Retry-After at once.',
    `- **REQUEST_TIMEOUT_MS = ${d.requestTimeoutMs}**: a request behind a full queue waits one round of captures (p95 at`,
    `  that concurrency: ${f0(svc.p95)} ms), takes one itself, and a real page's network may add 10 s:`,
    `  2 × ${f0(svc.p95)} + 10 000 ms, rounded up to 5 s, at least 30 s and at most 50 s (the function's timeout is 60 s).`,
    '',
  );
  if (seedBest) {
    const ours = gbSecondsPer1000(run.memoryMb, svc.rps);
    const theirs = gbSecondsPer1000(run.memoryMb, seedBest.rps);
    const seed1 = of('seed', 1);
    out.push(
      '### Cost per 1000 captures (1 GB instances, billed by GB-seconds of instance time)',
      '',
      `- service at concurrency ${d.concurrency}: ${f0(ours)} GB-s; the launch-per-request sample at its best level ` +
        `(${seedBest.concurrency}): ${f0(theirs)} GB-s${seed1 && seed1.rps > 0 ? `, at concurrency 1 (one request per instance): ${f0(gbSecondsPer1000(run.memoryMb, seed1.rps))} GB-s` : ''}.`,
      `- The service costs ${f2(ours / theirs)}× the launch-per-request sample's GB-seconds per capture.`,
      ...(seedCpu && cpuMs
        ? [
            `- By CPU alone (a saturated vCPU is billed as long as it computes, and CPU per capture moves least with the`,
            `  machine's load): ${f0(cpuMs)} vs ${f0(seedCpu)} CPU ms per capture, ${f2(cpuMs / seedCpu)}× — ` +
              `${f0(cpuMs)} vs ${f0(seedCpu)} GB-s per 1000 captures at 1 GB.`,
          ]
        : []),
      '',
    );
  }
  out.push(
    `Levels measured: ${LEVELS.join(', ')} (one site); ${PER_CLIENT} captures per concurrent client at each level ` +
      `(${SEED_PER_CLIENT} for the launch-per-request sample), at least ${MIN_PER_LEVEL}, after ${WARM_UP_PER_CLIENT} per client at ` +
      'that concurrency for the service and the floor, not counted (their steady state). "Of which node": the CPU ' +
      "of the node process alone (the service's HTTP, egress proxy, CDP client and file; the floor's CDP client); the rest is Chromium's. " +
      'The floor has no egress guard; what the guard costs node is measured in README.md, "Security".',
    '',
  );
  return out;
}

/**
 * Service ÷ floor at MANY_SITES_CONCURRENCY in every round (the tables' first round included), one
 * site and many, and the median of the rounds: what to read when one round's moment was unlucky.
 */
function roundsReport(rows: VcpuRow[]): string[] {
  const c = MANY_SITES_CONCURRENCY;
  const at = rows.filter((r) => r.concurrency === c && r.warmTabs === undefined && r.name !== 'seed');
  const rounds = [...new Set(at.map((r) => r.round ?? 1))].sort();
  if (rounds.length < 2) return [];
  const mid = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const out = [
    `Rounds at concurrency ${c} (a fresh service and a fresh floor each round, in turn floor first and service first; the tables above are round 1), service ÷ floor:`,
    '',
    '| sites | round | captures/s | CPU per capture | node ms, service / floor |',
    '|---|---|---|---|---|',
  ];
  for (const sites of ['one', 'many'] as const) {
    const ratios: Array<[number, number]> = [];
    for (const round of rounds) {
      const pick = (name: VcpuRow['name']) =>
        at.find((r) => r.name === name && r.sites === sites && (r.round ?? 1) === round);
      const svc = pick('service');
      const floor = pick('floor');
      if (!svc?.cpuMsPerCapture || !floor?.cpuMsPerCapture) continue;
      ratios.push([svc.rps / floor.rps, svc.cpuMsPerCapture / floor.cpuMsPerCapture]);
      out.push(
        `| ${sites === 'one' ? 'one' : 'every capture another'} | ${round} | ${ratios.at(-1)![0].toFixed(2)} | ${ratios.at(-1)![1].toFixed(2)} | ${svc.nodeCpuMsPerCapture?.toFixed(0) ?? '–'} / ${floor.nodeCpuMsPerCapture?.toFixed(0) ?? '–'} |`,
      );
    }
    if (ratios.length)
      out.push(
        `| ${sites === 'one' ? 'one' : 'every capture another'} | median | **${mid(ratios.map((r) => r[0])).toFixed(2)}** | **${mid(ratios.map((r) => r[1])).toFixed(2)}** | |`,
      );
  }
  return out;
}

/**
 * Where the service's Chromium kept its shared memory, and what files in /tmp (a container's 64 MB
 * /dev/shm) cost beside it.
 */
function sharedMemoryReport(all: VcpuRun): string[] {
  const { where, devShmFreeMb } = all.sharedMemory;
  const out = [
    where === 'dev-shm'
      ? `Chromium's shared memory (tiles, frames, response bodies passed between its processes) was in /dev/shm, a tmpfs with ${devShmFreeMb} MB free (src/browser/flags.ts); the floor's, with puppeteer's defaults, in files in /tmp.`
      : `Chromium's shared memory (tiles, frames, response bodies passed between its processes) was in files in /tmp: /dev/shm ${devShmFreeMb === undefined ? 'is not a tmpfs' : `had ${devShmFreeMb} MB free`} here (src/browser/flags.ts).`,
    '',
  ];
  const pairs = (['one', 'many'] as const).flatMap((sites) => {
    const small = all.smallDevShm.find((r) => r.sites === sites && r.devShmMb !== undefined);
    const own = all.smallDevShm.find((r) => r.sites === sites && r.devShmMb === undefined);
    return small?.cpuMsPerCapture && own?.cpuMsPerCapture ? [{ sites, small, own }] : [];
  });
  if (!pairs.length || where !== 'dev-shm') return out;
  out.push(
    `Where /dev/shm is a container's 64 MB, it goes to files in /tmp instead: the service with a 64 MB /dev/shm of its own`,
    `(a tmpfs in a mount namespace), beside the same service on this machine's /dev/shm, at concurrency ${pairs[0]!.own.concurrency}, one run each:`,
    '',
    '| sites | CPU ms / capture, files in /tmp | on /dev/shm | files ÷ /dev/shm | captures/s, files ÷ /dev/shm |',
    '|---|---|---|---|---|',
    ...pairs.map(
      ({ sites, small, own }) =>
        `| ${sites === 'one' ? 'one' : 'every capture another'} | ${small.cpuMsPerCapture!.toFixed(0)} | ${own.cpuMsPerCapture!.toFixed(0)} | ` +
        `${(small.cpuMsPerCapture! / own.cpuMsPerCapture!).toFixed(2)} | ${(small.rps / own.rps).toFixed(2)} |`,
    ),
    '',
  );
  return out;
}
