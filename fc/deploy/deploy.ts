/**
 * `npm run deploy [-- --region cn-hangzhou] [--target custom.debian12] [--access default] [--dry-run]`
 *
 * 1. Refuses a region where FC does not offer the target runtime (naming the alternative).
 * 2. Builds every artefact for the target and refuses a zip over FC's smallest size limit.
 * 3. Publishes our four layers with Serverless Devs (`s cli fc3 layer publish`).
 * 4. Writes their ARNs, the region and the runtime to `.env` beside s.yaml, where every later `s`
 *    command (deploy, info, logs, remove) finds them; the values they replace stay as comments
 *    (a rollback is putting them back, see README).
 * 5. Has Serverless Devs render s.yaml (`s preview`) and checks it names exactly those layers.
 * 6. `s deploy`, then prints the URL to open (the custom domain's).
 *
 * `--dry-run` builds and prints the commands without running any; `--template` deploys another
 * s.yaml (its `.env` is written beside it).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs as parseCommandLine } from 'node:util';
import type { Artefact } from '../layers/artefact.js';
import { buildAll } from '../layers/build.js';
import { DEFAULT_TARGET, DEPLOYABLE, LAYERS, MAX_ZIP_BYTES, targetFor } from '../layers/targets.js';
import { ROOT } from '../paths.js';
import { propsOf, type SYaml } from '../s-yaml.js';

export interface DeployOptions {
  dryRun: boolean;
  region: string;
  access: string;
  target?: string;
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

const ARN = /acs:fc:[\w-]+:\d+:layers\/[\w-]+\/versions\/\d+/;
/** What `domainName: auto` gives: FUNCTION.fcv3.ACCOUNT.REGION.fc.devsapp.net. */
const AUTO_DOMAIN = /\b[\w-]+(?:\.[\w-]+)*\.fc\.devsapp\.net\b/;

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

/** `.env` with `values` set: other lines kept, a replaced value kept as a `# previous` comment. */
export function updateEnvFile(file: string, values: Record<string, string>, when = new Date()): void {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const lines = text ? text.replace(/\n$/, '').split('\n') : [];
  const kept: string[] = [];
  const previous: string[] = [];
  for (const line of lines) {
    const key = /^\s*([\w.-]+)\s*=/.exec(line)?.[1];
    if (key && key in values) {
      if (line.trim() !== `${key}=${values[key]}`) {
        previous.push(`# previous (until ${when.toISOString()}): ${line.trim()}`);
      }
    } else kept.push(line);
  }
  const ours = Object.entries(values).map(([k, v]) => `${k}=${v}`);
  const stamp = `# written by npm run deploy, ${when.toISOString()}`;
  writeFileSync(file, `${[...kept, ...previous, stamp, ...ours].join('\n')}\n`);
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
  const runtime = opts.target ?? DEFAULT_TARGET;
  checkRegion(runtime, opts.region);

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

  const publishes = LAYERS.map((layer) => ({
    layer,
    argv: [
      ...[s, 'cli', 'fc3', 'layer', 'publish', '--layer-name', layer.name],
      ...['--code', relative(dirname(template), zips[layer.key]!.zip), '--compatible-runtime', runtime],
      ...['--region', opts.region, '--access', opts.access],
    ],
  }));
  const tpl = template === join(ROOT, 's.yaml') ? [] : ['-t', template];
  const deployArgv = [s, 'deploy', ...tpl, '--assume-yes', '--access', opts.access];
  const previewArgv = [s, 'preview', ...tpl, '-o', 'json'];
  const commands = [...publishes.map((p) => p.argv.map(quote).join(' '))];

  log('');
  if (opts.dryRun) {
    commands.push(`(write ${relative(process.cwd(), envFile)}: FC_REGION, FC_RUNTIME and the four layer ARNs)`);
    commands.push(previewArgv.map(quote).join(' '), deployArgv.map(quote).join(' '));
    log('dry run: nothing was published or deployed. The commands, in order:');
    for (const c of commands) log(`  ${c}`);
    return { commands, arns: {} };
  }

  const arns: Record<string, string> = {};
  for (const { layer, argv } of publishes) {
    const arn = ARN.exec(await run(argv))?.[0];
    if (!arn) throw new Error(`no layer ARN in the output of: ${argv.map(quote).join(' ')}`);
    arns[layer.arnVar] = arn;
  }
  updateEnvFile(envFile, { FC_REGION: opts.region, FC_RUNTIME: runtime, ...arns });
  log(`wrote ${envFile}`);

  // What Serverless Devs itself makes of s.yaml now: the layers just published, the runtime built for.
  const rendered = jsonOf(await run(previewArgv, false)) as SYaml;
  const fn = propsOf(rendered, 'fc3');
  const want = LAYERS.map((l) => arns[l.arnVar]);
  if (JSON.stringify(fn.layers) !== JSON.stringify(want) || fn.runtime !== runtime || fn.region !== opts.region) {
    throw new Error(
      `s preview renders runtime ${fn.runtime}, region ${fn.region}, layers ${fn.layers}; ` +
        `expected ${runtime}, ${opts.region}, ${want} (is one of them exported in this shell? it wins over .env)`,
    );
  }

  const out = await run(deployArgv);
  const domain = AUTO_DOMAIN.exec(out)?.[0];
  const url = domain ? `http://${domain}/` : undefined;
  log('');
  if (url) {
    log(`deployed. Open ${url}playground, or: curl -o page.png '${url}?url=https://example.com'`);
  } else {
    log('deployed. `s info` shows the custom domain (domainName); open http://THAT-DOMAIN/playground');
  }
  log('logs: s screenshot logs --tail    (lines reach the log store a few seconds late)');
  return { commands, arns, url };
}

export const USAGE =
  'usage: npm run deploy -- [--region cn-hangzhou] [--target custom.debian12|custom.debian11] [--access default]\n' +
  '                         [--template path/to/s.yaml] [--dry-run]\n' +
  '  --dry-run builds and prints the commands without running any. Region and target default to FC_REGION and\n' +
  '  FC_RUNTIME, else cn-hangzhou and custom.debian12.';

/**
 * The command line's options (exported for the tests), read strictly by node's own parser: an unknown
 * or misspelt flag (`--regoin`) is an error, never a deploy to the default region; `--help` only asks.
 */
export function parseArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): DeployOptions & { help: boolean } {
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
    region: (values.region as string | undefined) ?? env.FC_REGION ?? 'cn-hangzhou',
    access: (values.access as string | undefined) ?? 'default',
    target: (values.target as string | undefined) ?? env.FC_RUNTIME,
    template: values.template as string | undefined,
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
