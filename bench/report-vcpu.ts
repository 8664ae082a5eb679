/**
 * The "one vCPU and 1 GB, as on FC" section of BENCHMARKS.md, and the settings derived from it
 * (s.yaml's instanceConcurrency, MAX_CONCURRENCY, MAX_QUEUE, REQUEST_TIMEOUT_MS), arithmetic included.
 */
import { LEVELS, type VcpuRow, type VcpuRun } from './one-vcpu.js';

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

/**
 * The service's knee: the lowest concurrency whose captures/s reach 90 % of the best level's,
 * with nothing failed, nothing past the deadline and no OOM. Beyond it, concurrency buys only latency.
 */
export function derive(rows: VcpuRow[]): Derived {
  const svc = rows.filter((r) => r.name === 'service');
  const best = Math.max(...svc.map((r) => r.rps));
  const sound = svc.filter((r) => r.failed === 0 && r.overDeadline === 0 && !r.oomKilled);
  const knee = sound.find((r) => r.rps >= 0.9 * best) ?? sound.at(-1) ?? svc[0]!;
  const c = knee.concurrency;
  // A full queue (one round of captures ahead) waits one p95, the capture takes another, and a real
  // page's network adds up to 20 s: at least 30 s, at most 50 s (FC's function timeout is 60 s).
  const requestTimeoutMs = Math.min(50_000, Math.max(30_000, Math.ceil((2 * knee.p95 + 20_000) / 5000) * 5000));
  return { concurrency: c, maxQueue: c, requestTimeoutMs };
}

export function vcpuReport(run: VcpuRun, machine: { before: string; after: string }): string[] {
  const f0 = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '–' : x.toFixed(0));
  const f2 = (x: number) => (Number.isNaN(x) ? '–' : x.toFixed(2));
  const out = [VCPU_SECTION, ''];
  out.push(
    `Each system ran in ${run.confinement}; the benchmark's client ran on the other cores. Article page, PNG, closed loop,`,
    'a freshly started process for every concurrency level (the service with MAX_CONCURRENCY set to that level).',
    `Machine load (1/5/15-minute averages) before: ${machine.before}; after: ${machine.after}. On a shared machine the`,
    'captures/s move with the load; CPU per capture (the cgroup\'s cpuacct) moves much less.',
    '',
    '| system | concurrency | p50 ms | p95 ms | captures/s | CPU ms / capture | peak PSS MB | cgroup peak MB | past the 30 s deadline | failed | GB-s per 1000 captures |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const row of run.rows) {
    out.push(
      `| ${LABEL[row.name]} | ${row.concurrency} | ${f0(row.p50)} | ${f0(row.p95)} | ${f2(row.rps)} | ${f0(row.cpuMsPerCapture)} | ` +
        `${f0(row.peakPssMb)} | ${f0(row.cgroupPeakMb)} | ${(row.overDeadline * 100).toFixed(0)} % | ${row.failed}${row.oomKilled ? ' (OOM: instance killed)' : ''} | ` +
        `${row.rps > 0 ? f0(gbSecondsPer1000(run.memoryMb, row.rps)) : '–'} |`,
    );
  }
  const of = (name: VcpuRow['name'], c: number) => run.rows.find((r) => r.name === name && r.concurrency === c);
  const d = derive(run.rows);
  const svc = of('service', d.concurrency)!;
  const floor4 = of('floor', 4);
  const svc4 = of('service', 4);
  const seeds = run.rows.filter((r) => r.name === 'seed' && r.rps > 0 && r.failed === 0);
  const seedBest = seeds.sort((a, b) => b.rps - a.rps)[0];
  const best = Math.max(...run.rows.filter((r) => r.name === 'service').map((r) => r.rps));
  out.push('');
  if (svc4 && floor4) {
    out.push(
      `At concurrency 4 the service made ${f2(svc4.rps / floor4.rps)}× the floor's captures/s and used ` +
        `${svc4.cpuMsPerCapture && floor4.cpuMsPerCapture ? f2(svc4.cpuMsPerCapture / floor4.cpuMsPerCapture) : '–'}× its CPU per capture.`,
      '',
    );
  }
  out.push(
    '### Settings derived from this table (s.yaml)',
    '',
    `- **instanceConcurrency = MAX_CONCURRENCY = ${d.concurrency}**: the lowest concurrency whose captures/s reach 90 % of the`,
    `  best level's (${f2(svc.rps)} vs ${f2(best)}/s) with nothing failed or past the deadline. One vCPU is saturated there;`,
    '  more at once only stretches every request (p95 above) while FC could start another instance instead.',
    `  Memory at ${d.concurrency}: the cgroup's peak was ${f0(svc.cgroupPeakMb)} MB of ${run.memoryMb}; the memory guard's budget`,
    `  (README "Memory budget") gives each of ${d.concurrency} captures ${'(budget − base) / concurrency'} of the instance.`,
    `- **MAX_QUEUE = ${d.maxQueue}**: FC sends an instance at most instanceConcurrency requests, so the queue only serves`,
    '  traffic that does not come through FC (fc:local, a burst during a drain); one more round of captures waits, the rest',
    '  get 503 + Retry-After at once.',
    `- **REQUEST_TIMEOUT_MS = ${d.requestTimeoutMs}**: a request behind a full queue waits one round of captures (p95 at`,
    `  that concurrency: ${f0(svc.p95)} ms), takes one itself, and a real page's network may add 20 s:`,
    `  2 × ${f0(svc.p95)} + 20 000 ms, rounded up to 5 s, at least 30 s and at most 50 s (the function's timeout is 60 s).`,
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
      '',
    );
  }
  const levels = LEVELS.join(', ');
  out.push(`Levels measured: ${levels}; ${run.rows[0]?.n ?? 0}+ captures per level (3 per client, at least 6).`, '');
  return out;
}
