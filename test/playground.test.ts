/**
 * GET /playground driven in a real Chromium (a second one, launched here as the person's browser)
 * against the real service, which needs a token and accepts signed URLs: the form is the schema, a
 * capture shows the image, the curl line it shows makes the same image, the timing bar has the
 * Server-Timing phases, and a refused option is marked on its own field.
 *
 * PLAYGROUND_SCREENSHOT=1 also writes docs/playground.png (the README's picture).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { locateChromium } from '../src/browser/locate.js';
import { loadConfig } from '../src/config.js';
import { GROUPS, groupOf } from '../src/http/playground.js';
import { DEVICES, OptionsSchema } from '../src/options.js';
import { queryOf, sign } from '../src/policy/access.js';
import { startFixtures, type FixtureServer } from './helpers/fixtures.js';
import { rgbAt } from './helpers/pixels.js';
import { shutdownClean, startService, type TestService } from './helpers/service.js';
import { curlToRequest, shellWords } from './helpers/shell-words.js';

const TOKEN = 'pg-token-3f9c1d';
const SECRET = 'pg-signing-secret';
const DARK = [0x10, 0x20, 0x30];
/** A page that answers darkMode, has an element to hide, and records the headers it was asked with. */
const PAGE = `<!doctype html><html><head><style>
html,body{margin:0;height:100%;background:#fff}@media (prefers-color-scheme:dark){html,body{background:#102030}}
#ad{position:absolute;left:0;top:0;width:60px;height:60px;background:#f00}
h1{margin:0;padding:80px 24px 0;font:600 28px system-ui,sans-serif;color:#7fb3ff}
</style></head><body><div id="ad"></div><h1>A page to capture</h1></body></html>`;

let fixtures: FixtureServer;
let svc: TestService;
let browser: Browser;
let page: Page;
const seenHeaders: Array<Record<string, unknown>> = [];
/** The image the curl line made, read as node would send it. */
let reference: Buffer;

beforeAll(async () => {
  fixtures = await startFixtures();
  fixtures.route('/page', (req, res) => {
    seenHeaders.push(req.headers);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
  });
  svc = await startService({ EGRESS_ALLOW: fixtures.allowEntry, AUTH_TOKEN: TOKEN, SIGNING_SECRET: SECRET });
  const chromium = await locateChromium(loadConfig());
  browser = await puppeteer.launch({
    executablePath: chromium.path,
    headless: 'shell',
    pipe: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
    env: { ...process.env, ...chromium.env },
    defaultViewport: { width: 1280, height: 900 },
  });
  page = await browser.newPage();
  // network idle: /openapi.json has come back and the form is built from it
  await page.goto(`${svc.origin}/playground`, { waitUntil: 'networkidle0' });
});

afterAll(async () => {
  await browser?.close();
  if (svc) await shutdownClean(svc);
  await fixtures?.close();
});

const text = (selector: string) => page.$eval(selector, (el) => el.textContent ?? '');
const dd = (key: string) => text(`#meta dd[data-header="${key}"]`);

async function openGroup(id: string) {
  if (!(await page.$eval(`details[data-group="${id}"]`, (d) => (d as HTMLDetailsElement).open))) {
    await page.click(`details[data-group="${id}"] > summary`);
  }
}

async function retype(selector: string, value: string) {
  await page.click(selector, { count: 3 });
  await page.keyboard.press('Backspace');
  await page.type(selector, value);
}

async function clear(selector: string) {
  await page.$eval(selector, (el) => {
    (el as HTMLInputElement).value = '';
    el.dispatchEvent(new Event('input', { bubbles: true }));
  });
}

/** The RGB of a pixel of the image shown, as the page decoded it. */
const shownPixel = (x: number, y: number) =>
  page.$eval(
    '#shot',
    (img, x, y) => {
      const canvas = document.createElement('canvas');
      canvas.width = (img as HTMLImageElement).naturalWidth;
      canvas.height = (img as HTMLImageElement).naturalHeight;
      const context = canvas.getContext('2d')!;
      context.drawImage(img as HTMLImageElement, 0, 0);
      return [...context.getImageData(x, y, 1, 1).data.slice(0, 3)];
    },
    x,
    y,
  );

/** Presses Capture and waits for the answer to be shown (image or error). */
async function capture() {
  await page.$eval('#meta', (el) => (el.textContent = ''));
  await page.click('#go');
  await page.waitForFunction(
    () => {
      const img = document.querySelector('#shot') as HTMLImageElement | null;
      const failed = !(document.getElementById('error') as HTMLElement).hidden;
      return document.querySelector('#meta dd') && (failed || (img?.complete && img.naturalWidth > 0));
    },
    { timeout: 30_000 },
  );
}

describe('the playground', () => {
  it('is generated from the schema: one field per option, in groups, enums as selects, devices listed', async () => {
    const options = Object.keys(OptionsSchema.properties).sort();
    const sent = await page.$$eval('#form [name]', (els) => [...new Set(els.map((e) => e.getAttribute('name')))]);
    expect(sent.sort()).toEqual(options);
    const names = await page.$$eval('[data-option]', (els) => els.map((e) => e.getAttribute('data-option')));
    expect(names.sort()).toEqual(options);
    const devices = await page.$$eval('#opt-device option', (os) => os.map((o) => (o as HTMLOptionElement).value));
    expect(devices.filter(Boolean)).toEqual(DEVICES);
    const kinds = await page.$$eval('[data-option]', (els) =>
      Object.fromEntries(els.map((e) => [e.getAttribute('data-option'), e.getAttribute('data-kind')])),
    );
    expect(kinds).toMatchObject({
      url: 'text',
      width: 'number',
      darkMode: 'boolean',
      format: 'enum',
      blockResources: 'set',
      hide: 'lines',
      headers: 'json',
      cookies: 'json',
      token: 'secret',
    });
    expect(await page.$eval('#opt-width', (i) => [i.getAttribute('min'), i.getAttribute('max')])).toEqual([
      '16',
      '3840',
    ]);
    expect(await text('[data-option="width"] .help')).toBe(OptionsSchema.properties.width.description);
    // every option sits in the group named for it; an option no group names lands in the last one
    for (const name of names) {
      const group = await page.$eval(`[data-option="${name}"]`, (e) => e.closest('details')!.dataset.group);
      expect(group, String(name)).toBe(groupOf(name!));
    }
    expect(groupOf('anOptionAddedLater')).toBe(GROUPS.at(-1)!.id);
    expect(options).toEqual(expect.arrayContaining(GROUPS.flatMap((g) => g.options))); // no group names a stale option
    expect(await text('#access')).toContain('npm run sign-url');
  });

  it('shows an option added to the schema, in the default group, with no other change', async () => {
    const other = await browser.newPage();
    try {
      await other.setRequestInterception(true);
      other.on('request', async (r) => {
        if (!r.url().endsWith('/openapi.json')) return r.continue();
        const doc = await (await fetch(r.url())).json();
        const body = doc.paths['/'].post.requestBody.content['application/json'].schema;
        body.properties.shadowDepth = { type: 'integer', minimum: 0, maximum: 9, description: 'A new option' };
        return r.respond({ contentType: 'application/json', body: JSON.stringify(doc) });
      });
      await other.goto(`${svc.origin}/playground`, { waitUntil: 'networkidle0' });
      const field = await other.$eval('[data-option="shadowDepth"]', (e) => ({
        group: e.closest('details')!.dataset.group,
        kind: e.getAttribute('data-kind'),
        help: e.querySelector('.help')!.textContent,
      }));
      expect(field).toEqual({ group: GROUPS.at(-1)!.id, kind: 'number', help: 'A new option' });
    } finally {
      await other.close();
    }
  });

  it('captures with options of every kind; its curl line makes the same image; the bar has the phases', async () => {
    await page.type('#opt-url', `${fixtures.origin}/page`);
    await retype('#opt-width', '320');
    await retype('#opt-height', '200');
    await page.click('#opt-darkMode');
    await page.select('#opt-format', 'png');
    await openGroup('waits');
    await page.select('#opt-waitUntil', 'domcontentloaded');
    await openGroup('changes');
    await page.type('#opt-hide', '#ad');
    await openGroup('network');
    await page.click('input[name="blockResources"][value="font"]');
    await page.type('#opt-headers', '{"X-Playground": "yes"}');
    await openGroup('access');
    await page.type('#opt-token', TOKEN);

    const json = JSON.parse(await text('#code-json'));
    expect(json).toEqual({
      url: `${fixtures.origin}/page`,
      width: 320,
      height: 200,
      darkMode: true,
      format: 'png',
      waitUntil: 'domcontentloaded',
      hide: ['#ad'],
      blockResources: ['font'],
      headers: { 'X-Playground': 'yes' },
    });
    const curl = await text('#code-curl');
    expect(curl).toContain('$TOKEN');
    for (const snippet of ['curl', 'fetch', 'json', 'url']) expect(await text(`#code-${snippet}`)).not.toContain(TOKEN);

    await capture();
    expect(page.url()).toBe(`${svc.origin}/playground`); // the token is in no URL
    expect(await dd('status')).toMatch(/^200/);
    expect(
      await page.$eval('#shot', (i) => [(i as HTMLImageElement).naturalWidth, (i as HTMLImageElement).naturalHeight]),
    ).toEqual([320, 200]);
    expect(await shownPixel(10, 10)).toEqual(DARK); // dark mode, and #ad hidden
    expect(seenHeaders.at(-1)).toMatchObject({ 'x-playground': 'yes' });
    const etag = await dd('etag');
    expect(etag).toMatch(/^"\w+"$/);
    expect(await dd('x-target-status')).toBe('200');
    expect(await dd('x-blocked-requests')).toMatch(/^\d+$/);

    // The curl line, read as a shell would, sent by node: the same image.
    const req = curlToRequest(shellWords(curl, { TOKEN }));
    expect(req.output).toBe('shot.png');
    const res = await fetch(req.url, { method: req.method, headers: req.headers, body: req.body });
    expect(res.status).toBe(200);
    reference = Buffer.from(await res.arrayBuffer());
    expect(await rgbAt(reference, 10, 10)).toEqual(DARK);
    // The ETag is the image's digest: the same bytes as the page showed.
    expect(res.headers.get('etag')).toBe(etag);
    expect(await dd('size')).toBe(`${reference.length.toLocaleString('en')} bytes`);

    // The fetch snippet, run as it is in node (TOKEN defined): the same bytes again.
    const AsyncFunction = (async () => {}).constructor as new (...args: string[]) => (t: string) => Promise<Blob>;
    const snippet = new AsyncFunction('TOKEN', `${await text('#code-fetch')}\nreturn image;`);
    expect(Buffer.from(await (await snippet(TOKEN)).arrayBuffer()).equals(reference)).toBe(true);

    // The bar and its legend: every Server-Timing phase, in order.
    const phases = (res.headers.get('server-timing') ?? '').split(', ').map((p) => p.split(';')[0]);
    expect(phases).toContain('capture');
    expect(await page.$$eval('#bar span', (s) => s.map((e) => e.getAttribute('data-phase')))).toEqual(phases);
    const legend = await page.$$eval('#phases li', (s) => s.map((e) => e.getAttribute('data-phase')));
    expect(legend).toEqual([...phases, 'total']);

    if (process.env.PLAYGROUND_SCREENSHOT) {
      await page.$eval('#form', (f) => f.scrollTo(0, 0));
      await page.screenshot({ path: join(import.meta.dirname, '..', 'docs', 'playground.png') });
    }
  });

  it('the curl line runs as it is, when curl is installed', async (ctx) => {
    const hasCurl = await promisify(execFile)('curl', ['--version']).then(
      () => true,
      () => false,
    );
    if (!hasCurl) return ctx.skip();
    const dir = mkdtempSync(join(tmpdir(), 'fcshot-curl-'));
    try {
      const curl = await text('#code-curl');
      await promisify(execFile)('sh', ['-c', curl], { cwd: dir, env: { ...process.env, TOKEN } });
      const file = readFileSync(join(dir, 'shot.png'));
      expect(file.equals(reference)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("shows the server's error and marks the field it names; bad JSON is caught before sending", async () => {
    await retype('#opt-width', '99999');
    await capture();
    expect(await dd('status')).toMatch(/^400/);
    const error = JSON.parse(await text('#error'));
    expect(error).toMatchObject({ error: 'invalid_option', field: 'width' });
    expect(await page.$$eval('.field.invalid', (f) => f.map((e) => e.getAttribute('data-option')))).toEqual(['width']);
    expect(await text('[data-option="width"] .problem')).toBe(error.message);

    await retype('#opt-width', '320');
    await page.type('#opt-cookies', '[{"name": ');
    let posted = false;
    const watch = (r: { method(): string }) => {
      if (r.method() === 'POST') posted = true;
    };
    page.on('request', watch);
    await page.click('#go');
    await page.waitForSelector('[data-option="cookies"].invalid');
    page.off('request', watch);
    expect(posted).toBe(false);
    expect(await text('[data-option="cookies"] .problem')).toMatch(/not valid JSON/);
    await clear('#opt-cookies');
  });

  it('a signed URL made from its GET URL captures without the token', async () => {
    await clear('#opt-token');
    const unsigned = new URL(await text('#code-url'));
    expect(unsigned.searchParams.getAll('hide')).toEqual(['#ad']);
    unsigned.searchParams.set('expires', String(Math.floor(Date.now() / 1000) + 600));
    const signature = sign(queryOf(unsigned.searchParams), SECRET);
    await page.type('#opt-expires', unsigned.searchParams.get('expires')!);
    await page.type('#opt-signature', signature);
    expect(await text('#code-curl')).toContain(`'${svc.origin}/?`);
    const sent = page.waitForRequest((r) => r.url().startsWith(`${svc.origin}/?`));
    await capture();
    expect((await sent).headers().authorization).toBeUndefined();
    expect(await dd('status')).toMatch(/^200/);
  });

  it('serves a static page under a strict Content-Security-Policy, whatever the query', async () => {
    const plain = await fetch(`${svc.origin}/playground`);
    const probed = await fetch(`${svc.origin}/playground?q=%3Cscript%3Ealert(1)%3C/script%3E`);
    expect(await probed.text()).toBe(await plain.text());
    expect(plain.headers.get('content-security-policy')).toMatch(/default-src 'none'.*script-src 'self'/);
    expect(plain.headers.get('x-content-type-options')).toBe('nosniff');
  });
});
