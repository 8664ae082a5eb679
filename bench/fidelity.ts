/**
 * `npm run bench:fidelity`: the whole fidelity corpus (test/corpus/fidelity.ts), each page captured
 * with the defaults, with `settle=false` (the first frame after load), and patiently, on one service
 * and one Chromium; prints a table, and with `--write` replaces the fidelity section of BENCHMARKS.md.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../fc/paths.js';
import { compareCase, FIDELITY_CASES, type FidelityResult, MAX_DIFFERING, MAX_TILE } from '../test/corpus/fidelity.js';
import request from 'supertest';
import { startCorpus } from '../test/corpus/server.js';
import type { CorpusRun } from '../test/corpus/setup.js';
import { binary, shutdownClean, startService } from '../test/helpers/service.js';

/** test/corpus/setup.ts's corpus run, without vitest. */
async function startCorpusRun(): Promise<CorpusRun> {
  const corpus = await startCorpus();
  const svc = await startService({ EGRESS_ALLOW: corpus.allow, TRUST_SPKI: corpus.cert.spki });
  return {
    corpus,
    svc,
    get: (query) => request(svc.app.server).get('/').query(query).buffer(true).parse(binary),
    close: async () => {
      await shutdownClean(svc);
      await corpus.close();
    },
  };
}

const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

async function main() {
  const run = await startCorpusRun();
  const rows: Array<{ settled: FidelityResult; first: FidelityResult }> = [];
  try {
    for (const c of FIDELITY_CASES) {
      const settled = await compareCase(run, c);
      const first = await compareCase(run, c, { settle: false });
      rows.push({ settled, first });
      console.log(
        `${settled.matches ? 'match' : 'MISS '} ${c.path.padEnd(48)} ${pct(settled.difference.share).padStart(8)} tile ${pct(settled.difference.worstTile).padStart(8)} ${settled.ms} ms | settle=false ${first.matches ? 'match' : 'miss'} ${pct(first.difference.share)} ${first.ms} ms | ${settled.serverTiming}`,
      );
    }
  } finally {
    await run.close();
  }
  const n = rows.length;
  const ok = rows.filter((r) => r.settled.matches).length;
  const okFirst = rows.filter((r) => r.first.matches).length;
  const lines = [
    '## Fidelity: the default capture against a patient one',
    '',
    `${n} pages of the fidelity corpus (test/corpus/fidelity.ts; real npm packages: Alpine.js, petite-vue, Mithril, Preact, htmx, marked, Splide, lottie-web, countup.js, anime.js, Chart.js, Chartist, Tailwind's preflight), each captured with the defaults and compared with a patient reference (\`waitUntil=networkidle0\`, \`delay=4000\`) by the same service and Chromium in the same run. A match: at most ${pct(MAX_DIFFERING)} of pixels differ and no 64 × 64 tile by more than ${pct(MAX_TILE)}. Machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${new Date().toISOString().slice(0, 10)}.`,
    '',
    `| | matches | median capture time |`,
    `| --- | --- | --- |`,
    `| defaults (settle) | ${ok} / ${n} (${pct(ok / n)}) | ${median(rows.map((r) => r.settled.ms))} ms |`,
    `| \`settle=false\` (first frame after load) | ${okFirst} / ${n} (${pct(okFirst / n)}) | ${median(rows.map((r) => r.first.ms))} ms |`,
    '',
    '| page | kind | differing (defaults) | worst tile | capture ms | settle=false differing |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      ({ settled: s, first: f }) =>
        `| \`${s.path}\` | ${s.kind} | ${s.matches ? '' : '**miss** '}${pct(s.difference.share)} | ${pct(s.difference.worstTile)} | ${s.ms} | ${pct(f.difference.share)} |`,
    ),
    '',
  ];
  const table = lines.join('\n');
  console.log(`\n${table}`);
  if (process.argv.includes('--write')) {
    const file = join(ROOT, 'BENCHMARKS.md');
    const current = readFileSync(file, 'utf8');
    const start = current.indexOf('## Fidelity');
    const before = start >= 0 ? current.slice(0, start) : `${current.trimEnd()}\n\n`;
    const rest = start >= 0 ? current.slice(start + 1) : '';
    const next = rest.search(/^## /m);
    const after = start >= 0 && next >= 0 ? rest.slice(next) : '';
    writeFileSync(file, `${before}${table}${after ? `\n${after}` : ''}`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
