/**
 * What each output format costs: the built service confined as on FC (one vCPU, 1 GB, one core), the
 * article page captured one request at a time, the formats taken in turn round after round, CPU per
 * capture from the cgroup's accounting, as a ratio to PNG's (Chromium's own bytes, no second encode).
 */
import { cpus } from 'node:os';
import type { LocalLayout } from '../fc/harness/fc-local.js';
import { localProcess } from '../fc/harness/fc-local.js';
import { loadFunctionSpec } from '../fc/s-yaml.js';
import { FORMATS, type OutputFormat, spec } from '../src/formats.js';
import { hasTaskset, httpLoad, startConfined, startListening } from './one-vcpu.js';

export const FORMATS_SECTION = '## What each format costs';
const ROUNDS = 4;
const PER_ROUND = 6;

export async function measureFormats(
  layout: LocalLayout,
  url: string,
  allow: string,
  freePort: () => Promise<number>,
): Promise<Map<OutputFormat, number>> {
  const formats = FORMATS.filter((f) => !spec(f).printed);
  const core = hasTaskset() && cpus().length > 1 ? cpus().length - 1 : undefined;
  const { svc, port } = await startListening(freePort, (port) => {
    const { cmd, args, env, cwd } = localProcess(layout, port, {
      EGRESS_ALLOW: allow,
      LOG_LEVEL: 'warn',
      RECYCLE_AFTER: '0',
      FROZEN_WHEN_IDLE: 'false',
    });
    return startConfined(cmd, args, { env, cwd, core, memoryMb: loadFunctionSpec().memorySize });
  });
  const cpuMs = new Map<OutputFormat, number>(formats.map((f) => [f, 0]));
  try {
    const target = (f: OutputFormat) => `http://127.0.0.1:${port}/?url=${encodeURIComponent(url)}&format=${f}`;
    for (const f of formats) await httpLoad([target(f)], 1, 2); // each encoder loaded and warm
    for (let round = 0; round < ROUNDS; round++) {
      for (const f of formats) {
        const before = svc.cgroup?.stats().cpuMs ?? Number.NaN;
        const out = await httpLoad([target(f)], 1, PER_ROUND);
        if (out.failed) throw new Error(`${f}: ${out.failed} captures failed`);
        cpuMs.set(f, cpuMs.get(f)! + ((svc.cgroup?.stats().cpuMs ?? Number.NaN) - before) / (ROUNDS * PER_ROUND));
      }
    }
  } finally {
    await svc.stop();
  }
  return cpuMs;
}

export function formatsReport(cpuMs: Map<OutputFormat, number>): string[] {
  const png = cpuMs.get('png')!;
  return [
    FORMATS_SECTION,
    '',
    `The built service in a cgroup of one vCPU and 1 GB, the article page (1280×800) one request at a time, ${ROUNDS * PER_ROUND} captures`,
    "of each format taken in turn; CPU per capture (every process of the instance) ÷ PNG (Chromium's PNG as it comes).",
    'JPEG is made by Chromium itself; WebP and AVIF are encoded from the PNG by sharp (effort 2).',
    '',
    '| format | CPU per capture ÷ png |',
    '|---|---|',
    ...[...cpuMs].map(([f, ms]) => `| ${f} | ${(ms / png).toFixed(2)} |`),
    '',
    `PNG's own: ${png.toFixed(0)} ms of CPU per capture here.`,
    '',
  ];
}
