/**
 * `npm run deploy`: the dry run builds everything and prints the exact commands; the real run is
 * driven against a stand-in `s` (the FC control plane is the one thing that cannot exist here) that
 * records how it was called and answers with layer ARNs the way Serverless Devs does.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../layer/build.js';

const bin = mkdtempSync(join(tmpdir(), 'fcshot-fake-s-'));
afterAll(() => rmSync(bin, { recursive: true, force: true }));

const runDeploy = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'layer/deploy.ts', ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env } });

describe('npm run deploy', () => {
  it('--dry-run builds everything and prints the exact commands, running none', () => {
    const run = runDeploy(['--dry-run', '--region', 'cn-shanghai'], { PATH: `/nonexistent:${process.env.PATH}` });
    expect(run.status, run.stderr).toBe(0);
    const lines = run.stdout.split('\n').map((l) => l.trim());
    const publish = lines.filter((l) => l.startsWith('s cli fc3 layer publish'));
    expect(publish).toEqual([
      's cli fc3 layer publish --layer-name fcshot-chromium --code build/chromium-layer.zip --compatible-runtime custom.debian12 --region cn-shanghai --access default',
      's cli fc3 layer publish --layer-name fcshot-deps --code build/deps-layer.zip --compatible-runtime custom.debian12 --region cn-shanghai --access default',
    ]);
    expect(lines.some((l) => /^CHROMIUM_LAYER_ARN=.* DEPS_LAYER_ARN=.* FC_REGION=cn-shanghai s deploy --assume-yes --access default$/.test(l))).toBe(true);
    for (const zip of ['build/chromium-layer.zip', 'build/deps-layer.zip', 'build/code.zip']) expect(existsSync(join(ROOT, zip))).toBe(true);
  });

  it('publishes both layers and deploys with their ARNs', () => {
    const calls = join(bin, 'calls.log');
    writeFileSync(
      join(bin, 's'),
      `#!/bin/sh
echo "$* | CHROMIUM_LAYER_ARN=$CHROMIUM_LAYER_ARN DEPS_LAYER_ARN=$DEPS_LAYER_ARN" >> ${calls}
case "$*" in
  *fcshot-chromium*) echo '{ "arn": "acs:fc:cn-shanghai:1234567890:layers/fcshot-chromium/versions/7" }' ;;
  *fcshot-deps*) echo '{ "arn": "acs:fc:cn-shanghai:1234567890:layers/fcshot-deps/versions/3" }' ;;
esac
`,
    );
    chmodSync(join(bin, 's'), 0o755);
    const run = runDeploy(['--region', 'cn-shanghai'], { PATH: `${bin}:${process.env.PATH}` });
    expect(run.status, run.stderr).toBe(0);
    const log = readFileSync(calls, 'utf8').trim().split('\n');
    expect(log).toHaveLength(3);
    expect(log[0]).toMatch(/^cli fc3 layer publish --layer-name fcshot-chromium --code build\/chromium-layer.zip/);
    expect(log[1]).toMatch(/^cli fc3 layer publish --layer-name fcshot-deps/);
    expect(log[2]).toBe(
      'deploy --assume-yes --access default | CHROMIUM_LAYER_ARN=acs:fc:cn-shanghai:1234567890:layers/fcshot-chromium/versions/7 DEPS_LAYER_ARN=acs:fc:cn-shanghai:1234567890:layers/fcshot-deps/versions/3',
    );
  });

  it('says clearly when Serverless Devs is not installed', () => {
    const run = runDeploy([], { PATH: `/nonexistent-only:${process.env.PATH!.split(':').filter((p) => !p.includes('fcshot-fake-s')).join(':')}` });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/could not run s: .*@serverless-devs\/s/);
  });
});
