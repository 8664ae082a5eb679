/**
 * `npx tsx bench/settle-cost.ts`: warm latency of captures of pages done at `load` (the corpus's
 * static page, a Tailwind page, a React + Ant Design dashboard), one at a time: what the settle step
 * costs a page with nothing pending. Prints p50 per page; run it on two versions and compare.
 */
import request from 'supertest';
import { startCorpus } from '../test/corpus/server.js';
import { binary, shutdownClean, startService } from '../test/helpers/service.js';

const N = Number(process.env.N ?? 30);
const PAGES = ['/fid-static', '/fid-tailwind', '/react-antd'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const corpus = await startCorpus();
  const svc = await startService({ EGRESS_ALLOW: corpus.allow, TRUST_SPKI: corpus.cert.spki });
  const shot = async (path: string) => {
    const started = performance.now();
    const res = await request(svc.app.server)
      .get('/')
      .query({ url: `${corpus.http}${path}` })
      .buffer(true)
      .parse(binary);
    if (res.status !== 200) throw new Error(`${path}: ${res.status}`);
    return performance.now() - started;
  };
  try {
    for (const path of PAGES) for (let i = 0; i < 5; i++) await shot(path);
    for (const path of PAGES) {
      const ms: number[] = [];
      for (let i = 0; i < N; i++) {
        ms.push(await shot(path));
        await sleep(100);
      }
      ms.sort((a, b) => a - b);
      console.log(`${path} p50 ${ms[Math.floor(N / 2)]!.toFixed(1)} ms p90 ${ms[Math.floor(N * 0.9)]!.toFixed(1)} ms`);
    }
  } finally {
    await shutdownClean(svc);
    await corpus.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
