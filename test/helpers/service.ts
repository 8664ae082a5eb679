/**
 * Builds the real service (real Chromium, real egress proxy, real capture directory) for a test file,
 * configured like production except for what a test must control: its own capture directory, the
 * allow-list entry for its fixture server, and optionally a DNS resolver.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import request from 'supertest';
import { loadConfig, type Config } from '../../src/config.js';
import type { Resolver } from '../../src/policy/destination.js';
import { createService, type Service } from '../../src/service.js';

export interface TestService extends Service {
  config: Config;
  captureDir: string;
  /** `http://127.0.0.1:PORT` of the listening server. */
  origin: string;
  /** Files of ours left in the capture directory. */
  leftovers(): string[];
  /** Closes everything and checks nothing is left behind: files, Chromium. */
  shutdown(): Promise<{ leftovers: string[]; chromiumAlive: boolean }>;
}

export function isAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function startService(
  env: Record<string, string> = {},
  overrides: { resolve?: Resolver } = {},
): Promise<TestService> {
  const captureDir = mkdtempSync(join(tmpdir(), 'fcshot-test-'));
  const config = loadConfig({ LOG_LEVEL: 'silent', CAPTURE_DIR: captureDir, ...env } as NodeJS.ProcessEnv);
  const service = await createService(config, {
    ...overrides,
    logger: pino({ level: process.env.TEST_LOG ?? 'silent' }),
  });
  await service.app.listen({ host: '127.0.0.1', port: 0 });
  const leftovers = () => readdirSync(captureDir);
  return {
    ...service,
    config,
    captureDir,
    origin: `http://127.0.0.1:${(service.app.server.address() as { port: number }).port}`,
    leftovers,
    async shutdown() {
      const pid = service.browser.pid;
      await service.close();
      const files = leftovers();
      rmSync(captureDir, { recursive: true, force: true });
      return { leftovers: files, chromiumAlive: isAlive(pid) };
    },
  };
}

/** Shuts the service down; fails the test if a capture file or a Chromium process outlived it. */
export async function shutdownClean(svc: TestService): Promise<void> {
  const { leftovers, chromiumAlive } = await svc.shutdown();
  if (leftovers.length) throw new Error(`capture files left behind: ${leftovers.join(', ')}`);
  if (chromiumAlive) throw new Error('Chromium outlived the service');
}

/**
 * Runs `fn` against a service of its own (for settings the file's shared service does not have),
 * then shuts it down and checks it left no capture file and no Chromium behind.
 */
export async function withOwnService(
  env: Record<string, string>,
  fn: (svc: TestService) => Promise<void>,
  overrides: { resolve?: Resolver } = {},
): Promise<void> {
  const svc = await startService(env, overrides);
  try {
    await fn(svc);
  } finally {
    await shutdownClean(svc);
  }
}

/** A capture's options as a query. */
export type Query = Record<string, string | number | boolean | string[]>;

/** GET / on `svc` with `query` (and request headers); the body kept as a Buffer, whatever it is. */
export const capture = (svc: Pick<Service, 'app'>, query: Query, headers: Record<string, string> = {}) =>
  request(svc.app.server).get('/').query(query).set(headers).buffer(true).parse(binary);

/** supertest parser that keeps any response body as a Buffer (images, PDFs). */
export function binary(res: request.Response, cb: (err: Error | null, body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () => cb(null, Buffer.concat(chunks)));
}
