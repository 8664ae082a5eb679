/**
 * Memory of this instance's process tree (node + Chromium), and the guard that keeps it inside the
 * instance's budget.
 *
 * Two measures:
 * - PSS (proportional set size, `smaps_rollup`): exact, shared pages split between their users, but
 *   reading it walks every page table; the benchmark uses it.
 * - anonymous resident memory (`statm`: resident − shared): what cannot be dropped or written back
 *   when memory runs out (there is no swap on FC), so what an out-of-memory kill is about. Reading it
 *   is a counter lookup, cheap enough to do every 100 ms while captures run; the guard uses it.
 *
 * The budget (README "Memory budget"): of the instance's memory, a reserve is kept for the kernel, page
 * cache and the time between two samples; what is left is the budget. The base (node + Chromium with
 * nothing to do) is measured at start; the rest, divided by the concurrency, is each capture's share.
 * When the tree passes the budget, the renderer holding the most is killed: its page's request gets
 * 502 `page_too_large`, every other capture goes on. The total can only pass the budget when the pages
 * together hold more than all their shares, so the biggest page is always over its own share.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { totalmem } from 'node:os';
import { ProcFiles, type ReadProc, readOnce } from './proc-files.js';

async function parentOf(pid: string): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may hold spaces and parentheses: fields resume after the last ')'
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** PSS of one process, kB (0 when it is gone). */
export async function pssKb(pid: number): Promise<number> {
  try {
    const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
    return Number(/^Pss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

function descend(root: number, parents: Iterable<readonly [number, number | undefined]>): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of parents) {
    if (ppid === undefined) continue;
    children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  }
  const tree: number[] = [];
  const stack = [root];
  while (stack.length) {
    const pid = stack.pop()!;
    tree.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/** Pids of `root` and everything below it. */
export async function processTree(root: number): Promise<number[]> {
  const pids = (await readdir('/proc')).filter((p) => /^\d+$/.test(p));
  return descend(root, await Promise.all(pids.map(async (p) => [Number(p), await parentOf(p)] as const)));
}

/** Sum of PSS over the tree rooted at `root`, in MB. */
export async function treePssMb(root: number): Promise<number> {
  const tree = await processTree(root);
  const kb = (await Promise.all(tree.map(pssKb))).reduce((a, b) => a + b, 0);
  return kb / 1024;
}

/**
 * The same tree, synchronously: small reads of /proc are faster done in place than sent to the
 * thread pool, and the guard calls this every sample.
 */
export function processTreeNow(root: number): number[] {
  const parents: Array<readonly [number, number | undefined]> = [];
  for (const p of readdirSync('/proc')) {
    const c = p.charCodeAt(0);
    if (c < 48 || c > 57) continue; // not a pid
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'latin1');
      parents.push([Number(p), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ', 2)[1])]);
    } catch {
      // ended while we looked
    }
  }
  return descend(root, parents);
}

const PAGE_KB = 4; // x86_64 and arm64 Linux as FC runs them

/** Anonymous resident memory of one process, MB (0 when it is gone). */
export function anonMb(pid: number, read: ReadProc = readOnce): number {
  const statm = read(`/proc/${pid}/statm`);
  if (!statm) return 0;
  const [, resident, shared] = statm.split(' ');
  return ((Number(resident) - Number(shared)) * PAGE_KB) / 1024;
}

/** The memory limit of this process's own cgroup (v2 `memory.max`, v1 `memory.limit_in_bytes`), MB. */
function cgroupLimitMb(): number | undefined {
  try {
    for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
      const [, controllers, path] = line.split(':');
      const file =
        controllers === ''
          ? `/sys/fs/cgroup${path}/memory.max`
          : controllers?.split(',').includes('memory')
            ? `/sys/fs/cgroup/memory${path}/memory.limit_in_bytes`
            : undefined;
      if (!file) continue;
      const bytes = Number(readFileSync(file, 'utf8').trim()); // "max" → NaN
      if (Number.isFinite(bytes) && bytes < totalmem()) return Math.floor(bytes / 2 ** 20);
    }
  } catch {
    // no cgroup to read
  }
  return undefined;
}

/**
 * The instance's memory: as configured (FC_FUNCTION_MEMORY_SIZE on FC), else the cgroup's limit,
 * else the machine's.
 */
export function instanceMemoryMb(configured?: number): number {
  return configured ?? cgroupLimitMb() ?? Math.floor(totalmem() / 2 ** 20);
}

export interface Budget {
  /** The instance's memory (FC's memorySize). */
  instanceMb: number;
  /** Kept back for the kernel, page cache and the growth between two samples. */
  reserveMb: number;
  /** instance − reserve: the tree's anonymous memory never stays above this. */
  budgetMb: number;
  /** node + Chromium with nothing to do, measured at start. */
  baseMb: number;
  concurrency: number;
  /** (budget − base) / concurrency: what each capture can count on. */
  shareMb: number;
}

/** The budget arithmetic; the reserve is an eighth of the instance, at least 64 MB. */
export function budgetFor(instanceMb: number, baseMb: number, concurrency: number): Budget {
  const reserveMb = Math.max(64, Math.round(instanceMb / 8));
  const budgetMb = instanceMb - reserveMb;
  return {
    instanceMb,
    reserveMb,
    budgetMb,
    baseMb,
    concurrency,
    shareMb: Math.floor((budgetMb - baseMb) / concurrency),
  };
}

/** A renderer the guard killed. */
export interface MemoryKill {
  pid: number;
  mb: number;
  totalMb: number;
  at: number;
  budget: Budget;
}

type Log = { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };

/** A Chromium process as Chromium lists it (CDP `SystemInfo.getProcessInfo`). */
export interface ChromiumProcess {
  pid: number;
  type: string;
}

export interface MemoryGuardOptions {
  instanceMb: number;
  concurrency: number;
  log: Log;
  /** How often the memory is read while captures run, ms. */
  everyMs?: number;
}

/** How often Chromium is asked for its process list while captures run (renderers come and go). */
const LIST_EVERY_MS = 1000;
/**
 * Chromium's process types (as CDP names them) whose memory follows the pages: the renderers, the GPU
 * process, and the browser process, where the network service (every context's in-memory HTTP cache and
 * response buffers) runs (src/browser/flags.ts).
 */
const FAST = new Set(['renderer', 'GPU', 'gpu-process', 'browser']);

/**
 * Reads the tree's memory every `everyMs` while at least one capture runs (never when idle) and
 * kills the biggest renderer when the tree is over budget. A sample is one `statm` read (of a file kept
 * open while captures run, read again in place: proc-files.ts) per process that grows with pages: this
 * node process, the browser process, the renderers and the GPU process, as Chromium itself
 * lists them (`listProcesses`, refreshed every second, when the slow-moving rest is read too) and
 * every renderer its zygotes started since (the zygotes found once for each Chromium); processes Chromium
 * does not list (its zygotes) are counted at their size at start. Without a list
 * the whole of /proc is walked instead, at most once a second (that walk costs tens of ms on a busy
 * machine with many processes).
 */
export class MemoryGuard {
  /** Chromium's processes, set by the browser manager. */
  listProcesses?: () => Promise<ChromiumProcess[]>;
  /**
   * Gives up memory nobody is using (the browser manager's warm tabs); returns whether it gave up any.
   * Over budget, this goes first: a page is killed only if there was nothing to give up.
   */
  relieve?: () => boolean;
  /**
   * Chromium's shared memory that no process's anonymous memory shows: what it has put in /dev/shm
   * (a tmpfs: memory the kernel cannot write back), MB; set by the browser manager.
   */
  sharedMb?: () => number;
  private active = 0;
  private timer?: NodeJS.Timeout;
  private current?: Budget;
  private measuring?: Promise<Budget | undefined>;
  private readonly kills: MemoryKill[] = [];
  private lastMb?: number;
  /** Renderers killed and not yet gone: their memory is on its way out, they are not killed twice. */
  private readonly dying = new Map<number, number>();
  private known: ChromiumProcess[] = [];
  private knownAt = 0;
  private listing?: Promise<void>;
  /** Memory of processes under us that Chromium does not list, MB (measured with the base). */
  private unlistedMb = 0;
  /**
   * The files that list the children of the running Chromium's zygotes (one a thread), which fork its
   * renderers: the browser's children so named, looked for when a list shows another browser process.
   */
  private zygoteChildren: string[] = [];
  /** The browser process whose zygotes those are. */
  private zygotesOf?: number;
  /** The files read every sample, kept open while captures run. */
  private readonly files = new ProcFiles();
  /** Whether a zygote's child is a renderer (known once its command line no longer reads as the zygote's). */
  private readonly rendererPid = new Map<number, boolean>();
  /** Memory of the listed processes read only with the list, MB. */
  private slowMb = 0;
  /** Highest total seen, MB (tests and logs). */
  peakMb = 0;

  constructor(private readonly opts: MemoryGuardOptions) {}

  /** The instance's memory the budget is made from, MB. */
  get instanceMb(): number {
    return this.opts.instanceMb;
  }

  private refresh(force = false): Promise<void> {
    if (this.listing) return this.listing;
    if (!force && Date.now() - this.knownAt < (this.listProcesses ? LIST_EVERY_MS : 1000)) return Promise.resolve();
    const list = this.listProcesses
      ? this.listProcesses()
      : Promise.resolve(
          processTreeNow(process.pid)
            .slice(1)
            .map((pid) => ({ pid, type: isRenderer(pid) ? 'renderer' : 'other' })),
        );
    this.listing = list
      .then((ps) => {
        // The browser (with the network service), renderers and the GPU process grow with pages: read
        // every sample. The rest (a utility process, should one start) moves slowly: read with the list.
        this.known = ps.filter((p) => FAST.has(p.type));
        // A Chromium's zygotes live as long as it does (a relaunched one has its own): looked for
        // among the browser's children (every thread's, a few dozen reads) once, not with every list.
        const browser = ps.find((p) => p.type === 'browser');
        if (browser?.pid !== this.zygotesOf || !this.zygoteChildren.length) {
          this.zygotesOf = browser?.pid;
          this.zygoteChildren = (browser ? childrenOf(browser.pid) : [])
            .filter((pid) => processType(pid) === 'zygote')
            .flatMap(childFiles);
        }
        this.slowMb = ps.filter((p) => !FAST.has(p.type)).reduce((sum, p) => sum + anonMb(p.pid), 0);
      })
      .catch(() => undefined)
      .finally(() => {
        this.knownAt = Date.now();
        this.listing = undefined;
      });
    return this.listing;
  }

  /** Measures the base (call when Chromium is up and idle) and fixes the budget. */
  measureBase(): Promise<Budget | undefined> {
    this.measuring ??= (async () => {
      await this.refresh(true);
      const tree = processTreeNow(process.pid);
      const all = tree.reduce((sum, pid) => sum + anonMb(pid), 0);
      const listed = new Set((await (this.listProcesses?.() ?? Promise.resolve([]))).map((p) => p.pid));
      this.unlistedMb = this.listProcesses
        ? tree.filter((pid) => pid !== process.pid && !listed.has(pid)).reduce((sum, pid) => sum + anonMb(pid), 0)
        : 0;
      this.current = budgetFor(this.opts.instanceMb, Math.round(all), this.opts.concurrency);
      this.opts.log.info(this.current, 'memory budget');
      return this.current;
    })().catch(() => {
      this.measuring = undefined;
      return undefined;
    });
    return this.measuring;
  }

  get budget(): Budget | undefined {
    return this.current;
  }

  /** A capture starts: sample while it runs. Call the returned function when it ends. */
  busy(): () => void {
    if (!this.current) void this.measureBase();
    this.active += 1;
    this.timer ??= setInterval(() => this.sample(), this.opts.everyMs ?? 100);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active -= 1;
      if (this.active === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
        this.lastMb = undefined;
        this.files.close();
      }
    };
  }

  /**
   * The memory Chromium keeps across captures, MB (a fresh process list and one read each): its browser
   * process (with the network service), its GPU process and any utility process. Renderers are left out:
   * they hold the pages in flight (the guard's business, per capture), and a renderer just killed still
   * holds its page until it is gone; counting them made one page over its budget recycle the browser its
   * kill was meant to spare.
   */
  async chromiumMbNow(): Promise<number> {
    await this.refresh(true);
    const own = this.known.filter((p) => p.type !== 'renderer');
    return this.unlistedMb + this.slowMb + own.reduce((sum, p) => sum + anonMb(p.pid), 0);
  }

  /**
   * Renderers started since Chromium's last list: a new page's renderer can take hundreds of MB before
   * the next one. The zygotes fork every renderer, so their children are read at each sample (one small
   * read a zygote) and a child not yet listed is counted at once.
   */
  private newRenderers(): ChromiumProcess[] {
    const listed = new Set(this.known.map((p) => p.pid));
    const found: ChromiumProcess[] = [];
    for (const file of this.zygoteChildren) {
      for (const pid of pidsIn(this.files.read(file))) {
        if (listed.has(pid)) continue;
        let renderer = this.rendererPid.get(pid);
        if (renderer === undefined) {
          const type = processType(pid);
          renderer = type === 'renderer';
          // Just forked, a renderer still has its zygote's command line for a few ms: asked again next time.
          if (type !== 'zygote') this.rendererPid.set(pid, renderer);
          if (this.rendererPid.size > 256) this.rendererPid.delete(this.rendererPid.keys().next().value!);
        }
        if (renderer) found.push({ pid, type: 'renderer' });
      }
    }
    return found;
  }

  /** The renderer kill (if any) since `since` (a Date.now()), to name why a page went away. */
  killedSince(since: number): MemoryKill | undefined {
    return this.kills.find((k) => k.at >= since);
  }

  /** One look at the tree; over budget, the biggest renderer goes. Returns the total, MB. */
  sample(): number | undefined {
    const budget = this.current;
    this.files.sweep(); // what the last sample read and this one will not: processes gone
    void this.refresh();
    if (!budget) return undefined;
    for (const [pid, at] of this.dying) if (Date.now() - at > 2000) this.dying.delete(pid);
    let chromium = this.unlistedMb + this.slowMb;
    let biggest = { pid: 0, mb: 0 };
    for (const { pid, type } of [...this.known, ...this.newRenderers()]) {
      if (this.dying.has(pid)) continue;
      const mb = anonMb(pid, this.files.read);
      chromium += mb;
      if (mb > biggest.mb && type === 'renderer') biggest = { pid, mb };
    }
    const total = anonMb(process.pid, this.files.read) + chromium + (this.sharedMb?.() ?? 0);
    this.peakMb = Math.max(this.peakMb, total);
    // A page can grow by hundreds of MB a second and the next sample can come late on a busy CPU:
    // act on where the total will be if it grows again as much as since the last sample.
    const growth = this.lastMb === undefined ? 0 : Math.max(0, total - this.lastMb);
    this.lastMb = total;
    if (total + growth <= budget.budgetMb || !biggest.pid) return total;
    // A renderer killed a moment ago and not yet gone still holds what it had in /dev/shm: the next page
    // is not killed for it.
    if ([...this.dying.keys()].some(isAlive)) return total;
    if (this.relieve?.()) {
      this.opts.log.info(
        { totalMb: Math.round(total), budgetMb: budget.budgetMb },
        'over the memory budget; warm tabs closed',
      );
      return total;
    }
    try {
      process.kill(biggest.pid, 'SIGKILL');
    } catch {
      return total; // it ended by itself
    }
    this.dying.set(biggest.pid, Date.now());
    this.lastMb = total - biggest.mb;
    const kill = { pid: biggest.pid, mb: Math.round(biggest.mb), totalMb: Math.round(total), at: Date.now(), budget };
    this.kills.push(kill);
    if (this.kills.length > 16) this.kills.shift();
    this.opts.log.warn(
      { pid: kill.pid, pageMb: kill.mb, totalMb: kill.totalMb, budgetMb: budget.budgetMb },
      'page over the memory budget; renderer killed',
    );
    return total;
  }
}

/** The files that list the children of `pid`, one for each of its threads; none when it is gone. */
function childFiles(pid: number): string[] {
  try {
    return readdirSync(`/proc/${pid}/task`).map((tid) => `/proc/${pid}/task/${tid}/children`);
  } catch {
    return [];
  }
}

/** The pids a `children` file lists. */
function pidsIn(text: string | undefined): number[] {
  return (text ?? '').split(' ').filter(Boolean).map(Number);
}

/** The children of `pid` (every thread's), or none when it is gone. */
function childrenOf(pid: number): number[] {
  return childFiles(pid).flatMap((file) => pidsIn(readOnce(file)));
}

function isRenderer(pid: number): boolean {
  return processType(pid) === 'renderer';
}

/** A Chromium process's `--type` (renderer, zygote, gpu-process…), '' for the browser or another process. */
function processType(pid: number): string {
  return /--type=([\w-]+)/.exec(readOnce(`/proc/${pid}/cmdline`) ?? '')?.[1] ?? '';
}

/** Whether a process has not yet exited (a zombie counts as exited). */
function isAlive(pid: number): boolean {
  const stat = readOnce(`/proc/${pid}/stat`);
  return stat !== undefined && stat[stat.lastIndexOf(')') + 2] !== 'Z';
}
