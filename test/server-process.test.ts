/**
 * The server entry point as a real process, the way FC's custom runtime runs it: it listens on
 * 0.0.0.0, warms Chromium at start, prints FC's invocation lines and JSON logs without secrets,
 * and on SIGTERM finishes in-flight captures, closes Chromium and exits 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { colourPage, startFixtures, type FixtureServer } from './helpers/fixtures.js';
import { isAlive } from './helpers/service.js';

let fixtures: FixtureServer;
const captureDir = mkdtempSync(join(tmpdir(), 'fcshot-proc-'));

beforeAll(async () => {
  fixtures = await startFixtures();
  fixtures.route('/slow', (_req, res) => {
    setTimeout(() => res.writeHead(200, { 'content-type': 'text/html' }).end(colourPage('#00f')), 1500);
  });
});
afterAll(async () => {
  await fixtures.close();
  rmSync(captureDir, { recursive: true, force: true });
});

interface Running {
  child: ChildProcess;
  output: () => string;
  port: number;
  chromiumPid: number;
  exited: Promise<number | null>;
}

async function startServer(): Promise<Running> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: { ...process.env, PORT: '0', EGRESS_ALLOW: fixtures.allowEntry, CAPTURE_DIR: captureDir, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const port = /Server listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[1];
    const pid = /"pid":(\d+),[^\n]*"msg":"chromium launched"/.exec(out)?.[1];
    if (port && pid) return { child, output: () => out, port: Number(port), chromiumPid: Number(pid), exited };
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`server did not start:\n${out}`);
}

describe('server process', () => {
  it('listens on all interfaces, warms Chromium, logs FC lines without secrets, and drains on SIGTERM', async () => {
    const server = await startServer();
    const out = server.output();
    expect(out).toMatch(/Server listening at http:\/\/127\.0\.0\.1:/);
    expect(out).toMatch(/"source":"embedded"/);

    const base = `http://127.0.0.1:${server.port}/?url=${encodeURIComponent(`${fixtures.origin}/slow`)}&width=64&height=64&auth=alice:PASSWORD-XYZ`;
    const inFlight = fetch(base, {
      headers: {
        'x-fc-request-id': 'req-abc',
        'x-fc-access-key-secret': 'SUPER-SECRET',
        'x-fc-security-token': 'TOKEN-XYZ',
      },
    });
    await new Promise((r) => setTimeout(r, 400));
    server.child.kill('SIGTERM');

    const res = await inFlight;
    expect(res.status).toBe(200);
    expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(0);
    expect(await server.exited).toBe(0);
    expect(isAlive(server.chromiumPid)).toBe(false);

    const log = server.output();
    expect(log).toContain('FC Invoke Start RequestId: req-abc');
    expect(log).toContain('FC Invoke End RequestId: req-abc');
    expect(log).toMatch(/"requestId":"req-abc".*"phases":"policy;dur=[^"]*queue;dur=/);
    expect(log).not.toMatch(/SUPER-SECRET|TOKEN-XYZ|PASSWORD-XYZ/);
    expect(log).toContain('auth=***');
    expect(readdirSync(captureDir)).toEqual([]);
    // new connections are refused once it is gone
    await expect(fetch(base)).rejects.toThrow();
  });
});
