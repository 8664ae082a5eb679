/**
 * The glibc gate, both ways, on real packages: a Debian 11 target is built from bullseye's packages
 * and its Chromium really runs with them; a Debian 10 / nodejs20 target is refused, naming the file
 * and the glibc version it needs.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { buildAll } from '../fc/layers/build.js';
import { compareVersions, glibcNeededBy } from '../fc/layers/glibc.js';
import { startFixtures } from './helpers/fixtures.js';
import { shutdownClean, startService } from './helpers/service.js';

const out = mkdtempSync(join(tmpdir(), 'fcshot-layer-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('glibc gate', () => {
  it('compares versions numerically', () => {
    expect(compareVersions('2.36', '2.4')).toBeGreaterThan(0);
    expect(compareVersions('2.28', '2.28')).toBe(0);
    expect(compareVersions('2.3.4', '2.30')).toBeLessThan(0);
  });

  it.each(['custom.debian10', 'nodejs20'])(
    'refuses %s (glibc 2.28), naming the file and the version it needs',
    async (target) => {
      const error = await buildAll({ target, out, only: 'chromium', log: () => undefined }).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(error).toBeInstanceOf(Error);
      expect(error!.message).toMatch(
        new RegExp(
          `refusing to build for ${target.replace('.', '\\.')}: lib/\\S+ needs GLIBC_2\\.(29|[3-9]\\d), but ${target.replace('.', '\\.')} has glibc 2\\.28`,
        ),
      );
    },
  );

  it('builds custom.debian11 from bullseye packages, within glibc 2.31, and that Chromium captures', async () => {
    const result = await buildAll({ target: 'custom.debian11', out, only: 'chromium', log: () => undefined });
    expect(compareVersions(result.glibcNeeded, '2.31')).toBeLessThanOrEqual(0);
    const manifest = JSON.parse(readFileSync(join(result.chromium.tree, 'chromium', 'manifest.json'), 'utf8'));
    expect(manifest.debian.suite).toBe('bullseye');
    expect(manifest.debian.packages.find((p: { name: string }) => p.name === 'libnss3').version).toMatch(/^2:3\.61/);
    expect(glibcNeededBy(join(result.chromium.tree, 'lib', 'libnspr4.so'))).toBe('2.30');

    const fixtures = await startFixtures();
    const svc = await startService({ LAYER_ROOT: result.chromium.tree, EGRESS_ALLOW: fixtures.allowEntry });
    try {
      const res = await request(svc.app.server)
        .get('/')
        .query({ url: `${fixtures.origin}/red`, width: 64, height: 64 });
      expect(res.status).toBe(200);
      expect(svc.browser.source?.source).toBe('layer');
      const maps = readFileSync(`/proc/${svc.browser.pid}/maps`, 'utf8');
      expect(maps).toContain(join(result.chromium.tree, 'lib', 'libnss3.so'));
    } finally {
      await shutdownClean(svc);
      await fixtures.close();
    }
  });
});
