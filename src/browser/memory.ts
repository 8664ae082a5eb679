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

async function parentOf(pid: string): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may hold spaces and parentheses: fields resume after the last ')'
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

async function pssKb(pid: number): Promise<number> {
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
export function anonMb(pid: number): number {
  try {
    const [, resident, shared] = readFileSync(`/proc/${pid}/statm`, 'latin1').split(' ');
    return ((Number(resident) - Number(shared)) * PAGE_KB) / 1024;
  } catch {
    return 0;
  }
}

/** Anonymous resident memory of a whole tree, MB. */
export const treeAnonMb = (root: number) => processTreeNow(root).reduce((sum, pid) => sum + anonMb(pid), 0);

/** The memory limit of this process's own cgroup (v2 `memory.max`, v1 `memory.limit_in_bytes`), MB. */
function cgroupLimitMb(): number | undefined {
  try {
    for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
      const [, controllers, path] = line.split(':');
      const file =
        controllers === '' ? `/sys/fs/cgroup${path}/memory.max`
        : controllers?.split(',').includes('memory') ? `/sys/fs/cgroup/memory${path}/memory.limit_in_bytes`
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

/** The instance's memory: as configured (FC_FUNCTION_MEMORY_SIZE on FC), else the cgroup's limit, else the machine's. */
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
  return { instanceMb, reserveMb, budgetMb, baseMb, concurrency, shareMb: Math.floor((budgetMb - baseMb) / concurrency) };
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

export interface MemoryGuardOptions {
  instanceMb: number;
  concurrency: number;
  log: Log;
  /** The tree's root: this node process, Chromium is below it. */
  rootPid?: number;
  /** How often the tree is read while captures run, ms. */
  everyMs?: number;
}

const cmdlines = new Map<number, string>();
function isRenderer(pid: number): boolean {
  let cmd = cmdlines.get(pid);
  if (cmd === undefined) {
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
    } catch {
      return false;
    }
    if (cmdlines.size > 4096) cmdlines.clear(); // pids are reused; keep it bounded
    cmdlines.set(pid, cmd);
  }
  return cmd.includes('--type=renderer');
}

/**
 * Reads the tree's memory every `everyMs` while at least one capture runs (never when idle) and
 * kills the biggest renderer when the tree is over budget.
 */
export class MemoryGuard {
  private active = 0;
  private timer?: NodeJS.Timeout;
  private current?: Budget;
  private readonly kills: MemoryKill[] = [];
  private lastMb?: number;
  /** Renderers killed and not yet gone: their memory is on its way out, they are not killed twice. */
  private readonly dying = new Map<number, number>();
  /** Highest tree total seen, MB (tests and logs). */
  peakMb = 0;

  constructor(private readonly opts: MemoryGuardOptions) {}

  /** Measures the base (call when Chromium is up and idle) and fixes the budget. */
  measureBase(): Budget {
    const baseMb = Math.round(treeAnonMb(this.opts.rootPid ?? process.pid));
    this.current = budgetFor(this.opts.instanceMb, baseMb, this.opts.concurrency);
    this.opts.log.info(this.current, 'memory budget');
    return this.current;
  }

  get budget(): Budget {
    return this.current ?? this.measureBase();
  }

  /** A capture starts: sample while it runs. Call the returned function when it ends. */
  busy(): () => void {
    void this.budget;
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
      }
    };
  }

  /** The renderer kill (if any) since `since` (a Date.now()), to name why a page went away. */
  killedSince(since: number): MemoryKill | undefined {
    return this.kills.find((k) => k.at >= since);
  }

  /** One look at the tree; over budget, the biggest renderer goes. Returns the total, MB. */
  sample(): number {
    const budget = this.budget;
    let total = 0;
    let biggest = { pid: 0, mb: 0 };
    for (const [pid, at] of this.dying) if (Date.now() - at > 2000) this.dying.delete(pid);
    for (const pid of processTreeNow(this.opts.rootPid ?? process.pid)) {
      if (this.dying.has(pid)) continue;
      const mb = anonMb(pid);
      total += mb;
      if (mb > biggest.mb && isRenderer(pid)) biggest = { pid, mb };
    }
    this.peakMb = Math.max(this.peakMb, total);
    // A page can grow by hundreds of MB a second and the next sample can come late on a busy CPU:
    // act on where the total will be if it grows again as much as since the last sample.
    const growth = this.lastMb === undefined ? 0 : Math.max(0, total - this.lastMb);
    this.lastMb = total;
    const projected = total + growth;
    if (projected > budget.budgetMb && biggest.pid) {
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
      this.opts.log.warn({ pid: kill.pid, pageMb: kill.mb, totalMb: kill.totalMb, budgetMb: budget.budgetMb }, 'page over the memory budget; renderer killed');
    }
    return total;
  }
}
