/**
 * FC's custom-runtime lifecycle hooks against the real service and a real Chromium:
 * POST /initialize launches Chromium and readies the spare page before any capture; GET /pre-stop
 * lets the capture in flight finish, then leaves no Chromium, no profile folder and no capture file.
 * The same through the built function (server.cjs from the code package, node and Chromium from the
 * layers, s.yaml's environment, FC_CUSTOM_LISTEN_PORT), then SIGTERM. Also: the port variables.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startLocal } from '../fc/harness/fc-local.js';
import { loadConfig } from '../src/config.js';
import { colourPage, startFixtures, type FixtureServer } from './helpers/fixtures.js';
import { isAlive, shutdownClean, startService, type TestService, withOwnService } from './helpers/service.js';

let fixtures: FixtureServer;
let svc: TestService;

beforeAll(async () => {
  fixtures = await startFixtures();
  fixtures.route('/slow', (_req, res) => {
    setTimeout(() => res.writeHead(200, { 'content-type': 'text/html' }).end(colourPage('#0f0')), 1500);
  });
  // FC sets FC_FUNCTION_NAME; the hooks are served only there.
  svc = await startService({ EGRESS_ALLOW: fixtures.allowEntry, FC_FUNCTION_NAME: 'screenshot' });
});
afterAll(async () => {
  await shutdownClean(svc);
  await fixtures.close();
});

/**
 * The --type of every process under Chromium's (renderers, GPU, utilities with their sub-type, as in
 * `utility:network.mojom.NetworkService`; renderers hang off the zygote).
 */
function descendantTypes(pid: number): string[] {
  const procs: Array<{ pid: number; ppid: number; type?: string }> = [];
  for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const ppid = Number(/PPid:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1]);
      const cmdline = readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ');
      const type = /--type=(\S+)/.exec(cmdline)?.[1];
      const sub = /--utility-sub-type=(\S+)/.exec(cmdline)?.[1];
      procs.push({ pid: Number(p), ppid, type: sub ? `${type}:${sub}` : type });
    } catch {
      // gone while we looked
    }
  }
  const under = new Set([pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of procs) {
      if (under.has(p.ppid) && !under.has(p.pid)) {
        under.add(p.pid);
        grew = true;
      }
    }
  }
  return procs.filter((p) => p.pid !== pid && under.has(p.pid)).map((p) => p.type ?? '?');
}

const profileOf = (pid: number) =>
  /--user-data-dir=(\S+)/.exec(readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' '))?.[1];

/** What FC sends with its own call to a hook: the hook's path in x-fc-control-path (and a request id). */
const hook = (path: string, id = 'hook') => ({ 'x-fc-control-path': path, 'x-fc-request-id': id });

describe('FC lifecycle hooks', () => {
  let chromiumPid: number;
  let profile: string | undefined;

  it('POST /initialize answers 200 once Chromium is up with a spare page (nothing launched before)', async () => {
    expect(svc.browser.pid).toBeUndefined();
    const write = vi.spyOn(process.stdout, 'write');
    const res = await fetch(`${svc.origin}/initialize`, { method: 'POST', headers: hook('/initialize', 'init-1') });
    const lines = write.mock.calls.map((c) => String(c[0]));
    write.mockRestore();
    expect(res.status).toBe(200);
    const body = (await res.json()) as { status: string; chromium: { pid: number; source: string } };
    expect(body.status).toBe('initialized');
    chromiumPid = body.chromium.pid;
    expect(chromiumPid).toBe(svc.browser.pid);
    expect(isAlive(chromiumPid)).toBe(true);
    expect(await svc.browser.ready()).toBe(true);
    // the spare page is a live renderer before any capture asked for one, and the only one: Chromium
    // opens no tab of its own
    expect(descendantTypes(chromiumPid).filter((type) => type === 'renderer')).toHaveLength(1);
    // and the network service runs in the browser process, not a utility process of its own (flags.ts,
    // NetworkServiceInProcess2: a Chromium that no longer knew the feature would ignore it silently)
    expect(descendantTypes(chromiumPid)).not.toContain('utility:network.mojom.NetworkService');
    profile = profileOf(chromiumPid);
    expect(profile && existsSync(profile)).toBe(true);
    // framed the way FC's runtimes frame hooks, not as an invocation
    expect(lines).toContain('FC Initialize Start RequestId: init-1\n');
    expect(lines).toContain('FC Initialize End RequestId: init-1\n');
    expect(lines.some((l) => l.startsWith('FC Invoke'))).toBe(false);
  });

  it('a second /initialize reuses the same Chromium', async () => {
    const res = await fetch(`${svc.origin}/initialize`, { method: 'POST', headers: hook('/initialize') });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { chromium: { pid: number } }).chromium.pid).toBe(chromiumPid);
  });

  it('are not for callers: without FC’s control path (or with the trigger’s), 404 like any unknown route', async () => {
    const asks: Array<[string, string, Record<string, string>]> = [
      ['POST', '/initialize', {}],
      ['GET', '/pre-stop', {}],
      ['GET', '/pre-stop', { 'x-fc-control-path': '/http-invoke', 'x-fc-request-id': 'caller' }],
      ['GET', '/pre-stop', { 'x-fc-control-path': '/initialize' }],
      ['PUT', '/no-such-route', {}],
    ];
    for (const [method, path, headers] of asks) {
      const res = await fetch(`${svc.origin}${path}`, { method, headers });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(await res.json()).toMatchObject({ error: 'not_found', message: `no route ${method} ${path}` });
    }
    // nothing stopped: the same Chromium, and the instance still captures
    expect(svc.browser.pid).toBe(chromiumPid);
    const shot = await fetch(`${svc.origin}/?url=${encodeURIComponent(`${fixtures.origin}/red`)}&width=40&height=30`);
    expect(shot.status).toBe(200);
    await shot.arrayBuffer();
    // a capture fetched its page, and still no network process of Chromium's own
    expect(descendantTypes(chromiumPid)).not.toContain('utility:network.mojom.NetworkService');
  });

  it('are not served off FC (no FC_FUNCTION_NAME, as with npm start): 404 even with the control header', async () => {
    await withOwnService({}, async (local) => {
      for (const [method, path] of [
        ['POST', '/initialize'],
        ['GET', '/pre-stop'],
      ] as const) {
        const res = await fetch(`${local.origin}${path}`, {
          method,
          headers: hook(path),
        });
        expect(res.status, path).toBe(404);
        expect(await res.json()).toMatchObject({ error: 'not_found' });
      }
    });
  });

  it('GET /pre-stop lets the capture in flight finish, then leaves no Chromium, profile or capture file of its own', async () => {
    // a capture file of this process still on disk, as a client that vanished mid-stream could leave
    writeFileSync(svc.files.create('png'), 'x');
    // not ours: another process's capture file in a shared /tmp, a folder and a file that only share the prefix
    const foreign = 'fcshot-00000000-0000-4000-8000-000000000000.png';
    writeFileSync(join(svc.captureDir, foreign), 'x');
    mkdirSync(join(svc.captureDir, 'fcshot-profile-other'));
    writeFileSync(join(svc.captureDir, 'fcshot-notes.txt'), 'keep');
    const capture = fetch(`${svc.origin}/?url=${encodeURIComponent(`${fixtures.origin}/slow`)}`);
    await new Promise((r) => setTimeout(r, 300)); // the capture is waiting for /slow
    const preStop = await fetch(`${svc.origin}/pre-stop`, { headers: hook('/pre-stop') });
    const shot = await capture;
    expect(shot.status).toBe(200);
    expect(shot.headers.get('content-type')).toBe('image/png');
    expect((await shot.arrayBuffer()).byteLength).toBeGreaterThan(100);

    expect(preStop.status).toBe(200);
    const body = (await preStop.json()) as { status: string; removedCaptureFiles: number };
    expect(body.status).toBe('stopped');
    expect(body.removedCaptureFiles).toBe(1);
    expect(isAlive(chromiumPid)).toBe(false);
    expect(descendantTypes(chromiumPid)).toEqual([]);
    expect(existsSync(profile!)).toBe(false);
    expect(readdirSync(svc.captureDir).sort()).toEqual([foreign, 'fcshot-notes.txt', 'fcshot-profile-other']);
    rmSync(join(svc.captureDir, foreign));
    rmSync(join(svc.captureDir, 'fcshot-notes.txt'));
    rmSync(join(svc.captureDir, 'fcshot-profile-other'), { recursive: true });
  });

  it('after /pre-stop: captures get 503 with Retry-After, /healthz still answers, /pre-stop again is 200', async () => {
    const res = await fetch(`${svc.origin}/?url=${encodeURIComponent(`${fixtures.origin}/red`)}`);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(((await res.json()) as { error: string }).error).toBe('unavailable');
    expect((await fetch(`${svc.origin}/healthz`)).status).toBe(200);
    expect((await fetch(`${svc.origin}/readyz`)).status).toBe(503);
    expect((await fetch(`${svc.origin}/pre-stop`, { headers: hook('/pre-stop') })).status).toBe(200);
    expect(svc.browser.pid).toBeUndefined();
  });
});

describe('through the built function (npm run fc:local)', () => {
  it('/initialize, /pre-stop, then SIGTERM: 200, 200, exit 0, no Chromium or profile left', async () => {
    const captureDir = mkdtempSync(join(tmpdir(), 'fcshot-local-captures-'));
    // Counts the function's questions whether stderr is a terminal, and the loggers the `debug` package
    // makes (each picks a colour): puppeteer logs every CDP message, and would make a logger and ask once
    // per message without src/puppeteer-debug.ts.
    const ttyCount = join(captureDir, 'isatty-calls');
    const loggerCount = join(captureDir, 'debug-loggers');
    const counter = join(captureDir, 'count-isatty.cjs');
    writeFileSync(
      counter,
      `const tty = require('node:tty'); const fs = require('node:fs'); const isatty = tty.isatty; let n = 0;
       tty.isatty = (fd) => { if (fd === 2) n += 1; return isatty(fd); };
       const Module = require('node:module'); const load = Module._load; let loggers = 0; let hooked = false;
       Module._load = function (...args) {
         const m = load.apply(this, args);
         if (!hooked && typeof m === 'function' && typeof m.selectColor === 'function' && typeof m.humanize === 'function') {
           hooked = true; const selectColor = m.selectColor;
           m.selectColor = (name) => { loggers += 1; return selectColor(name); };
         }
         return m;
       };
       process.on('exit', () => {
         fs.writeFileSync(${JSON.stringify(ttyCount)}, String(n));
         fs.writeFileSync(${JSON.stringify(loggerCount)}, String(loggers));
       });`,
    );
    const fn = await startLocal({
      port: 0,
      extraEnv: { CAPTURE_DIR: captureDir, NODE_OPTIONS: `--require ${JSON.stringify(counter)}` },
    });
    try {
      const init = await fetch(`http://127.0.0.1:${fn.port}/initialize`, {
        method: 'POST',
        headers: hook('/initialize', 'local-init'),
      });
      expect(init.status, fn.output()).toBe(200);
      const { chromium } = (await init.json()) as { chromium: { pid: number; source: string } };
      expect(chromium.source).toBe('CHROMIUM_PATH'); // s.yaml names the layer's binary
      expect(readFileSync(`/proc/${chromium.pid}/cmdline`, 'utf8')).toContain(`${fn.layout.opt}/chromium/chromium`);
      const profile = profileOf(chromium.pid)!;
      const stop = await fetch(`http://127.0.0.1:${fn.port}/pre-stop`, {
        headers: hook('/pre-stop', 'local-stop'),
      });
      expect(stop.status).toBe(200);
      expect(isAlive(chromium.pid)).toBe(false);
      expect(existsSync(profile)).toBe(false);
      expect(fn.output()).toContain('FC Initialize End RequestId: local-init');
      expect(fn.output()).toContain('FC PreStop End RequestId: local-stop');
      expect(await fn.stop()).toBe(0);
      // Over the function's life: launching Chromium and readying its spare page took dozens of CDP messages.
      expect(Number(readFileSync(ttyCount, 'utf8'))).toBeLessThan(3);
      // One logger for each name puppeteer logs under (9 here: sent, received, …), not one per message
      // (81 here without src/puppeteer-debug.ts).
      const loggers = Number(readFileSync(loggerCount, 'utf8'));
      expect(loggers).toBeGreaterThanOrEqual(2); // sent and received, at least: the count is live
      expect(loggers).toBeLessThan(20);
    } finally {
      await fn.stop();
      rmSync(captureDir, { recursive: true, force: true });
    }
  }, 120_000); // unzipping the layers into the stand-in /opt comes first
});

describe('listening port', () => {
  it('PORT, else FC_CUSTOM_LISTEN_PORT (FC 3.0), else FC_SERVER_PORT, else 9000', () => {
    expect(loadConfig({}).port).toBe(9000);
    expect(loadConfig({ FC_SERVER_PORT: '8080' }).port).toBe(8080);
    expect(loadConfig({ FC_CUSTOM_LISTEN_PORT: '9100', FC_SERVER_PORT: '8080' }).port).toBe(9100);
    expect(loadConfig({ PORT: '7000', FC_CUSTOM_LISTEN_PORT: '9100' }).port).toBe(7000);
    expect(() => loadConfig({ FC_CUSTOM_LISTEN_PORT: 'x' })).toThrow(/FC_CUSTOM_LISTEN_PORT/);
  });
});
