/**
 * Memory of a process tree as the kernel charges it: the sum of PSS (proportional set size, shared
 * pages split between their users) of a process and all its descendants. This is what counts against
 * an FC instance's memory limit; the browser manager and the benchmark both use it.
 */
import { readdir, readFile } from 'node:fs/promises';

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

/** Pids of `root` and everything below it. */
export async function processTree(root: number): Promise<number[]> {
  const pids = (await readdir('/proc')).filter((p) => /^\d+$/.test(p));
  const parents = await Promise.all(pids.map(async (p) => [Number(p), await parentOf(p)] as const));
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

/** Sum of PSS over the tree rooted at `root`, in MB. */
export async function treePssMb(root: number): Promise<number> {
  const tree = await processTree(root);
  const kb = (await Promise.all(tree.map(pssKb))).reduce((a, b) => a + b, 0);
  return kb / 1024;
}
