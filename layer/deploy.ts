/**
 * `npm run deploy [-- --dry-run] [--region cn-hangzhou] [--access default]`
 *
 * Builds everything, publishes the two layers with Serverless Devs, and deploys s.yaml with the new
 * layer ARNs passed in through the environment (s.yaml reads CHROMIUM_LAYER_ARN and DEPS_LAYER_ARN).
 * `--dry-run` builds and prints the exact commands without running any of them.
 */
import { spawnSync } from 'node:child_process';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildAll, ROOT } from './build.js';
import { loadFunctionSpec } from './fc-local.js';

export interface DeployOptions {
  dryRun: boolean;
  region: string;
  access: string;
  target?: string;
  /** The Serverless Devs CLI (default: `s` on PATH). */
  s?: string;
  log?: (line: string) => void;
}

const LAYER_NAMES = { chromium: 'fcshot-chromium', deps: 'fcshot-deps' } as const;
const ARN = /acs:fc:[\w-]+:\d+:layers\/[\w-]+\/versions\/\d+/;

const quote = (arg: string) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`);

export async function deploy(opts: DeployOptions): Promise<{ commands: string[]; arns: Record<string, string> }> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const s = opts.s ?? 's';
  const runtime = loadFunctionSpec().runtime;
  if (opts.target && opts.target !== runtime) {
    throw new Error(`s.yaml deploys runtime ${runtime}; build for it (or change s.yaml's runtime) instead of ${opts.target}`);
  }
  const built = await buildAll({ target: runtime, log });
  const publish = (name: string, zip: string) => [
    s, 'cli', 'fc3', 'layer', 'publish',
    '--layer-name', name,
    '--code', relative(ROOT, zip),
    '--compatible-runtime', runtime,
    '--region', opts.region,
    '--access', opts.access,
  ];
  const steps = [
    { key: 'CHROMIUM_LAYER_ARN', argv: publish(LAYER_NAMES.chromium, built.chromium.zip) },
    { key: 'DEPS_LAYER_ARN', argv: publish(LAYER_NAMES.deps, built.deps!.zip) },
  ];
  const deployArgv = [s, 'deploy', '--assume-yes', '--access', opts.access];
  const arns: Record<string, string> = {};
  const commands: string[] = [];

  log('');
  for (const step of steps) {
    commands.push(step.argv.map(quote).join(' '));
    if (opts.dryRun) {
      arns[step.key] = `<${step.key} printed by the command above>`;
      continue;
    }
    log(`$ ${commands.at(-1)}`);
    const run = spawnSync(step.argv[0]!, step.argv.slice(1), { cwd: ROOT, encoding: 'utf8' });
    if (run.error) throw new Error(`could not run ${s}: ${run.error.message} (npm i -g @serverless-devs/s, then s config add)`);
    process.stdout.write(run.stdout ?? '');
    if (run.status !== 0) throw new Error(`${step.argv.slice(0, 5).join(' ')} failed:\n${run.stderr}`);
    const arn = ARN.exec(run.stdout)?.[0];
    if (!arn) throw new Error(`no layer ARN in the output of: ${commands.at(-1)}`);
    arns[step.key] = arn;
  }
  const env = { ...arns, FC_REGION: opts.region };
  commands.push(`${Object.entries(env).map(([k, v]) => `${k}=${quote(v)}`).join(' ')} ${deployArgv.map(quote).join(' ')}`);
  if (opts.dryRun) {
    log('dry run: nothing was published or deployed. The commands, in order:');
    for (const c of commands) log(`  ${c}`);
    return { commands, arns };
  }
  log(`$ ${commands.at(-1)}`);
  const run = spawnSync(deployArgv[0]!, deployArgv.slice(1), { cwd: ROOT, stdio: 'inherit', env: { ...process.env, ...env } });
  if (run.status !== 0) throw new Error('s deploy failed');
  return { commands, arns };
}

const isMain = process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const argv = process.argv.slice(2);
  const flag = (name: string, fallback: string) => {
    const i = argv.indexOf(name);
    return i >= 0 && argv[i + 1] ? argv[i + 1]! : fallback;
  };
  deploy({
    dryRun: argv.includes('--dry-run'),
    region: flag('--region', process.env.FC_REGION ?? 'cn-hangzhou'),
    access: flag('--access', 'default'),
    target: argv.includes('--target') ? flag('--target', '') : undefined,
  }).catch((err: Error) => {
    console.error(`\ndeploy failed: ${err.message}`);
    process.exit(1);
  });
}
