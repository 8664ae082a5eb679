/**
 * `npm run deploy [-- --region cn-hangzhou] [--target custom.debian12] [--access default] [--dry-run]`
 *
 * 1. Refuses a region where FC does not offer the target runtime (naming the alternative).
 * 2. Builds every artefact for the target and refuses a zip over FC's smallest size limit.
 * 3. Publishes our four layers with Serverless Devs (`s cli fc3 layer publish`), reading what fc3
 *    returns from the file `--output-file` names (never from the console, where `s` masks the account
 *    id). An unchanged zip gets the version already published (fc3 compares checksums), so a second
 *    deploy publishes nothing new.
 * 4. Writes their ARNs, the region and the runtime (and the custom domain, if given) to `.env` beside
 *    s.yaml, where every later `s` command (deploy, info, logs, remove) finds them; the values they
 *    replace stay as comments (a rollback is putting them back, see README).
 * 5. Has Serverless Devs render s.yaml (`s preview`) and checks it names exactly those layers, a
 *    consistent domain and instance counts.
 * 6. `s deploy`, then prints the URL to open (the custom domain's).
 *
 * Every setting is ours (FCSHOT_*): `s` loads `.env` into its own environment, where fc3 reads
 * FC_REGION as "running inside FC" (and uploads through an endpoint only reachable there), and FC
 * reserves FC_* for its runtime. The names this project used before are moved (in `.env`) or refused
 * (in the shell) before anything runs: see `migrateSettings`.
 *
 * `--dry-run` builds and prints the commands without running any; `--template` deploys another
 * s.yaml (its `.env` is written beside it).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs as parseCommandLine } from 'node:util';
import type { Artefact } from '../layers/artefact.js';
import { buildAll } from '../layers/build.js';
import { DEFAULT_TARGET, DEPLOYABLE, LAYERS, MAX_ZIP_BYTES, targetFor } from '../layers/targets.js';
import { ROOT } from '../paths.js';
import { propsOf, type SYaml } from '../s-yaml.js';
import { PUBLISHED, readPublished, RUNTIME_INDEPENDENT } from './published.js';
import { domainSettings, migrateSettings, updateEnvFile } from './settings.js';

export interface DeployOptions {
  dryRun: boolean;
  /** Default: FCSHOT_REGION (shell, then .env), else cn-hangzhou. */
  region?: string;
  access: string;
  /** Default: FCSHOT_RUNTIME (shell, then .env), else custom.debian12. */
  target?: string;
  /** Your own domain, served over HTTPS with `cert` and `key` (PEM files); `auto`: FC's test domain. */
  domain?: string;
  cert?: string;
  key?: string;
  /** The name FC files the certificate under (default: derived from the domain). */
  certName?: string;
  /** The s.yaml to deploy (default: this repository's). */
  template?: string;
  /** The Serverless Devs CLI (default: `s` on PATH). */
  s?: string;
  log?: (line: string) => void;
}

export interface DeployResult {
  commands: string[];
  arns: Record<string, string>;
  url?: string;
}

const DEFAULT_REGION = 'cn-hangzhou';

const INSTALL_S = 'npm i -g @serverless-devs/s, then s config add';

const quote = (arg: string) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`);

/** Refuses a region the runtime is not offered in, naming what would work. */
export function checkRegion(runtime: string, region: string): void {
  if (!DEPLOYABLE.includes(runtime)) {
    const use = DEPLOYABLE.join(' or ');
    throw new Error(`cannot deploy to ${runtime}: Chromium's libraries need glibc newer than it has; use ${use}`);
  }
  const offered = targetFor(runtime).regions;
  if (offered && !offered.includes(region)) {
    const offersHere = (r: string) => !targetFor(r).regions || targetFor(r).regions!.includes(region);
    const other = DEPLOYABLE.find((r) => r !== runtime && offersHere(r));
    throw new Error(
      `${runtime} is not offered in ${region} (it is in ${offered.join(', ')}). ` +
        `Deploy to one of those with --region${other ? `, or here with --target ${other}` : ''}.`,
    );
  }
}

/** The JSON `s … -o json` prints after its log lines. */
function jsonOf(stdout: string): unknown {
  const start = stdout.indexOf('\n{');
  return JSON.parse(stdout.slice(stdout.startsWith('{') ? 0 : start + 1));
}

export async function deploy(opts: DeployOptions): Promise<DeployResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const s = opts.s ?? 's';
  const template = resolve(opts.template ?? join(ROOT, 's.yaml'));
  const envFile = join(dirname(template), '.env');
  const dotEnv = migrateSettings(envFile, process.env, !opts.dryRun, log);
  const setting = (name: string) => process.env[name] ?? dotEnv[name];
  const region = opts.region ?? setting('FCSHOT_REGION') ?? DEFAULT_REGION;
  const runtime = opts.target ?? setting('FCSHOT_RUNTIME') ?? DEFAULT_TARGET;
  checkRegion(runtime, region);
  const domain = domainSettings(opts);

  const built = await buildAll({ target: runtime, log });
  const zips: Record<string, Artefact> = {
    chromium: built.chromium,
    fonts: built.fonts!,
    deps: built.deps!,
    node: built.node!,
  };
  for (const a of Object.values(zips)) {
    if (a.bytes > MAX_ZIP_BYTES) {
      throw new Error(`${relative(ROOT, a.zip)} is ${a.bytes} bytes; some FC regions take ${MAX_ZIP_BYTES} at most`);
    }
  }

  /** Runs an `s` command, its output shown as it comes (uploads take a while) and kept for parsing. */
  const run = async (argv: string[], show = true): Promise<string> => {
    log(`$ ${argv.map(quote).join(' ')}`);
    const child = spawn(argv[0]!, argv.slice(1), { cwd: dirname(template), stdio: ['inherit', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d;
      if (show) process.stdout.write(d);
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d;
      process.stderr.write(d);
    });
    const status = await new Promise<number | null>((resolve, reject) => {
      child.once('error', (e) => reject(new Error(`could not run ${s}: ${e.message} (${INSTALL_S})`)));
      child.once('close', resolve);
    });
    if (status !== 0) throw new Error(`${argv.slice(1, 5).join(' ')} failed (exit ${status}):\n${err}${out}`);
    return out;
  };

  const here = (file: string) => relative(dirname(template), file);
  const access = ['--region', region, '--access', opts.access];
  const publishes = LAYERS.map((layer) => {
    const result = join(PUBLISHED, `${layer.name}.json`);
    const runtimes = RUNTIME_INDEPENDENT.has(layer.key) ? DEPLOYABLE : [runtime];
    return {
      layer,
      result,
      argv: [
        ...[s, 'cli', 'fc3', 'layer', 'publish', '--layer-name', layer.name],
        ...['--code', here(zips[layer.key]!.zip), '--compatible-runtime', runtimes.join(','), ...access],
        ...['-o', 'json', '--output-file', here(result)],
      ],
      remove: [s, 'cli', 'fc3', 'layer', 'remove', '--layer-name', layer.name, ...access, '-y'].map(quote).join(' '),
    };
  });
  const tpl = template === join(ROOT, 's.yaml') ? [] : ['-t', template];
  const deployed = join(PUBLISHED, 'deploy.json');
  const deployArgv = [s, 'deploy', ...tpl, '--assume-yes', '--access', opts.access];
  deployArgv.push('-o', 'json', '--output-file', here(deployed));
  const previewArgv = [s, 'preview', ...tpl, '-o', 'json'];
  const commands = [...publishes.map((p) => p.argv.map(quote).join(' '))];
  const written = ['FCSHOT_REGION', 'FCSHOT_RUNTIME', ...(domain ? Object.keys(domain) : [])];

  log('');
  if (opts.dryRun) {
    commands.push(`(write ${relative(process.cwd(), envFile)}: ${written.join(', ')} and the four layer ARNs)`);
    commands.push(previewArgv.map(quote).join(' '), deployArgv.map(quote).join(' '));
    log('dry run: nothing was published or deployed. The commands, in order:');
    for (const c of commands) log(`  ${c}`);
    return { commands, arns: {} };
  }

  mkdirSync(PUBLISHED, { recursive: true });
  const arns: Record<string, string> = {};
  for (const { layer, argv, result, remove } of publishes) {
    rmSync(result, { force: true });
    await run(argv);
    const got = readPublished(result, layer.name, region, runtime, remove);
    const same = dotEnv[layer.arnVar] === got.layerVersionArn;
    log(
      `${layer.name}: version ${got.version} (${got.compatibleRuntime.join(', ')})` +
        `${same ? ', unchanged: the zip is the one already published' : ''}`,
    );
    arns[layer.arnVar] = got.layerVersionArn;
  }
  updateEnvFile(envFile, { FCSHOT_REGION: region, FCSHOT_RUNTIME: runtime, ...domain, ...arns });
  log(`wrote ${envFile}`);

  // What Serverless Devs itself makes of s.yaml now: the layers just published, the runtime built for.
  const rendered = jsonOf(await run(previewArgv, false)) as SYaml;
  const fn = propsOf(rendered, 'fc3');
  const want = LAYERS.map((l) => arns[l.arnVar]);
  if (JSON.stringify(fn.layers) !== JSON.stringify(want) || fn.runtime !== runtime || fn.region !== region) {
    throw new Error(
      `s preview renders runtime ${fn.runtime}, region ${fn.region}, layers ${fn.layers}; ` +
        `expected ${runtime}, ${region}, ${want} (is one of them exported in this shell? it wins over .env)`,
    );
  }
  checkRendered(rendered);

  rmSync(deployed, { force: true });
  await run(deployArgv);
  const url = urlOf(deployed, rendered);
  log('');
  if (url) {
    log(`deployed. Open ${url}playground, or: curl -o page.png '${url}?url=https://example.com'`);
  } else {
    log('deployed. `s info` shows the custom domain (domainName); open http://THAT-DOMAIN/playground');
  }
  log('logs: s screenshot logs --tail    (lines reach the log store a few seconds late)');
  return { commands, arns, url };
}

/** What the schemas cannot check in s.yaml as `s` renders it: the domain and the instance counts. */
export function checkRendered(doc: SYaml): void {
  const fn = propsOf(doc, 'fc3');
  const max = fn.concurrencyConfig?.reservedConcurrency;
  const min = fn.provisionConfig?.defaultTarget ?? 0;
  if (!Number.isInteger(max) || max < 1)
    throw new Error(`FCSHOT_MAX_INSTANCES must be a whole number >= 1, not ${max}`);
  if (!Number.isInteger(min) || min < 0 || min > max) {
    throw new Error(`FCSHOT_MIN_INSTANCES must be a whole number from 0 to FCSHOT_MAX_INSTANCES (${max}), not ${min}`);
  }
  const d = propsOf(doc, 'fc3-domain');
  if (d.domainName === 'auto') {
    if (d.protocol !== 'HTTP' || d.certConfig) {
      throw new Error(
        "domainName auto (FC's test domain) is plain HTTP only: FCSHOT_DOMAIN_PROTOCOL=HTTP, no certificate",
      );
    }
  } else if (!String(d.protocol).includes('HTTPS') || !d.certConfig) {
    throw new Error(
      `your own domain ${d.domainName} is served over HTTPS only: npm run deploy -- --domain ${d.domainName} ` +
        '--cert FULLCHAIN.pem --key PRIVKEY.pem (a token over plain HTTP is readable on the wire)',
    );
  } else {
    for (const file of [d.certConfig.certificate, d.certConfig.privateKey]) {
      if (!existsSync(file)) throw new Error(`the domain's certificate file ${file} (FCSHOT_DOMAIN_CERT) is missing`);
    }
  }
}

/** The URL to open: the custom domain `s deploy` reported in its --output-file (unmasked). */
function urlOf(deployed: string, rendered: SYaml): string | undefined {
  if (!existsSync(deployed)) return undefined;
  const out = JSON.parse(readFileSync(deployed, 'utf8')) as Record<string, { domainName?: string; protocol?: string }>;
  const name = Object.entries(rendered.resources).find(([, r]) => r.component === 'fc3-domain')?.[0];
  const d = name ? out[name] : undefined;
  if (!d?.domainName || /\*/.test(d.domainName)) return undefined;
  return `${String(d.protocol ?? 'HTTP').includes('HTTPS') ? 'https' : 'http'}://${d.domainName}/`;
}

export const USAGE =
  'usage: npm run deploy -- [--region cn-hangzhou] [--target custom.debian12|custom.debian11] [--access default]\n' +
  '                         [--domain shots.example.com --cert fullchain.pem --key privkey.pem [--cert-name N]]\n' +
  '                         [--domain auto] [--template path/to/s.yaml] [--dry-run]\n' +
  '  --dry-run builds and prints the commands without running any. Region and target default to FCSHOT_REGION\n' +
  '  and FCSHOT_RUNTIME (shell, then .env), else cn-hangzhou and custom.debian12. --domain serves your own\n' +
  "  domain over HTTPS (kept in .env); --domain auto goes back to FC's test domain (plain HTTP).";

/**
 * The command line's options (exported for the tests), read strictly by node's own parser: an unknown
 * or misspelt flag (`--regoin`) is an error, never a deploy to the default region; `--help` only asks.
 */
export function parseArgs(argv: string[]): DeployOptions & { help: boolean } {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseCommandLine({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        region: { type: 'string' },
        target: { type: 'string' },
        access: { type: 'string' },
        template: { type: 'string' },
        domain: { type: 'string' },
        cert: { type: 'string' },
        key: { type: 'string' },
        'cert-name': { type: 'string' },
        'dry-run': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${USAGE}`);
  }
  return {
    help: values.help === true,
    dryRun: values['dry-run'] === true,
    region: values.region as string | undefined,
    access: (values.access as string | undefined) ?? 'default',
    target: values.target as string | undefined,
    template: values.template as string | undefined,
    domain: values.domain as string | undefined,
    cert: values.cert as string | undefined,
    key: values.key as string | undefined,
    certName: values['cert-name'] as string | undefined,
  };
}

const isMain = process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  Promise.resolve()
    .then(() => {
      const opts = parseArgs(process.argv.slice(2));
      if (opts.help) console.log(USAGE);
      else return deploy(opts);
    })
    .catch((err: Error) => {
      console.error(`\ndeploy failed: ${err.message}`);
      process.exit(1);
    });
}
