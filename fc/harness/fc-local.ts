/**
 * `npm run fc:local`: runs the built function the way FC would, on this machine.
 *
 * The built zips are unpacked into a stand-in /opt (build/fc-local/opt) and a stand-in /code, and
 * the code package's entry point is started with exactly the environment s.yaml declares, every
 * /opt path rewritten to the stand-in, plus what FC itself sets for a custom runtime (FC_CUSTOM_LISTEN_PORT …).
 * Nothing else of this shell's environment is passed on: no system LD_LIBRARY_PATH, no NODE_PATH.
 * Node.js is the one from our node layer, as on FC; s.yaml is rendered as Serverless Devs renders it.
 *
 * It runs inside a cgroup with FC's limits (s.yaml's memorySize, one vCPU; fc/harness/cgroup.ts), where it
 * dies when it goes over its memory as it would on FC; where no cgroup can be made it says so and runs
 * without.
 *
 *   npm run fc:local                       # port 9000, as s.yaml says
 *   npm run fc:local -- --port 9100 --env EGRESS_ALLOW=127.0.0.1:8080
 *   npm run fc:local -- --no-limits        # no cgroup
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LAYERS } from '../layers/targets.js';
import { extractZip } from '../layers/zip.js';
import { BUILD } from '../paths.js';
import { loadFunctionSpec } from '../s-yaml.js';
import { createCgroup, CgroupUnavailable, type Cgroup, type CgroupStats } from './cgroup.js';

/** Rewrites every /opt path in `value` to the stand-in folder. */
export const underStandIn = (value: string, opt: string) => value.replace(/(^|[:\s])\/opt(?=\/|$|:)/g, `$1${opt}`);

export interface LocalLayout {
  opt: string;
  code: string;
}

/** Unpacks the zips as FC would (modes and symlinks kept): layers into /opt, the code package into /code. */
export async function layOut(root = join(BUILD, 'fc-local'), build = BUILD): Promise<LocalLayout> {
  const opt = join(root, 'opt');
  const code = join(root, 'code');
  rmSync(root, { recursive: true, force: true });
  mkdirSync(opt, { recursive: true });
  mkdirSync(code, { recursive: true });
  for (const { zip } of LAYERS) await extractZip(join(build, zip), opt);
  await extractZip(join(build, 'code.zip'), code);
  return { opt, code };
}

export interface LocalFunction {
  child: ChildProcess;
  port: number;
  layout: LocalLayout;
  /** The cgroup with FC's limits it runs in (none when `limits` was off or cgroups are unavailable). */
  cgroup?: Cgroup;
  /** Set when the instance went over its memory and was killed, as FC would. */
  oomKilled(): CgroupStats | undefined;
  output(): string;
  stop(): Promise<number | null>;
}

/** The command, arguments, working directory and environment FC would start the function with. */
export function localProcess(layout: LocalLayout, port: number, extraEnv: Record<string, string> = {}) {
  const spec = loadFunctionSpec();
  const env: Record<string, string> = {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    ...Object.fromEntries(Object.entries(spec.env).map(([k, v]) => [k, underStandIn(v, layout.opt)])),
    // What FC sets for a custom runtime.
    FC_CUSTOM_LISTEN_PORT: String(port),
    FC_SERVER_PORT: String(port),
    FC_FUNC_CODE_PATH: layout.code,
    FC_RUNTIME: spec.runtime,
    FC_FUNCTION_MEMORY_SIZE: String(spec.memorySize),
    FC_FUNCTION_NAME: 'screenshot',
    ...extraEnv,
  };
  const [cmd, ...args] = spec.command.map((part) => underStandIn(part, layout.opt));
  return { cmd: cmd!, args, env, cwd: layout.code };
}

/** A cgroup with s.yaml's memorySize and vCPUs, or undefined (and a message on stderr) where none can be made. */
export function fcLimits(): Cgroup | undefined {
  const spec = loadFunctionSpec();
  try {
    return createCgroup({ memoryMb: spec.memorySize, cpus: spec.cpu });
  } catch (err) {
    if (!(err instanceof CgroupUnavailable)) throw err;
    console.error(`fc:local: running WITHOUT FC's limits (${spec.memorySize} MB, ${spec.cpu} vCPU): ${err.message}`);
    return undefined;
  }
}

/**
 * Starts the function from a laid-out tree and waits until it listens. `limits`: run it in a
 * cgroup with FC's memory and CPU (killed whole on OOM, as on FC).
 */
export async function startLocal(
  opts: { port?: number; extraEnv?: Record<string, string>; layout?: LocalLayout; limits?: boolean } = {},
): Promise<LocalFunction> {
  const layout = opts.layout ?? (await layOut());
  const { cmd, args, env } = localProcess(layout, opts.port ?? loadFunctionSpec().port, opts.extraEnv);
  const cgroup = opts.limits ? fcLimits() : undefined;
  const run = cgroup ? cgroup.wrap(cmd, args) : { cmd, args };
  const child = spawn(run.cmd, run.args, { cwd: layout.code, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let oomKilled: CgroupStats | undefined;
  cgroup?.watchOom((stats) => {
    oomKilled = stats;
    const message = `fc:local: the instance went over its ${cgroup.limits.memoryMb} MB and was killed, as FC would`;
    out += `\n${message}\n`;
    console.error(message);
  });
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code))).finally(() =>
    cgroup?.remove(),
  );

  const deadline = Date.now() + 30_000;
  let listening: number | undefined;
  while (Date.now() < deadline && child.exitCode === null) {
    const m = /Server listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
    if (m && /chromium launched|chromium failed/.test(out)) {
      listening = Number(m[1]);
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  if (!listening) {
    child.kill('SIGKILL');
    await exited;
    throw new Error(`the function did not start:\n${out}`);
  }
  return {
    child,
    port: listening,
    layout,
    cgroup,
    oomKilled: () => oomKilled,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

const isMain = process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const argv = process.argv.slice(2);
  const extraEnv: Record<string, string> = {};
  let port: number | undefined;
  let limits = true;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--port') port = Number(argv[++i]);
    else if (argv[i] === '--no-limits') limits = false;
    else if (argv[i] === '--env') {
      const [k, ...v] = argv[++i]!.split('=');
      extraEnv[k!] = v.join('=');
    }
  }
  const fn = await startLocal({ port, extraEnv, limits });
  process.stdout.write(fn.output());
  fn.child.stdout!.pipe(process.stdout);
  fn.child.stderr!.pipe(process.stderr);
  const where = fn.cgroup
    ? `cgroup ${fn.cgroup.name}: ${fn.cgroup.limits.memoryMb} MB, ${fn.cgroup.limits.cpus} vCPU`
    : 'no cgroup';
  console.log(
    `\nfc:local: the function listens on http://127.0.0.1:${fn.port}/ (stand-in /opt: ${fn.layout.opt}; ${where}); Ctrl-C stops it`,
  );
  const stop = () => void fn.stop().then((code) => process.exit(code ?? 0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
