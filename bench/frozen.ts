/**
 * Low traffic as FC runs it: one request at a time, seconds apart, the instance frozen in between
 * (fc:local's freezing front: fc/harness/fc-local.ts) with FC's memory and one vCPU. The built function
 * is run twice, with the work after captures finished before the last answer (FROZEN_WHEN_IDLE, FC's
 * default) and left to the freeze, and compared on CPU per capture (the cgroup's cpuacct) and latency.
 */
import { type LocalLayout, startLocal } from '../fc/harness/fc-local.js';

export interface FrozenRow {
  tidy: boolean;
  cpuMsPerCapture: number;
  p50Ms: number;
  warm: number;
  captures: number;
}

/** Longer than the scrub's own limit (3 s), as the gaps of low traffic are. */
const GAP_MS = 4000;
const WARMUP = 2;
const CAPTURES = 8;

async function run(layout: LocalLayout, url: string, allow: string, tidy: boolean): Promise<FrozenRow> {
  const fn = await startLocal({
    port: 0,
    freeze: true,
    layout,
    extraEnv: { EGRESS_ALLOW: allow, FROZEN_WHEN_IDLE: String(tidy) },
  });
  try {
    const target = `http://127.0.0.1:${fn.port}/?url=${encodeURIComponent(url)}`;
    const latencies: number[] = [];
    let warm = 0;
    let cpu0 = 0;
    for (let i = 0; i < WARMUP + CAPTURES; i++) {
      await new Promise((r) => setTimeout(r, GAP_MS));
      if (i === WARMUP) cpu0 = fn.cgroup!.stats().cpuMs!;
      const started = performance.now();
      const res = await fetch(target);
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`frozen run: ${res.status}`);
      if (i < WARMUP) continue;
      latencies.push(performance.now() - started);
      if (/page;desc=warm/.test(res.headers.get('server-timing') ?? '')) warm += 1;
    }
    latencies.sort((a, b) => a - b);
    const mid = latencies.length / 2;
    return {
      tidy,
      cpuMsPerCapture: Math.round((fn.cgroup!.stats().cpuMs! - cpu0) / CAPTURES),
      p50Ms: Math.round((latencies[Math.floor(mid - 0.5)]! + latencies[Math.ceil(mid - 0.5)]!) / 2),
      warm,
      captures: CAPTURES,
    };
  } finally {
    await fn.stop();
  }
}

export async function measureFrozen(layout: LocalLayout, url: string, allow: string): Promise<FrozenRow[]> {
  return [await run(layout, url, allow, true), await run(layout, url, allow, false)];
}

export function frozenReport(rows: FrozenRow[]): string[] {
  const [tidy, left] = rows as [FrozenRow, FrozenRow];
  return [
    '',
    `### Low traffic, frozen between requests (one request every ${GAP_MS / 1000} s, as FC runs it)`,
    '',
    "The built function through `fc:local --freeze` (frozen whenever no request runs, FC's memory, one vCPU), the",
    `article page, ${CAPTURES} captures after ${WARMUP} to warm up; the work after captures finished before the last answer`,
    '(`FROZEN_WHEN_IDLE`, the default on FC) or left to run after it, where the freeze stops it:',
    '',
    '| work after a capture | CPU ms / capture | p50 ms | captures on a warm tab |',
    '|---|---|---|---|',
    `| finished before the answer | ${tidy.cpuMsPerCapture} | ${tidy.p50Ms} | ${tidy.warm} of ${tidy.captures} |`,
    `| left to the freeze | ${left.cpuMsPerCapture} | ${left.p50Ms} | ${left.warm} of ${left.captures} |`,
    '',
    `Finished before the answer ÷ left to the freeze: ${(tidy.cpuMsPerCapture / left.cpuMsPerCapture).toFixed(2)}× the CPU, ` +
      `${(tidy.p50Ms / left.p50Ms).toFixed(2)}× the p50.`,
    '',
  ];
}
