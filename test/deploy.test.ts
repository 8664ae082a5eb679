/**
 * `npm run deploy`. What can run here runs for real: the build, the region and size checks, and the
 * real Serverless Devs CLI reading s.yaml and the `.env` the script writes (`s preview`). FC's control
 * plane cannot exist here, so `s cli fc3 layer publish` and `s deploy` are a stand-in `s` that records
 * how it was called and answers the way fc3 and Serverless Devs 3 do (below); every other subcommand
 * it hands to the real CLI.
 *
 * test/fc3-schema/fc3-env-names.json lists the environment variables fc3, the `s` CLI and FC's runtime
 * read; none may be a setting of ours. To regenerate its lists: `fc3` from a clone of
 * github.com/devsapp/fc3 at the commit it names, `git grep -ohE "process\.env\.[A-Za-z_][A-Za-z0-9_]*"
 * COMMIT -- src` (plus the names read through `getEnvVariable('NAME')` and `const { NAME } =
 * process.env`); `serverlessDevsCli` with `grep -rhoE "process\.env\.[A-Za-z_][A-Za-z0-9_]*"
 * node_modules/@serverless-devs/s/lib` for the version it names; `fcRuntime` from FC's documentation
 * ("Configure environment variables").
 */
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkRegion, checkRendered } from '../fc/deploy/deploy.js';
import { readPublished } from '../fc/deploy/published.js';
import { domainSettings, migrateSettings, RENAMED, updateEnvFile } from '../fc/deploy/settings.js';
import { DEBIAN12_REGIONS, DEPLOYABLE, LAYERS, MAX_ZIP_BYTES } from '../fc/layers/targets.js';
import { ROOT } from '../fc/paths.js';
import { parseDotEnv, propsOf, renderSYaml } from '../fc/s-yaml.js';
import { REAL_S, sPreview } from './helpers/serverless-devs.js';

const work = mkdtempSync(join(tmpdir(), 'fcshot-deploy-'));
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

/** A 16-digit account id, as Alibaba Cloud's are; `s` masks it on the console as 123**********456. */
const ACCOUNT = '1234567890123456';
const MASKED = '123**********456';

/**
 * The stand-in `s`, with FC's layer versions kept in a folder (STANDIN_FC) so successive deploys see
 * what earlier ones published. It answers as these do (both read for this):
 * - fc3 `layer publish`: src/subCommands/layer/index.ts, Layer.safe_publish_layer. It lists the layer's
 *   versions (getLayerLatestVersion); when the latest one's codeChecksum is the zip's (CRC-64 there,
 *   sha256 here: only equality matters) it returns that version as it is (whatever runtimes it was
 *   declared for) and prints nothing; otherwise it creates a version with the given runtimes, prints
 *   `JSON.stringify(result)` itself, and returns it.
 * - `s cli` (@serverless-devs/s 3.1.10, lib/index.js): with `--output-file FILE` it writes the returned
 *   value to FILE (`-o json`: JSON.stringify(value, null, 2)) as it is; else it prints it (`-o json`:
 *   JSON, default: YAML-like) through its logger, which replaces the credential's values, the
 *   account id among them, with their first and last three characters around stars.
 * - `s deploy -o json --output-file FILE` writes every resource's output the same way, keyed by
 *   resource name; fc3-domain's (src/impl/domain.ts, deploy) is the domain as FC has it, with its
 *   region: for `domainName: auto`, FUNCTION.fcv3.ACCOUNT.REGION.fc.devsapp.net.
 */
function standInS(): string {
  const sHome = join(work, 's-home');
  writeFileSync(
    join(work, 's'),
    `#!${process.execPath}
const fs = require('node:fs'), path = require('node:path'), crypto = require('node:crypto');
const argv = process.argv.slice(2);
fs.appendFileSync(${JSON.stringify(calls)}, argv.join(' ') + ' | CHROMIUM_LAYER_ARN=' + (process.env.CHROMIUM_LAYER_ARN ?? '') + '\\n');
const opt = (name) => { const i = argv.indexOf('--' + name); return i < 0 ? undefined : argv[i + 1]; };
const mask = (text) => text.split(${JSON.stringify(ACCOUNT)}).join(${JSON.stringify(MASKED)});
const answer = (value) => {
  const file = opt('output-file');
  const json = JSON.stringify(value, null, 2);
  if (file) fs.writeFileSync(path.resolve(file), json + '\\n');
  else if (argv[argv.indexOf('-o') + 1] === 'json' && argv.includes('-o')) console.log(mask(json));
  else console.log(mask(Object.entries(value).map(([k, v]) => k + ': ' + JSON.stringify(v)).join('\\n')));
};
if (argv.slice(0, 4).join(' ') === 'cli fc3 layer publish') {
  const name = opt('layer-name'), region = opt('region');
  const state = path.join(process.env.STANDIN_FC, region + '-' + name + '.json');
  const versions = fs.existsSync(state) ? JSON.parse(fs.readFileSync(state, 'utf8')) : [];
  const zip = fs.readFileSync(path.resolve(opt('code')));
  const codeChecksum = crypto.createHash('sha256').update(zip).digest('hex');
  const latest = versions[versions.length - 1];
  let result = latest;
  if (!latest || latest.codeChecksum !== codeChecksum) {
    const version = versions.length + 1;
    result = {
      layerName: name, version, description: '', compatibleRuntime: opt('compatible-runtime').split(','),
      codeChecksum, codeSize: zip.length, acl: '0', createTime: new Date().toISOString(),
      layerVersionArn: 'acs:fc:' + region + ':${ACCOUNT}:layers/' + name + '/versions/' + version,
    };
    versions.push(result);
    fs.writeFileSync(state, JSON.stringify(versions));
    console.log(JSON.stringify(result));
  }
  answer(result);
} else if (argv[0] === 'deploy') {
  const env = Object.fromEntries(fs.readFileSync('.env', 'utf8').split('\\n').map((l) => /^([A-Z_]+)=(.*)$/.exec(l)).filter(Boolean).map((m) => [m[1], m[2]]));
  const region = env.FCSHOT_REGION;
  const own = env.FCSHOT_DOMAIN && env.FCSHOT_DOMAIN !== 'auto';
  const domainName = own ? env.FCSHOT_DOMAIN : 'screenshot.fcv3.${ACCOUNT}.' + region + '.fc.devsapp.net';
  answer({ screenshot: { region, functionName: 'screenshot' }, domain: { region, domainName, protocol: own ? 'HTTPS' : 'HTTP' } });
} else {
  try {
    require('node:child_process').execFileSync(${JSON.stringify(REAL_S)}, argv, { stdio: 'inherit', env: { ...process.env, HOME: ${JSON.stringify(sHome)} } });
  } catch (e) {
    process.exit(e.status ?? 1);
  }
}
`,
  );
  chmodSync(join(work, 's'), 0o755);
  return work;
}

/** A fresh FC for the stand-in: no layer published yet. */
function freshFc(): string {
  return mkdtempSync(join(work, 'fc-'));
}

/** A project folder of its own: s.yaml, and whatever .env it is given. */
function project(dotEnv?: string): string {
  const dir = mkdtempSync(join(work, 'project-'));
  copyFileSync(join(ROOT, 's.yaml'), join(dir, 's.yaml'));
  if (dotEnv) writeFileSync(join(dir, '.env'), dotEnv);
  return dir;
}

const NAMES = JSON.parse(readFileSync(join(ROOT, 'test', 'fc3-schema', 'fc3-env-names.json'), 'utf8'));
/** Every name fc3, the `s` CLI or FC's runtime reads. */
const READ_BY_OTHERS = new Set<string>([
  ...NAMES.fc3.names,
  ...NAMES.serverlessDevsCli.names,
  ...NAMES.fcRuntime.names,
]);
const reservedByFc = (name: string) => NAMES.fcRuntime.reservedPrefixes.some((p: string) => name.startsWith(p));

const publishLine = (l: (typeof LAYERS)[number], runtime: string, region: string) =>
  `s cli fc3 layer publish --layer-name ${l.name} --code build/${l.zip} ` +
  `--compatible-runtime ${['deps', 'node'].includes(l.key) ? DEPLOYABLE.join(',') : runtime} ` +
  `--region ${region} --access default -o json --output-file build/published/${l.name}.json`;

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
      // deps and node are the same zip for every target: declared for both runtimes (fc3 would hand back
      // a version declared for one only); Chromium and the fonts come from the target's Debian release.
      expect(lines.filter((l) => l.startsWith('s cli fc3 layer publish'))).toEqual(
        LAYERS.map((l) => publishLine(l, 'custom.debian12', 'cn-beijing')),
      );
      expect(lines).toContain('s preview -o json');
      expect(lines).toContain(
        's deploy --assume-yes --access default -o json --output-file build/published/deploy.json',
      );
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
    'publishes four layers, keeps their ARNs in .env, the real s renders them, deploys, prints the URL; ' +
      'a second deploy in a row reuses the unchanged layers',
    async () => {
      const old = 'acs:fc:cn-hangzhou:1234567890123456:layers/fcshot-chromium/versions/0';
      const dir = project(`AUTH_TOKEN=keep-me\nCHROMIUM_LAYER_ARN=${old}\n`);
      const env = { PATH: `${standInS()}:${process.env.PATH}`, STANDIN_FC: freshFc() };
      rmSync(calls, { force: true });
      const run = await runDeploy(['--region', 'cn-hangzhou', '--template', join(dir, 's.yaml')], env);
      expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);

      const log = readFileSync(calls, 'utf8').trim().split('\n');
      expect(log).toHaveLength(LAYERS.length + 2);
      LAYERS.forEach((layer, i) => {
        const runtimes = ['deps', 'node'].includes(layer.key)
          ? 'custom\\.debian12,custom\\.debian11'
          : 'custom\\.debian12';
        expect(log[i]).toMatch(
          new RegExp(
            `^cli fc3 layer publish --layer-name ${layer.name} --code \\S+/build/${layer.zip} ` +
              `--compatible-runtime ${runtimes} --region cn-hangzhou --access default -o json --output-file \\S+`,
          ),
        );
      });
      expect(log[LAYERS.length]).toMatch(/^preview -t \S+s\.yaml -o json/);
      expect(log[LAYERS.length + 1]).toMatch(
        /^deploy -t \S+s\.yaml --assume-yes --access default -o json --output-file/,
      );

      const arn = (name: string, version: number) => `acs:fc:cn-hangzhou:${ACCOUNT}:layers/${name}/versions/${version}`;
      const dotEnv = readFileSync(join(dir, '.env'), 'utf8');
      expect(dotEnv).toMatch(/^AUTH_TOKEN=keep-me$/m);
      expect(dotEnv).toMatch(/^FCSHOT_REGION=cn-hangzhou$/m);
      expect(dotEnv).toMatch(/^FCSHOT_RUNTIME=custom\.debian12$/m);
      expect(dotEnv).not.toMatch(/^FC_/m);
      for (const l of LAYERS) expect(dotEnv).toContain(`\n${l.arnVar}=${arn(l.name, 1)}\n`);
      // what it replaced stays as a comment, for a rollback
      expect(dotEnv).toMatch(/^# previous \(until [^)]+\): CHROMIUM_LAYER_ARN=.*\/fcshot-chromium\/versions\/0$/m);
      // the URL of the domain FC gave, from s deploy's --output-file (s masks the account on the console)
      expect(run.stdout).toContain(`Open http://screenshot.fcv3.${ACCOUNT}.cn-hangzhou.fc.devsapp.net/playground`);

      // No name we write is one fc3, s or FC reads itself (fc3 takes FC_REGION for "inside FC").
      for (const name of Object.keys(parseDotEnv(dotEnv))) {
        expect(READ_BY_OTHERS.has(name), name).toBe(false);
        expect(reservedByFc(name), name).toBe(false);
      }

      // Later `s` commands, in a shell with nothing exported, find the layers: the real CLI says so.
      const later = sPreview(join(dir, 's.yaml'));
      expect(later.status, later.output).toBe(0);
      expect(propsOf(later.doc!, 'fc3').layers).toEqual(LAYERS.map((l) => arn(l.name, 1)));

      // Again, nothing changed: fc3 hands back the versions it has (printing no JSON of its own) and
      // the deploy goes through with the same ARNs.
      rmSync(calls);
      const again = await runDeploy(['--template', join(dir, 's.yaml')], env);
      expect(again.status, `${again.stdout}\n${again.stderr}`).toBe(0);
      expect(again.stdout).not.toMatch(/"layerVersionArn"/);
      for (const l of LAYERS) expect(again.stdout).toMatch(new RegExp(`${l.name}: version 1 .*unchanged`));
      const after = readFileSync(join(dir, '.env'), 'utf8');
      for (const l of LAYERS) expect(after.match(new RegExp(`^${l.arnVar}=(.*)$`, 'm'))?.[1]).toBe(arn(l.name, 1));
      expect(after.match(/^CHROMIUM_LAYER_ARN=/gm)).toHaveLength(1);
      expect(after.match(/^# previous/gm)).toHaveLength(1);
      // the region came from .env this time (no --region)
      expect(readFileSync(calls, 'utf8')).toMatch(/^cli fc3 layer publish .*--region cn-hangzhou/m);
      expect(readFileSync(calls, 'utf8')).toMatch(/^deploy /m);
    },
    SLOW,
  );

  it(
    'moves the settings an earlier deploy wrote under FC_* names in .env to FCSHOT_*, and uses them',
    async () => {
      const dir = project('FC_REGION=cn-beijing\nFC_RUNTIME=custom.debian12\nFC_MAX_INSTANCES=3\nAUTH_TOKEN=x\n');
      const env = { PATH: `${standInS()}:${process.env.PATH}`, STANDIN_FC: freshFc() };
      rmSync(calls, { force: true });
      const run = await runDeploy(['--template', join(dir, 's.yaml')], env);
      expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
      expect(run.stdout).toMatch(/renamed FC_REGION -> FCSHOT_REGION, FC_RUNTIME -> FCSHOT_RUNTIME, FC_MAX_INSTANCES/);
      const dotEnv = readFileSync(join(dir, '.env'), 'utf8');
      expect(dotEnv).not.toMatch(/^FC_/m);
      expect(dotEnv).toMatch(/^FCSHOT_REGION=cn-beijing$/m);
      expect(dotEnv).toMatch(/^FCSHOT_MAX_INSTANCES=3$/m);
      expect(dotEnv).toMatch(/^AUTH_TOKEN=x$/m);
      expect(readFileSync(calls, 'utf8')).toMatch(/^cli fc3 layer publish .*--region cn-beijing/m);
      const later = sPreview(join(dir, 's.yaml'));
      expect(propsOf(later.doc!, 'fc3').region).toBe('cn-beijing');
      expect(propsOf(later.doc!, 'fc3').concurrencyConfig.reservedConcurrency).toBe(3);
    },
    SLOW,
  );

  it('refuses the old FC_* names in the shell before building anything, saying what to rename', async () => {
    rmSync(calls, { force: true });
    for (const old of Object.keys(RENAMED)) {
      const run = await runDeploy(['--dry-run'], { PATH: `${standInS()}:${process.env.PATH}`, [old]: 'x' });
      expect(run.status, old).toBe(1);
      expect(run.stderr).toContain(`unset ${old}`);
      expect(run.stderr).toContain(`export ${RENAMED[old]}=`);
      expect(run.stdout).not.toMatch(/building for/);
    }
    expect(existsSync(calls), 'no s command ran').toBe(false);
  });

  it(
    'your own domain: --domain with a certificate is written to .env, rendered as HTTPS, and its URL printed',
    async () => {
      const dir = project();
      writeFileSync(join(dir, 'cert.pem'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
      writeFileSync(join(dir, 'key.pem'), '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n');
      const env = { PATH: `${standInS()}:${process.env.PATH}`, STANDIN_FC: freshFc() };
      const args = ['--region', 'cn-hangzhou', '--template', join(dir, 's.yaml'), '--domain', 'shots.example.com'];
      const noCert = await runDeploy(args, env);
      expect(noCert.status).toBe(1);
      expect(noCert.stderr).toMatch(/needs --cert .* HTTPS only/);
      expect(noCert.stdout).not.toMatch(/building for/);

      const run = await runDeploy([...args, '--cert', join(dir, 'cert.pem'), '--key', join(dir, 'key.pem')], env);
      expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
      expect(run.stdout).toContain('Open https://shots.example.com/playground');
      const domain = propsOf(sPreview(join(dir, 's.yaml')).doc!, 'fc3-domain');
      expect(domain).toMatchObject({
        domainName: 'shots.example.com',
        protocol: 'HTTPS',
        certConfig: {
          certName: 'fcshot-shots-example-com',
          certificate: join(dir, 'cert.pem'),
          privateKey: join(dir, 'key.pem'),
        },
      });
    },
    SLOW,
  );

  it(
    'stops before s deploy when the shell overrides what .env says (s would deploy stale layers)',
    async () => {
      rmSync(calls, { force: true });
      const dir = project();
      const stale = 'acs:fc:cn-hangzhou:1234567890123456:layers/fcshot-chromium/versions/99';
      const run = await runDeploy(['--region', 'cn-hangzhou', '--template', join(dir, 's.yaml')], {
        PATH: `${standInS()}:${process.env.PATH}`,
        STANDIN_FC: freshFc(),
        CHROMIUM_LAYER_ARN: stale,
      });
      expect(run.status).toBe(1);
      expect(run.stderr).toMatch(/s preview renders .*versions\/99,/);
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

describe('names, layers and domains', () => {
  it('no env() name in s.yaml (comments included) is one fc3, s or FC reads itself, nor FC_*', () => {
    const names = [...readFileSync(join(ROOT, 's.yaml'), 'utf8').matchAll(/env\('([^']+)'/g)].map((m) => m[1]!);
    expect(names).toEqual(expect.arrayContaining(['FCSHOT_REGION', 'FCSHOT_RUNTIME', 'AUTH_TOKEN']));
    for (const name of names) {
      expect(READ_BY_OTHERS.has(name), name).toBe(false);
      expect(reservedByFc(name), name).toBe(false);
    }
    // the fixture has teeth: the names this project used to read are in it, or under FC's prefix
    for (const old of Object.keys(RENAMED)) expect(READ_BY_OTHERS.has(old) || reservedByFc(old), old).toBe(true);
    expect(READ_BY_OTHERS.has('FC_REGION')).toBe(true);
    expect(NAMES.fc3.names).toContain('FC_REGION');
  });

  it('a reused layer version not declared for the runtime is refused, with the command that fixes it', () => {
    const file = join(work, 'published.json');
    const version = (compatibleRuntime: string[]) =>
      writeFileSync(
        file,
        JSON.stringify({
          layerName: 'fcshot-deps',
          version: 3,
          compatibleRuntime,
          layerVersionArn: `acs:fc:cn-hangzhou:${ACCOUNT}:layers/fcshot-deps/versions/3`,
        }),
      );
    version(['custom.debian12']);
    expect(() => readPublished(file, 'fcshot-deps', 'cn-hangzhou', 'custom.debian11', 'REMOVE')).toThrow(
      /declared for custom\.debian12 only, not custom\.debian11.*REMOVE --version-id 3/,
    );
    version(['custom.debian12', 'custom.debian11']);
    expect(readPublished(file, 'fcshot-deps', 'cn-hangzhou', 'custom.debian11', 'REMOVE').version).toBe(3);
    // a masked ARN (what s prints on the console) is never taken for a real one
    writeFileSync(file, readFileSync(file, 'utf8').replace(ACCOUNT, MASKED));
    expect(() => readPublished(file, 'fcshot-deps', 'cn-hangzhou', 'custom.debian11', 'REMOVE')).toThrow(
      /not a version/,
    );
    expect(() => readPublished(join(work, 'none.json'), 'fcshot-deps', 'cn-hangzhou', 'x', 'R')).toThrow(
      /--output-file/,
    );
  });

  it('the domain and instance rules s.yaml cannot state', () => {
    const render = (env: Record<string, string>) => renderSYaml(join(ROOT, 's.yaml'), env);
    expect(() => checkRendered(render({}))).not.toThrow();
    expect(() => checkRendered(render({ FCSHOT_DOMAIN: 'shots.example.com' }))).toThrow(/HTTPS only/);
    expect(() => checkRendered(render({ FCSHOT_DOMAIN_PROTOCOL: 'HTTPS' }))).toThrow(/plain HTTP only/);
    expect(() => checkRendered(render({ FCSHOT_MIN_INSTANCES: '2' }))).not.toThrow();
    expect(() => checkRendered(render({ FCSHOT_MIN_INSTANCES: '11' }))).toThrow(/FCSHOT_MIN_INSTANCES/);
    expect(() => checkRendered(render({ FCSHOT_MAX_INSTANCES: '0' }))).toThrow(/FCSHOT_MAX_INSTANCES/);
    expect(domainSettings({ domain: 'auto' })).toEqual({
      FCSHOT_DOMAIN: 'auto',
      FCSHOT_DOMAIN_PROTOCOL: 'HTTP',
      FCSHOT_DOMAIN_CERT: 'false',
    });
    expect(() => domainSettings({ domain: 'not a domain', cert: 'c', key: 'k' })).toThrow(/not a domain name/);
    expect(() => domainSettings({ cert: 'c.pem' })).toThrow(/go with --domain/);
  });

  it('.env migration: a value already under the new name wins, the old line goes, a dry run writes nothing', () => {
    const file = join(work, 'migrate.env');
    const text = 'FC_REGION=cn-beijing\nFCSHOT_REGION=cn-hangzhou\nFC_AUTH_TYPE=function\n';
    writeFileSync(file, text);
    const lines: string[] = [];
    expect(migrateSettings(file, {}, false, (l) => lines.push(l))).toMatchObject({
      FCSHOT_REGION: 'cn-hangzhou',
      FCSHOT_AUTH_TYPE: 'function',
    });
    expect(readFileSync(file, 'utf8')).toBe(text);
    expect(lines.join('\n')).toMatch(/would rename/);
    migrateSettings(file, {}, true, () => {}, new Date('2026-01-01T00:00:00Z'));
    expect(readFileSync(file, 'utf8')).toBe(
      'FCSHOT_REGION=cn-hangzhou\nFCSHOT_AUTH_TYPE=function\n' +
        '# renamed by npm run deploy, 2026-01-01T00:00:00.000Z: FC_REGION -> FCSHOT_REGION, ' +
        'FC_AUTH_TYPE -> FCSHOT_AUTH_TYPE (fc3 and FC read FC_* themselves)\n',
    );
  });
});

describe('.env updates', () => {
  it('replaces our keys, keeps the others, keeps replaced values as comments', async () => {
    const file = join(work, 'update.env');
    writeFileSync(file, 'A=1\nFCSHOT_REGION=cn-beijing\n# mine\n');
    updateEnvFile(file, { FCSHOT_REGION: 'cn-hangzhou', B: '2' }, new Date('2026-01-01T00:00:00Z'));
    expect(readFileSync(file, 'utf8')).toBe(
      'A=1\n# mine\n# previous (until 2026-01-01T00:00:00.000Z): FCSHOT_REGION=cn-beijing\n' +
        '# written by npm run deploy, 2026-01-01T00:00:00.000Z\nFCSHOT_REGION=cn-hangzhou\nB=2\n',
    );
  });
});
