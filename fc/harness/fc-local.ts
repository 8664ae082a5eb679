/**
 * `npm run fc:local`: runs the built function the way FC would, on this machine.
 *
 * The built zips are unpacked into a stand-in /opt and a stand-in /code, outside the repository (as on
 * FC, no node_modules above the code: the bundle finds its modules in the layer or not at all), and
 * the code package's entry point is started with exactly the environment s.yaml declares, every
 * /opt path rewritten to the stand-in, plus what FC itself sets for a custom runtime (FC_CUSTOM_LISTEN_PORT …).
 * Nothing else of this shell's environment is passed on: no system LD_LIBRARY_PATH, no NODE_PATH.
 * Node.js is the one from our node layer, as on FC; s.yaml is rendered as Serverless Devs renders it.
 *
 * It runs inside a cgroup with FC's limits (s.yaml's memorySize, one vCPU; fc/harness/cgroup.ts), where it
 * dies when it goes over its memory as it would on FC; where no cgroup can be made it says so and runs
 * without. With `--freeze` (`freeze: true`), requests go through a front that, like FC, freezes the
 * whole instance whenever no request is running on it and thaws it for the next: what the function
 * leaves running after a response waits, stopped, for the next request.
 *
 *   npm run fc:local                       # port 9000, as s.yaml says
 *   npm run fc:local -- --port 9100 --env EGRESS_ALLOW=127.0.0.1:8080
 *   npm run fc:local -- --no-limits        # no cgroup
 *   npm run fc:local -- --freeze           # frozen between requests, as on FC
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LAYERS } from '../layers/targets.js';
import { extractZip } from '../layers/zip.js';
import { BUILD, ROOT } from '../paths.js';
import { loadFunctionSpec } from '../s-yaml.js';
import { createCgroup, CgroupUnavailable, type Cgroup, type CgroupStats } from './cgroup.js';

/** Rewrites every /opt path in `value` to the stand-in folder. */
export const underStandIn = (value: string, opt: string) => value.replace(/(^|[:\s])\/opt(?=\/|$|:)/g, `$1${opt}`);

export interface LocalLayout {
  opt: string;
  code: string;
}

/**
 * Where the stand-ins go: in the temporary folder, one per checkout. Not under the repository, whose
 * node_modules a module lookup from the code would find, where FC has none.
 */
export const LOCAL_ROOT = join(tmpdir(), `fc-local-${createHash('sha256').update(ROOT).digest('hex').slice(0, 12)}`);

/** Unpacks the zips as FC would (modes and symlinks kept): layers into /opt, the code package into /code. */
export async function layOut(root = LOCAL_ROOT, build = BUILD): Promise<LocalLayout> {
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
  /** Where to send requests: the function's own port, or the freezing front's. */
  port: number;
  /** With `freeze`: how many times the instance was frozen, and for how long in all. */
  freezes?: () => { count: number; frozenMs: number };
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
export function fcLimits(freezer = false): Cgroup | undefined {
  const spec = loadFunctionSpec();
  try {
    return createCgroup({ memoryMb: spec.memorySize, cpus: spec.cpu, freezer });
  } catch (err) {
    if (!(err instanceof CgroupUnavailable)) throw err;
    console.error(`fc:local: running WITHOUT FC's limits (${spec.memorySize} MB, ${spec.cpu} vCPU): ${err.message}`);
    return undefined;
  }
}

/**
 * FC's front, as far as freezing goes: each request is passed on to the function, and whenever none
 * is running the instance is frozen; a request thaws it before it is passed on. Freezing and thawing
 * happen in order, one at a time.
 */
async function freezingFront(functionPort: number, cgroup: Cgroup, port = 0) {
  let running = 0;
  let count = 0;
  let frozenMs = 0;
  let frozenAt: number | undefined;
  let turn: Promise<void> = Promise.resolve();
  // A freezer that fails (the instance died and its cgroup went) leaves the instance as it is.
  const report = (err: unknown) => console.error(`fc:local: freezer: ${(err as Error).message}`);
  const freeze = () => {
    turn = turn
      .then(async () => {
        if (running > 0 || frozenAt !== undefined) return;
        await cgroup.freeze();
        frozenAt = Date.now();
        count += 1;
      })
      .catch(report);
  };
  const thaw = () => {
    turn = turn
      .then(() => {
        if (frozenAt === undefined) return;
        frozenMs += Date.now() - frozenAt;
        frozenAt = undefined;
        cgroup.thaw();
      })
      .catch(report);
    return turn;
  };
  const server = http.createServer((req, res) => {
    running += 1;
    let gone = false;
    res.once('close', () => {
      gone = true;
      running -= 1;
      if (running === 0) freeze();
    });
    void thaw().then(() => {
      if (gone) return; // the caller left while the instance was waking
      const upstream = http.request(
        { host: '127.0.0.1', port: functionPort, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => (res.headersSent ? res.destroy() : res.writeHead(502).end()));
      res.once('close', () => upstream.destroy());
      req.pipe(upstream);
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  freeze(); // like FC after start-up: frozen until the first request
  return {
    port: (server.address() as AddressInfo).port,
    freezes: () => ({ count, frozenMs: frozenMs + (frozenAt === undefined ? 0 : Date.now() - frozenAt) }),
    /** Thawed for good, and no more requests taken. */
    close: async () => {
      running += 1; // nothing freezes it again
      await thaw();
      server.closeAllConnections();
      server.close();
    },
  };
}

/**
 * `cmd args` with a /dev/shm of `mb` MB of its own: a tmpfs mounted in a mount namespace of the
 * process's own (root only), as a container gives (Docker's default is 64 MB). Chromium decides from
 * what /dev/shm has where its shared memory goes (src/browser/flags.ts, chooseSharedMemory).
 */
export function withDevShm(cmd: string, args: string[], mb: number): { cmd: string; args: string[] } {
  // size=0 would be a tmpfs without a limit.
  if (!(mb >= 1)) throw new Error(`a /dev/shm of ${mb} MB`);
  const mount = `mount -t tmpfs -o size=${Math.floor(mb)}m fcshot-shm /dev/shm && exec "$@"`;
  return { cmd: 'unshare', args: ['--mount', '--propagation', 'private', 'sh', '-c', mount, 'sh', cmd, ...args] };
}

/**
 * Starts the function from a laid-out tree and waits until it listens. `limits`: run it in a
 * cgroup with FC's memory and CPU (killed whole on OOM, as on FC). `freeze`: in such a cgroup, frozen
 * whenever no request is running (requests go through the front, on `port`). `devShmMb`: a /dev/shm
 * of that size of its own (withDevShm).
 */
export async function startLocal(
  opts: {
    port?: number;
    extraEnv?: Record<string, string>;
    layout?: LocalLayout;
    limits?: boolean;
    freeze?: boolean;
    devShmMb?: number;
  } = {},
): Promise<LocalFunction> {
  const layout = opts.layout ?? (await layOut());
  const requested = opts.port ?? loadFunctionSpec().port;
  // Behind the front, the function listens on a port of its own.
  const local = localProcess(layout, opts.freeze ? 0 : requested, opts.extraEnv);
  const { env } = local;
  const { cmd, args } = opts.devShmMb === undefined ? local : withDevShm(local.cmd, local.args, opts.devShmMb);
  const cgroup = opts.limits || opts.freeze ? fcLimits(opts.freeze) : undefined;
  if (opts.freeze && !cgroup) throw new Error('fc:local: freezing needs a cgroup (root and cgroup v1 with a freezer)');
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
  const front = opts.freeze && cgroup ? await freezingFront(listening, cgroup, requested) : undefined;
  return {
    child,
    port: front?.port ?? listening,
    freezes: front?.freezes,
    layout,
    cgroup,
    oomKilled: () => oomKilled,
    output: () => out,
    stop: async () => {
      await front?.close().catch(() => undefined);
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
  let freeze = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--port') port = Number(argv[++i]);
    else if (argv[i] === '--no-limits') limits = false;
    else if (argv[i] === '--freeze') freeze = true;
    else if (argv[i] === '--env') {
      const [k, ...v] = argv[++i]!.split('=');
      extraEnv[k!] = v.join('=');
    }
  }
  const fn = await startLocal({ port, extraEnv, limits, freeze });
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
