/**
 * `npm run deploy`. What can run here runs for real: the build, the region and size checks, and the
 * real Serverless Devs CLI reading s.yaml and the `.env` the script writes (`s preview`). FC's control
 * plane cannot exist here, so `s cli fc3 layer publish` and `s deploy` are a stand-in `s` that records
 * how it was called and answers the way Serverless Devs does (an ARN per layer, the custom domain);
 * every other subcommand it hands to the real CLI.
 */
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkRegion, updateEnvFile } from '../fc/deploy/deploy.js';
import { DEBIAN12_REGIONS, LAYERS, MAX_ZIP_BYTES } from '../fc/layers/targets.js';
import { ROOT } from '../fc/paths.js';
import { propsOf } from '../fc/s-yaml.js';
import { REAL_S, sPreview } from './helpers/serverless-devs.js';

const work = mkdtempSync(join(tmpdir(), 'fcshot-deploy-'));
const bin = join(work, 'bin');
const calls = join(work, 'calls.log');
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs `npm run deploy -- ARGS` (not spawnSync: a blocked worker misses vitest's heartbeats). */
function runDeploy(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'fc/deploy/deploy.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once('close', (status) => resolve({ status, stdout, stderr })),
  );
}
// Each run builds (cached: hashing the trees is most of it) before anything else.
const SLOW = 300_000;

/** The stand-in `s`: publish answers with an ARN (version from a counter), deploy with a domain. */
function standInS(): string {
  const sHome = join(work, 's-home');
  writeFileSync(
    join(work, 's'),
    `#!/bin/sh
echo "$* | CHROMIUM_LAYER_ARN=$CHROMIUM_LAYER_ARN" >> ${calls}
case "$1 $2 $3 $4" in
  "cli fc3 layer publish")
    n=$(cat ${work}/version 2>/dev/null || echo 6); n=$((n + 1)); echo $n > ${work}/version
    name=$(echo "$*" | sed 's/.*--layer-name \\([^ ]*\\).*/\\1/')
    region=$(echo "$*" | sed 's/.*--region \\([^ ]*\\).*/\\1/')
    echo "fcshot:"
    echo "  layerName:         $name"
    echo "  layerVersionArn:   acs:fc:$region:1234567890:layers/$name/versions/$n"
    echo "  version:           $n" ;;
  deploy*)
    echo "domain:"
    echo "  domainName: screenshot.fcv3.1234567890.cn-hangzhou.fc.devsapp.net"
    echo "  protocol:   HTTP" ;;
  *) HOME=${sHome} exec ${REAL_S} "$@" ;;
esac
`,
  );
  chmodSync(join(work, 's'), 0o755);
  return work;
}

/** A project folder of its own: s.yaml, and whatever .env it is given. */
function project(dotEnv?: string): string {
  const dir = mkdtempSync(join(work, 'project-'));
  copyFileSync(join(ROOT, 's.yaml'), join(dir, 's.yaml'));
  if (dotEnv) writeFileSync(join(dir, '.env'), dotEnv);
  return dir;
}

describe('npm run deploy', () => {
  it(
    '--dry-run builds everything, each zip within 100 MB, and prints the exact commands, running none',
    async () => {
      const dotEnvBefore = existsSync(join(ROOT, '.env')) ? readFileSync(join(ROOT, '.env'), 'utf8') : undefined;
      const run = await runDeploy(['--dry-run', '--region', 'cn-beijing'], {
        PATH: `/nonexistent:${process.env.PATH}`,
      });
      expect(run.status, run.stderr).toBe(0);
      const lines = run.stdout.split('\n').map((l) => l.trim());
      expect(lines.filter((l) => l.startsWith('s cli fc3 layer publish'))).toEqual(
        LAYERS.map(
          (l, i) =>
            `s cli fc3 layer publish --layer-name ${l.name} --code build/${l.zip} ` +
            '--compatible-runtime custom.debian12 --region cn-beijing --access default',
        ),
      );
      expect(lines).toContain('s preview -o json');
      expect(lines).toContain('s deploy --assume-yes --access default');
      for (const zip of [...LAYERS.map((l) => l.zip), 'code.zip']) {
        const file = join(ROOT, 'build', zip);
        expect(existsSync(file), zip).toBe(true);
        expect(statSync(file).size, zip).toBeLessThanOrEqual(MAX_ZIP_BYTES);
      }
      const dotEnvAfter = existsSync(join(ROOT, '.env')) ? readFileSync(join(ROOT, '.env'), 'utf8') : undefined;
      expect(dotEnvAfter).toBe(dotEnvBefore);
    },
    SLOW,
  );

  it('refuses a region without the runtime before building anything, naming the alternative', async () => {
    const run = await runDeploy(['--region', 'cn-shanghai', '--dry-run']);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/custom\.debian12 is not offered in cn-shanghai \(it is in cn-hangzhou, .*\)/);
    expect(run.stderr).toMatch(/--target custom\.debian11/);
    expect(run.stdout).not.toMatch(/building for/);
  });

  it('--help only prints the usage; a misspelt or unknown flag is refused, never a deploy to the default region', async () => {
    const path = `${standInS()}:${process.env.PATH}`;
    rmSync(calls, { force: true });
    const help = await runDeploy(['--help'], { PATH: path });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: npm run deploy -- \[--region/);
    for (const args of [['--regoin', 'cn-beijing'], ['--region'], ['cn-beijing'], ['--dryrun']]) {
      const run = await runDeploy(args, { PATH: path });
      expect(run.status, args.join(' ')).toBe(1);
      expect(run.stderr, args.join(' ')).toMatch(/deploy failed: .*\n.*usage: npm run deploy/s);
      expect(run.stdout, args.join(' ')).not.toMatch(/building for/);
    }
    expect(existsSync(calls), 'no s command ran').toBe(false);
  });

  it('the region rule: debian12 where FC offers it, debian11 anywhere, nothing older', async () => {
    for (const region of DEBIAN12_REGIONS) expect(() => checkRegion('custom.debian12', region)).not.toThrow();
    expect(() => checkRegion('custom.debian12', 'ap-southeast-1')).toThrow(/--target custom\.debian11/);
    expect(() => checkRegion('custom.debian11', 'cn-shanghai')).not.toThrow();
    expect(() => checkRegion('custom.debian10', 'cn-hangzhou')).toThrow(/glibc/);
    expect(() => checkRegion('nodejs20', 'cn-hangzhou')).toThrow(/custom\.debian12 or custom\.debian11/);
  });

  it(
    'publishes four layers, keeps their ARNs in .env, the real s renders them, deploys, prints the URL',
    async () => {
      const dir = project('AUTH_TOKEN=keep-me\n');
      const path = `${standInS()}:${process.env.PATH}`;
      const run = await runDeploy(['--region', 'cn-hangzhou', '--template', join(dir, 's.yaml')], { PATH: path });
      expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);

      const log = readFileSync(calls, 'utf8').trim().split('\n');
      expect(log).toHaveLength(LAYERS.length + 2);
      LAYERS.forEach((layer, i) => {
        expect(log[i]).toMatch(
          new RegExp(
            `^cli fc3 layer publish --layer-name ${layer.name} --code \\S+/build/${layer.zip} ` +
              '--compatible-runtime custom\\.debian12 --region cn-hangzhou --access default',
          ),
        );
      });
      expect(log[LAYERS.length]).toMatch(/^preview -t \S+s\.yaml -o json/);
      expect(log[LAYERS.length + 1]).toMatch(/^deploy -t \S+s\.yaml --assume-yes --access default/);

      const dotEnv = readFileSync(join(dir, '.env'), 'utf8');
      expect(dotEnv).toMatch(/^AUTH_TOKEN=keep-me$/m);
      expect(dotEnv).toMatch(/^FC_REGION=cn-hangzhou$/m);
      expect(dotEnv).toMatch(/^FC_RUNTIME=custom\.debian12$/m);
      expect(dotEnv).toMatch(
        /^CHROMIUM_LAYER_ARN=acs:fc:cn-hangzhou:1234567890:layers\/fcshot-chromium\/versions\/7$/m,
      );
      expect(dotEnv).toMatch(/^NODE_LAYER_ARN=acs:fc:cn-hangzhou:1234567890:layers\/fcshot-node\/versions\/10$/m);
      expect(run.stdout).toMatch(
        /Open http:\/\/screenshot\.fcv3\.1234567890\.cn-hangzhou\.fc\.devsapp\.net\/playground/,
      );

      // Later `s` commands, in a shell with nothing exported, find the layers: the real CLI says so.
      const later = sPreview(join(dir, 's.yaml'));
      expect(later.status, later.output).toBe(0);
      expect(propsOf(later.doc!, 'fc3').layers).toEqual(
        LAYERS.map((l) => `acs:fc:cn-hangzhou:1234567890:layers/${l.name}/versions/${7 + LAYERS.indexOf(l)}`),
      );

      // A second deploy keeps what it replaced, for a rollback.
      rmSync(calls);
      const again = await runDeploy(['--region', 'cn-hangzhou', '--template', join(dir, 's.yaml')], { PATH: path });
      expect(again.status, again.stderr).toBe(0);
      const after = readFileSync(join(dir, '.env'), 'utf8');
      expect(after).toMatch(/^CHROMIUM_LAYER_ARN=.*\/fcshot-chromium\/versions\/11$/m);
      expect(after).toMatch(/^# previous \(until [^)]+\): CHROMIUM_LAYER_ARN=.*\/fcshot-chromium\/versions\/7$/m);
      expect(after.match(/^CHROMIUM_LAYER_ARN=/gm)).toHaveLength(1);
    },
    SLOW,
  );

  it(
    'stops before s deploy when the shell overrides what .env says (s would deploy stale layers)',
    async () => {
      rmSync(calls, { force: true });
      const dir = project();
      const stale = 'acs:fc:cn-hangzhou:1234567890:layers/fcshot-chromium/versions/1';
      const run = await runDeploy(['--region', 'cn-hangzhou', '--template', join(dir, 's.yaml')], {
        PATH: `${standInS()}:${process.env.PATH}`,
        CHROMIUM_LAYER_ARN: stale,
      });
      expect(run.status).toBe(1);
      expect(run.stderr).toMatch(/s preview renders .*versions\/1,/);
      expect(readFileSync(calls, 'utf8')).not.toMatch(/^deploy/m);
    },
    SLOW,
  );

  it(
    'says clearly when Serverless Devs is not installed',
    async () => {
      const dir = project();
      const path = process.env.PATH!.split(':').filter((p) => !p.startsWith(work) && !existsSync(join(p, 's')));
      const run = await runDeploy(['--template', join(dir, 's.yaml')], { PATH: ['/nonexistent', ...path].join(':') });
      expect(run.status).toBe(1);
      expect(run.stderr).toMatch(/could not run s: .*npm i -g @serverless-devs\/s/);
    },
    SLOW,
  );
});

describe('.env updates', () => {
  it('replaces our keys, keeps the others, keeps replaced values as comments', async () => {
    const file = join(work, 'update.env');
    writeFileSync(file, 'A=1\nFC_REGION=cn-beijing\n# mine\n');
    updateEnvFile(file, { FC_REGION: 'cn-hangzhou', B: '2' }, new Date('2026-01-01T00:00:00Z'));
    expect(readFileSync(file, 'utf8')).toBe(
      'A=1\n# mine\n# previous (until 2026-01-01T00:00:00.000Z): FC_REGION=cn-beijing\n' +
        '# written by npm run deploy, 2026-01-01T00:00:00.000Z\nFC_REGION=cn-hangzhou\nB=2\n',
    );
  });
});
