/**
 * The floor: one warm Chromium driven directly over CDP, a fresh context per shot, no HTTP, no
 * re-encoding (Chromium's own PNG). Runs as a child process so its memory is measured on its own;
 * the parent sends {n, concurrency, urls} and gets the latencies (and the number of failed shots) back.
 */
import puppeteer from 'puppeteer-core';

const [binary, libDir, spki] = process.argv.slice(2);
/** The HTTPS fixtures' test certificate, trusted by its public-key hash. */
const trust = spki ? [`--ignore-certificate-errors-spki-list=${spki}`] : [];
const browser = await puppeteer.launch({
  executablePath: binary,
  headless: 'shell',
  pipe: true,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-dev-shm-usage',
    '--disable-background-networking',
    '--disable-component-update',
    '--no-first-run',
    '--hide-scrollbars',
    ...trust,
  ],
  env: { ...process.env, LD_LIBRARY_PATH: libDir ?? '' },
});

async function shot(url: string): Promise<number> {
  const started = performance.now();
  const context = await browser.createBrowserContext();
  let png: Uint8Array;
  try {
    const page = await context.newPage();
    await page.setViewport({ width: 1280, height: 800 });
    await page.goto(url, { waitUntil: 'load' });
    png = await page.screenshot({ type: 'png' });
  } finally {
    await context.close().catch(() => undefined);
  }
  if (png.length < 1000) throw new Error('empty shot');
  return performance.now() - started;
}

/** `urls` are taken in turn, one per shot. */
process.on('message', async (msg: { n: number; concurrency: number; urls: string[] } | 'exit') => {
  if (msg === 'exit') {
    await browser.close();
    process.exit(0);
  }
  const latencies: number[] = [];
  let failures = 0;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: msg.concurrency }, async () => {
      while (next < msg.n) {
        const url = msg.urls[next % msg.urls.length]!;
        next += 1;
        try {
          latencies.push(await shot(url));
        } catch {
          failures += 1;
        }
      }
    }),
  );
  process.send!({ latencies, failures, wallMs: performance.now() - started });
});
process.send!('ready');
