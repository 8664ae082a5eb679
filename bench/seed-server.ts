/**
 * The launch-per-request sample (the approach of the article this project grew from), as a baseline: for every request, launch Chromium
 * (@sparticuz/chromium, unpacked by that package into the temp dir), navigate, screenshot to a file
 * in /tmp, return the file, close Chromium.
 */
import { readFile, unlink } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import chromium from '@sparticuz/chromium';
import puppeteer from 'puppeteer-core';

let n = 0;
const server = http.createServer(async (req, res) => {
  if (req.url === '/healthz') return void res.end('ok'); // the benchmark waits for this before measuring
  const url = new URL(req.url ?? '/', 'http://x').searchParams.get('url') ?? 'https://www.serverless-devs.com';
  const file = join(tmpdir(), `seed-${process.pid}-${n++}.png`);
  try {
    const browser = await puppeteer.launch({
      executablePath: await chromium.executablePath(),
      args: chromium.args,
      headless: 'shell',
    });
    try {
      const page = await browser.newPage();
      await page.setViewport({ width: 1280, height: 800 });
      await page.goto(url, { waitUntil: 'load' });
      await page.screenshot({ path: file });
    } finally {
      await browser.close();
    }
    const body = await readFile(file);
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': body.length }).end(body);
  } catch (err) {
    res.writeHead(500).end(String(err));
  } finally {
    await unlink(file).catch(() => undefined);
  }
});
server.listen(Number(process.env.PORT ?? 9700), '127.0.0.1');
