/**
 * `npm run bench`: one run, same machine, same pages, three ways of taking the screenshot:
 *   service  this service over HTTP as deployed: the built code package, the layer's uncompressed
 *            Chromium, s.yaml's environment (the fc:local harness);
 *   seed     the launch-per-request sample (the approach of the article this project grew from): launch Chromium per request (@sparticuz/chromium), screenshot
 *            to a file in /tmp, return it;
 *   floor    one warm Chromium over CDP, a fresh context per shot, no HTTP, no re-encoding.
 * Warm latency p50/p95, captures per second at concurrency 1, 2 and 4, peak PSS of each process tree
 * (Chromium included), and cold start (process start → first image); then the same three confined to
 * one vCPU and 1 GB as on FC (bench/one-vcpu.ts). Writes BENCHMARKS.md.
 *   BENCH_ONLY=vcpu npm run bench   # only the one-vCPU run, its section replaced in BENCHMARKS.md
 *   BENCH_ONLY=cold npm run bench   # only the cold starts, their section replaced
 *   BENCH_ONLY=formats npm run bench   # only what each output format costs
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { layOut, localProcess, type LocalLayout } from '../fc/harness/fc-local.js';
import { buildAll } from '../fc/layers/build.js';
import { BUILD, ROOT } from '../fc/paths.js';
import { loadFunctionSpec } from '../fc/s-yaml.js';
import { startBenchFixtures } from './fixtures.js';
import { ownNode } from './own-node.js';
import {
  type Confined,
  hasTaskset,
  machineLoad,
  measureOneVcpu,
  startConfined,
  startFree,
  startListening,
  withPeak,
} from './one-vcpu.js';
import { FORMATS_SECTION, formatsReport, measureFormats } from './formats.js';
import { frozenReport, measureFrozen } from './frozen.js';
import { VCPU_SECTION, vcpuReport } from './report-vcpu.js';
import {
  type ColdTimeline,
  COLD_SECTION,
  coldReport,
  httpsReport,
  median,
  pct,
  phases,
  report,
  type Row,
  type Scheme,
  type TlsRow,
} from './report.js';

const WARM_N = Number(process.env.BENCH_WARM ?? 30);
const SEED_WARM_N = Number(process.env.BENCH_SEED_WARM ?? 10);
const LOAD_PER_SLOT = Number(process.env.BENCH_LOAD ?? 8);
const COLD_RUNS = Number(process.env.BENCH_COLD ?? 3);
/** Idle time between warm requests: latency is measured at low load, one request at a time. */
const GAP_MS = Number(process.env.BENCH_GAP ?? 150);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  const srv = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => srv.once('listening', r));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

/** Until `port` takes connections; fails at once if `child`, the process meant to listen on it, exits first. */
async function waitForPort(port: number, child: ChildProcess, deadlineMs = 60_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`the process for port ${port} exited (${child.signalCode ?? `code ${child.exitCode}`}) first`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(5);
  }
  throw new Error(`port ${port} never opened`);
}

/** Peak PSS of a process tree while `work` runs, sampled every 50 ms (two cores: there is room to look often). */
const peakPss = <T>(pid: number, work: () => Promise<T>) => withPeak(pid, work, 50);

type Shoot = () => Promise<{ ms: number; timing?: string }>;

const httpShoot =
  (url: string): Shoot =>
  async () => {
    const started = performance.now();
    const res = await fetch(url);
    const body = await res.arrayBuffer();
    if (res.status !== 200 || body.byteLength < 1000) throw new Error(`bad answer ${res.status} from ${url}`);
    return { ms: performance.now() - started, timing: res.headers.get('server-timing') ?? undefined };
  };

async function load(shoot: Shoot, concurrency: number, total: number) {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        next += 1;
        latencies.push((await shoot()).ms);
      }
    }),
  );
  return { rps: total / ((performance.now() - started) / 1000), latencies };
}

async function measureHttp(
  name: string,
  pid: number,
  url: string,
  warmN: number,
): Promise<Row & { timings: string[] }> {
  const shoot = httpShoot(url);
  for (let i = 0; i < 3; i++) await shoot();
  const warm: number[] = [];
  const timings: string[] = [];
  for (let i = 0; i < warmN; i++) {
    await sleep(GAP_MS);
    const r = await shoot();
    warm.push(r.ms);
    if (r.timing) timings.push(r.timing);
  }
  const rps: Record<number, number> = {};
  let peakMb = 0;
  for (const c of [1, 2, 4]) {
    const { result, peakMb: peak } = await peakPss(pid, () => load(shoot, c, LOAD_PER_SLOT * c));
    rps[c] = result.rps;
    if (c === 4) peakMb = peak;
  }
  console.log(
    `  ${name}: p50 ${median(warm).toFixed(0)} ms, ${rps[4]!.toFixed(2)}/s at 4, peak ${peakMb.toFixed(0)} MB`,
  );
  return { name, p50: median(warm), p95: pct(warm, 95), rps, peakMb, timings };
}

/** The service on the machine's cores, answering on a port of its own (startListening). */
async function startService(
  layout: LocalLayout,
  allow: string,
  extra: Record<string, string> = {},
): Promise<{ child: ChildProcess; port: number }> {
  // Never frozen here: the low-traffic run (frozen.ts) measures FC's freeze and FROZEN_WHEN_IDLE.
  const settings = { EGRESS_ALLOW: allow, LOG_LEVEL: 'warn', RECYCLE_AFTER: '0', FROZEN_WHEN_IDLE: 'false', ...extra };
  const { svc, port } = await startListening(freePort, (p) => {
    const { cmd, args, env, cwd } = localProcess(layout, p, settings);
    return startFree(cmd, args, { env, cwd });
  });
  return { child: svc.child, port };
}

async function stop(child: ChildProcess): Promise<void> {
  const over = () => child.exitCode !== null || child.signalCode !== null;
  if (over()) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(10_000)]);
  if (!over()) child.kill('SIGKILL');
}

/** Process start → first complete image, for a server started by `start` (its stdout piped, for `timeline`). */
async function coldStart(
  start: (port: number) => ChildProcess | Confined,
  target: string,
): Promise<{ ms: number; timeline?: ColdTimeline }> {
  const port = await freePort();
  const t0 = performance.now();
  const wall0 = Date.now();
  const started = start(port);
  const child = 'child' in started ? started.child : started;
  const log: Array<{ msg?: string; time?: string; ms?: number }> = [];
  child.stdout?.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) {
      try {
        log.push(JSON.parse(line));
      } catch {
        // not one of pino's lines
      }
    }
  });
  try {
    await waitForPort(port, child);
    const shot = await httpShoot(`http://127.0.0.1:${port}/?url=${encodeURIComponent(target)}`)();
    const ms = performance.now() - t0;
    const at = (msg: string) => log.find((l) => l.msg?.startsWith(msg));
    const listening = at('Server listening');
    const launched = at('chromium launched');
    if (!listening?.time || !launched?.time || !shot.timing) return { ms };
    const phase = phases([shot.timing]);
    // Top-level phases only: settle-network and the like are parts of settle.
    const isPart = (name: string) => name.includes('-') && Object.hasOwn(phase, name.split('-')[0]!);
    const top = Object.entries(phase).filter(([name]) => !isPart(name));
    const requested = ms - top.reduce((a, [, b]) => a + b, 0);
    const upTo = (...names: string[]) => names.reduce((t, n) => t + (phase[n] ?? 0), requested);
    return {
      ms,
      timeline: {
        launchBegan: Date.parse(launched.time) - wall0 - (launched.ms ?? 0),
        listening: Date.parse(listening.time) - wall0,
        launched: Date.parse(launched.time) - wall0,
        requested,
        pageReady: upTo('policy', 'queue', 'page'),
        navigated: upTo('policy', 'queue', 'page', 'emulate', 'navigate'),
        answered: ms,
      },
    };
  } finally {
    await ('child' in started ? started.stop() : stop(child));
  }
}

/** The settle step's cost: warm p50 with it (the default) ÷ without it, requests alternating. */
let settle: { on: number; off: number } | undefined;
async function settleCost(port: number, url: string): Promise<{ on: number; off: number }> {
  const base = `http://127.0.0.1:${port}/?url=${encodeURIComponent(url)}`;
  const times = { on: [] as number[], off: [] as number[] };
  for (let i = 0; i < WARM_N; i++) {
    for (const mode of ['on', 'off'] as const) {
      await sleep(GAP_MS);
      times[mode].push((await httpShoot(mode === 'on' ? base : `${base}&settle=false`)()).ms);
    }
  }
  console.log(`  settle: p50 ${median(times.on).toFixed(0)} ms on, ${median(times.off).toFixed(0)} ms off`);
  return { on: median(times.on), off: median(times.off) };
}

/** The one-vCPU run on the article page, as BENCHMARKS.md lines. */
async function oneVcpu(layout: LocalLayout, article: string, sites: string[], allow: string): Promise<string[]> {
  console.log('one vCPU and 1 GB, as on FC (article page)');
  const before = machineLoad();
  const run = await measureOneVcpu(layout, article, sites, allow, freePort);
  const report = vcpuReport(run, { before, after: machineLoad() });
  console.log('low traffic, frozen between requests (article page)');
  return [...report, ...frozenReport(await measureFrozen(layout, article, allow))];
}

/** Cold starts of the layer, of @sparticuz/chromium unpacked at start, and of the seed sample, alternating. */
async function measureCold(layout: LocalLayout, fx: { allowEntry: string }, article: string) {
  console.log('cold starts (process start → first image, article page)');
  const cold: Record<string, number[]> = { layer: [], unpack: [], seed: [], layerOneVcpu: [], seedOneVcpu: [] };
  const timelines: ColdTimeline[] = [];
  const confined = {
    core: hasTaskset() && cpus().length > 1 ? cpus().length - 1 : undefined,
    memoryMb: loadFunctionSpec().memorySize,
  };
  /** The seed sample's cold start, with a temp dir of its own, as it is or `confine`d. */
  const seedCold = async (confine?: typeof confined) => {
    const seedTmp = mkdtempSync(join(tmpdir(), 'bench-seed-'));
    const args = ['--import', 'tsx', join(ROOT, 'bench/seed-server.ts')];
    try {
      const start = (port: number) => {
        const env = { ...process.env, PORT: String(port), TMPDIR: seedTmp };
        return confine
          ? startConfined(ownNode(layout, 'seed'), args, { env, ...confine })
          : spawn(ownNode(layout, 'seed'), args, { env, stdio: 'ignore' });
      };
      return (await coldStart(start, article)).ms;
    } finally {
      rmSync(seedTmp, { recursive: true, force: true });
    }
  };
  for (let i = 0; i < COLD_RUNS; i++) {
    const layer = await coldStart((port) => {
      // info: the log lines the timeline is read from
      const { cmd, args, env, cwd } = localProcess(layout, port, { EGRESS_ALLOW: fx.allowEntry, LOG_LEVEL: 'info' });
      return spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'ignore'] });
    }, article);
    cold.layer!.push(layer.ms);
    if (layer.timeline) timelines.push(layer.timeline);
    const unpackDir = mkdtempSync(join(tmpdir(), 'bench-unpack-'));
    cold.unpack!.push(
      (
        await coldStart(
          (port) =>
            spawn(process.execPath, [join(BUILD, 'code/server.cjs')], {
              env: {
                PATH: process.env.PATH!,
                NODE_PATH: join(ROOT, 'node_modules'),
                PORT: String(port),
                LAYER_ROOT: '/nonexistent',
                EMBEDDED_CHROMIUM_DIR: unpackDir,
                EGRESS_ALLOW: fx.allowEntry,
                LOG_LEVEL: 'warn',
              },
              stdio: 'ignore',
            }),
          article,
        )
      ).ms,
    );
    rmSync(unpackDir, { recursive: true, force: true });
    cold.seed!.push(await seedCold());
    // The layer and the seed sample again, each confined as on FC (1 GB, one vCPU, one core).
    cold.layerOneVcpu!.push(
      (
        await coldStart((port) => {
          const { cmd, args, env, cwd } = localProcess(layout, port, {
            EGRESS_ALLOW: fx.allowEntry,
            LOG_LEVEL: 'warn',
          });
          return startConfined(cmd, args, { env, cwd, ...confined });
        }, article)
      ).ms,
    );
    cold.seedOneVcpu!.push(await seedCold(confined));
    console.log(
      `  run ${i + 1}: layer ${cold.layer!.at(-1)!.toFixed(0)} ms, unpack-at-start ${cold.unpack!.at(-1)!.toFixed(0)} ms, seed ${cold.seed!.at(-1)!.toFixed(0)} ms; one vCPU: layer ${cold.layerOneVcpu!.at(-1)!.toFixed(0)} ms, seed ${cold.seedOneVcpu!.at(-1)!.toFixed(0)} ms`,
    );
  }
  return { cold, timelines };
}

/** Puts `lines` in place of the section of BENCHMARKS.md whose heading starts with `heading`. */
function replaceSection(heading: string, lines: string[]): void {
  const file = join(ROOT, 'BENCHMARKS.md');
  const old = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const at = old.indexOf(heading);
  const after = at < 0 ? '' : old.slice(at + heading.length);
  const next = after.search(/^## /m);
  const rest = next < 0 ? '' : after.slice(next);
  const head = at < 0 ? `${old.trimEnd()}\n\n` : old.slice(0, at);
  writeFileSync(file, `${head}${lines.join('\n')}\n${rest}`);
}

async function main() {
  console.log('building the artefacts (cached)…');
  await buildAll({ log: () => undefined });
  const layout = await layOut();
  const fx = await startBenchFixtures();
  const article = `${fx.origin}/article`;
  const articleOnSites = fx.siteOrigins.map((origin) => `${origin}/article`);
  // One section alone, rewritten in place in BENCHMARKS.md.
  const only = process.env.BENCH_ONLY;
  if (only === 'vcpu' || only === 'cold' || only === 'formats') {
    const section =
      only === 'vcpu'
        ? await oneVcpu(layout, article, articleOnSites, fx.allowEntry)
        : only === 'cold'
          ? await measureCold(layout, fx, article).then(({ cold, timelines }) => coldReport(cold, timelines))
          : formatsReport(await measureFormats(layout, article, fx.allowEntry, freePort));
    await fx.close();
    replaceSection({ vcpu: VCPU_SECTION, cold: COLD_SECTION, formats: FORMATS_SECTION }[only], section);
    console.log(`\nwrote the ${only} section of BENCHMARKS.md`);
    return;
  }
  const simple = `${fx.origin}/simple`;
  const rows: Array<Row & { page: string; timings?: string[] }> = [];

  for (const [page, url] of [
    ['article', article],
    ['simple', simple],
  ] as const) {
    console.log(`warm runs on the ${page} page (service and floor interleaved)`);
    const svc = await startService(layout, fx.allowEntry, { TRUST_SPKI: fx.spki });
    const shootService = httpShoot(`http://127.0.0.1:${svc.port}/?url=${encodeURIComponent(url)}`);
    const floorArgs = [join(layout.opt, 'chromium/chromium'), join(layout.opt, 'lib'), fx.spki];
    const floor = fork(join(ROOT, 'bench/floor.ts'), floorArgs, {
      execPath: ownNode(layout, 'floor'),
      execArgv: ['--import', 'tsx'],
      stdio: 'ignore',
    });
    await new Promise((r) => floor.once('message', r));
    const ask = (n: number, concurrency: number) =>
      new Promise<{ latencies: number[]; wallMs: number }>((resolve) => {
        floor.once('message', (m) => resolve(m as { latencies: number[]; wallMs: number }));
        floor.send({ n, concurrency, urls: [url] });
      });
    for (let i = 0; i < 3; i++) {
      await shootService();
      await ask(1, 1);
    }
    // Warm latency, one request at a time, the two alternating so drift on a shared machine hits both alike.
    const warm = { service: [] as number[], floor: [] as number[], timings: [] as string[] };
    for (let i = 0; i < WARM_N; i++) {
      await sleep(GAP_MS);
      const r = await shootService();
      warm.service.push(r.ms);
      if (r.timing) warm.timings.push(r.timing);
      await sleep(GAP_MS);
      warm.floor.push((await ask(1, 1)).latencies[0]!);
    }
    // Throughput, closed loop, two rounds each, alternating.
    const done = { service: {} as Record<number, number>, floor: {} as Record<number, number> };
    const peak = { service: 0, floor: 0 };
    for (const c of [1, 2, 4]) {
      const time = { service: 0, floor: 0 };
      for (let round = 0; round < 2; round++) {
        const s1 = await peakPss(svc.child.pid!, () => load(shootService, c, LOAD_PER_SLOT * c));
        time.service += (LOAD_PER_SLOT * c) / s1.result.rps;
        const f1 = await peakPss(floor.pid!, () => ask(LOAD_PER_SLOT * c, c));
        time.floor += f1.result.wallMs / 1000;
        if (c === 4) {
          peak.service = Math.max(peak.service, s1.peakMb);
          peak.floor = Math.max(peak.floor, f1.peakMb);
        }
      }
      done.service[c] = (2 * LOAD_PER_SLOT * c) / time.service;
      done.floor[c] = (2 * LOAD_PER_SLOT * c) / time.floor;
    }
    floor.send('exit');
    await new Promise((r) => floor.once('exit', r));
    if (page === 'simple') settle = await settleCost(svc.port, url);
    await stop(svc.child);
    for (const name of ['service', 'floor'] as const) {
      const row = {
        page,
        name,
        p50: median(warm[name]),
        p95: pct(warm[name], 95),
        rps: done[name],
        peakMb: peak[name],
      };
      rows.push(name === 'service' ? { ...row, timings: warm.timings } : row);
      console.log(
        `  ${name}: p50 ${row.p50.toFixed(0)} ms, ${row.rps[4]!.toFixed(2)}/s at 4, peak ${row.peakMb.toFixed(0)} MB`,
      );
    }

    // the seed's sample approach
    const seedTmp = mkdtempSync(join(tmpdir(), 'bench-seed-'));
    const seedPort = await freePort();
    const seed = spawn(ownNode(layout, 'seed'), ['--import', 'tsx', join(ROOT, 'bench/seed-server.ts')], {
      env: { ...process.env, PORT: String(seedPort), TMPDIR: seedTmp },
      stdio: 'ignore',
    });
    await waitForPort(seedPort, seed);
    rows.push({
      page,
      ...(await measureHttp(
        'seed',
        seed.pid!,
        `http://127.0.0.1:${seedPort}/?url=${encodeURIComponent(url)}`,
        SEED_WARM_N,
      )),
    });
    await stop(seed);
    rmSync(seedTmp, { recursive: true, force: true });
  }

  const tls = await measureHttps(layout, fx);

  const { cold, timelines } = await measureCold(layout, fx, article);
  const vcpu = await oneVcpu(layout, article, articleOnSites, fx.allowEntry);
  console.log('what each format costs (one vCPU)');
  const formats = formatsReport(await measureFormats(layout, article, fx.allowEntry, freePort));
  await fx.close();
  rmSync(layout.opt, { recursive: true, force: true });

  writeFileSync(
    join(ROOT, 'BENCHMARKS.md'),
    report(rows, cold, timelines, [...vcpu, ...formats], { gapMs: GAP_MS, settle }) + httpsReport(tls),
  );
  console.log('\nwrote BENCHMARKS.md');
}

/**
 * The article page over plain HTTP and over HTTPS with HTTP/2, service and floor, interleaved request
 * by request in one run. The egress proxy pipes bytes either way (one SOCKS5 connection per origin
 * and connection Chromium opens). The floor (no proxy) gives TLS's own cost.
 */
async function measureHttps(layout: LocalLayout, fx: Awaited<ReturnType<typeof startBenchFixtures>>) {
  console.log('the article page over HTTP and over HTTPS (HTTP/2), service and floor interleaved');
  const url: Record<Scheme, string> = { http: `${fx.origin}/article`, https: `${fx.httpsOrigin}/article` };
  const svc = await startService(layout, fx.allowEntry, { TRUST_SPKI: fx.spki });
  const floorArgs = [join(layout.opt, 'chromium/chromium'), join(layout.opt, 'lib'), fx.spki];
  const floor = fork(join(ROOT, 'bench/floor.ts'), floorArgs, {
    execPath: ownNode(layout, 'floor'),
    execArgv: ['--import', 'tsx'],
    stdio: 'ignore',
  });
  await new Promise((r) => floor.once('message', r));
  const ask = (target: string, n: number, concurrency: number) =>
    new Promise<{ latencies: number[]; wallMs: number }>((resolve) => {
      floor.once('message', (m) => resolve(m as { latencies: number[]; wallMs: number }));
      floor.send({ n, concurrency, urls: [target] });
    });
  const service = (s: Scheme) => httpShoot(`http://127.0.0.1:${svc.port}/?url=${encodeURIComponent(url[s])}`);
  const warm = {
    service: { http: [] as number[], https: [] as number[] },
    floor: { http: [] as number[], https: [] as number[] },
  };
  for (let i = 0; i < 3; i++) {
    for (const s of ['http', 'https'] as const) await Promise.all([service(s)(), ask(url[s], 1, 1)]);
  }
  for (let i = 0; i < WARM_N; i++) {
    for (const s of ['http', 'https'] as const) {
      await sleep(GAP_MS);
      warm.service[s].push((await service(s)()).ms);
      await sleep(GAP_MS);
      warm.floor[s].push((await ask(url[s], 1, 1)).latencies[0]!);
    }
  }
  const rows: Record<'service' | 'floor', TlsRow> = {
    service: {
      p50: { http: median(warm.service.http), https: median(warm.service.https) },
      rps4: { http: 0, https: 0 },
    },
    floor: { p50: { http: median(warm.floor.http), https: median(warm.floor.https) }, rps4: { http: 0, https: 0 } },
  };
  for (const s of ['http', 'https'] as const) {
    rows.service.rps4[s] = (await load(service(s), 4, LOAD_PER_SLOT * 4)).rps;
    rows.floor.rps4[s] = (LOAD_PER_SLOT * 4) / ((await ask(url[s], LOAD_PER_SLOT * 4, 4)).wallMs / 1000);
  }
  floor.send('exit');
  await new Promise((r) => floor.once('exit', r));
  await stop(svc.child);
  for (const name of ['service', 'floor'] as const) {
    const row = rows[name];
    const p50 = `p50 http ${row.p50.http.toFixed(0)} ms, https ${row.p50.https.toFixed(0)} ms`;
    console.log(`  ${name}: ${p50}; @4 http ${row.rps4.http.toFixed(2)}/s, https ${row.rps4.https.toFixed(2)}/s`);
  }
  return rows;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
