/**
 * The fidelity harness: pages built from real front-end packages that finish after `load` (data
 * fetched late, hash routes fading in, images added without a size, a Lottie file fetched late, long
 * tweens, content-visibility sections, the system-ui font stack), each captured with the defaults
 * and compared with a patient reference taken by the same service in the same run (network idle,
 * then 4 s, then the capture). A capture matches when at most 1 % of its pixels differ and no
 * 64 × 64 tile differs by more than 5 % (a small but total change is not averaged away).
 */
import sharp from 'sharp';
import type { CorpusRun } from './setup.js';

export interface FidelityCase {
  /** Path and query on the corpus server. */
  path: string;
  /** What kind of lateness it has. */
  kind: string;
  /** Extra options for both captures. */
  options?: Record<string, string | number | boolean>;
}

const p = (path: string, kind: string, options?: FidelityCase['options']): FidelityCase => ({ path, kind, options });

export const FIDELITY_CASES: FidelityCase[] = [
  p('/fid-static', 'done at load'),
  p('/fid-tailwind', 'system-ui font stack'),
  p('/fid-alpine-shell?delay=300', 'data after load'),
  p('/fid-alpine-shell?delay=900', 'data after load'),
  p('/fid-alpine-shell?delay=1600', 'data after load'),
  p('/fid-mithril?delay=400', 'data after load'),
  p('/fid-mithril?delay=1200', 'data after load'),
  p('/fid-preact?delay=700', 'data after load'),
  p('/fid-htmx?delay=300', 'data after load'),
  p('/fid-htmx?delay=1000', 'data after load'),
  p('/fid-marked?delay=600', 'data after load'),
  p('/fid-splide?delay=500', 'data after load'),
  p('/fid-petite-hash?delay=500#/report', 'hash route, fade-in'),
  p('/fid-petite-hash?delay=900&fade=js#/report', 'hash route, scripted fade-in'),
  p('/fid-late-images?delay=400', 'late images without size'),
  p('/fid-late-images?delay=1200&n=4', 'late images without size'),
  p('/fid-late-images?delay=600&n=6', 'late images without size, fullPage', { fullPage: true }),
  p('/fid-lottie?delay=300', 'Lottie fetched after load'),
  p('/fid-lottie?delay=1000', 'Lottie fetched after load'),
  p('/fid-lottie?delay=500&renderer=canvas', 'Lottie fetched after load'),
  p('/fid-countup?duration=2.5', 'long tween'),
  p('/fid-countup?duration=3.5', 'long tween'),
  p('/fid-anime?duration=2000', 'long tween'),
  p('/fid-anime?duration=3000', 'long tween'),
  p('/fid-chartjs?delay=0', 'chart animation'),
  p('/fid-chartjs?delay=700', 'data after load, chart animation'),
  p('/fid-chartjs?delay=500&type=line', 'data after load, chart animation'),
  p('/fid-chartist?delay=600', 'data after load'),
  p('/fid-dashboard?delay=500', 'data after load, counters, chart'),
  p('/fid-dashboard?delay=1200', 'data after load, counters, chart'),
  p('/content-visibility', 'content-visibility, fullPage', { fullPage: true }),
];

/** A part of the corpus quick enough for `npm test`: one page of each kind of lateness. */
export const FIDELITY_SAMPLE = [
  '/fid-static',
  '/fid-alpine-shell?delay=900',
  '/fid-petite-hash?delay=500#/report',
  '/fid-late-images?delay=400',
  '/fid-lottie?delay=1000',
  '/fid-countup?duration=2.5',
  '/fid-anime?duration=3000',
  '/content-visibility',
];

/** Options of the patient reference. */
export const PATIENT = { waitUntil: 'networkidle0', delay: 4000 } as const;

const TILE = 64;
export const MAX_DIFFERING = 0.01;
export const MAX_TILE = 0.05;

export interface Difference {
  /** Share of pixels that differ (any channel by more than 32), 0–1; 1 when the sizes differ. */
  share: number;
  /** The largest share of one 64 × 64 tile. */
  worstTile: number;
  sizes: string;
}

export async function difference(a: Buffer, b: Buffer): Promise<Difference> {
  const read = (img: Buffer) =>
    sharp(img, { limitInputPixels: false }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const [x, y] = await Promise.all([read(a), read(b)]);
  const sizes = `${x.info.width}×${x.info.height} vs ${y.info.width}×${y.info.height}`;
  if (x.info.width !== y.info.width || x.info.height !== y.info.height) return { share: 1, worstTile: 1, sizes };
  const { width, height } = x.info;
  const cols = Math.ceil(width / TILE);
  const tiles = new Map<number, number>();
  let differing = 0;
  for (let py = 0; py < height; py++) {
    for (let px = 0; px < width; px++) {
      const i = (py * width + px) * 3;
      const d = Math.max(
        Math.abs(x.data[i]! - y.data[i]!),
        Math.abs(x.data[i + 1]! - y.data[i + 1]!),
        Math.abs(x.data[i + 2]! - y.data[i + 2]!),
      );
      if (d > 32) {
        differing++;
        const t = Math.floor(py / TILE) * cols + Math.floor(px / TILE);
        tiles.set(t, (tiles.get(t) ?? 0) + 1);
      }
    }
  }
  let worstTile = 0;
  for (const [t, n] of tiles) {
    const tw = Math.min(TILE, width - (t % cols) * TILE);
    const th = Math.min(TILE, height - Math.floor(t / cols) * TILE);
    worstTile = Math.max(worstTile, n / (tw * th));
  }
  return { share: differing / (width * height), worstTile, sizes };
}

export const matches = (d: Difference) => d.share <= MAX_DIFFERING && d.worstTile <= MAX_TILE;

export interface FidelityResult extends FidelityCase {
  difference: Difference;
  matches: boolean;
  /** ms of the default capture, and its Server-Timing. */
  ms: number;
  serverTiming: string;
}

/** Captures one case with `defaults` (the service's defaults plus these) and patiently, and compares them. */
export async function compareCase(
  run: CorpusRun,
  c: FidelityCase,
  defaults: Record<string, string | number | boolean> = {},
): Promise<FidelityResult> {
  const url = `${run.corpus.http}${c.path}`;
  const base = { url, width: 1024, height: 700, ...c.options };
  const started = Date.now();
  const quick = await run.get({ ...base, ...defaults });
  const ms = Date.now() - started;
  const patient = await run.get({ ...base, ...PATIENT });
  if (quick.status !== 200 || patient.status !== 200) {
    throw new Error(`${c.path}: ${quick.status} / ${patient.status} ${String(quick.body).slice(0, 200)}`);
  }
  const d = await difference(quick.body as Buffer, patient.body as Buffer);
  return { ...c, difference: d, matches: matches(d), ms, serverTiming: String(quick.headers['server-timing'] ?? '') };
}
