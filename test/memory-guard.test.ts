/**
 * The memory guard's reads, against real processes and the real /proc: the files it reads every
 * sample are kept open, and closed once their process is gone or no capture runs. (Whether it stops a
 * page in time inside a real 1 GB instance is test/budget.test.ts.)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { anonMb, MemoryGuard } from '../src/browser/memory.js';
import { ProcFiles } from '../src/browser/proc-files.js';

const children: ChildProcess[] = [];
/** A stand-in renderer: a process holding `mb` of its own memory. */
async function holding(mb: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [
    '-e',
    `const keep = Buffer.alloc(${mb} << 20, 1); setInterval(() => keep[0]++, 1000)`,
  ]);
  children.push(child);
  for (let i = 0; i < 100 && anonMb(child.pid!) < mb; i++) await new Promise((r) => setTimeout(r, 50));
  return child;
}
const ended = (child: ChildProcess) =>
  new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(0) : child.once('exit', r)));
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});
/** This process's open files that are another process's /proc files. */
const openFiles = () =>
  readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return (
        /^\/proc\/\d+\//.test(readlinkSync(`/proc/self/fd/${fd}`)) &&
        !readlinkSync(`/proc/self/fd/${fd}`).startsWith(`/proc/${process.pid}/fd`)
      );
    } catch {
      return false;
    }
  }).length;
const quiet = { info: () => undefined, warn: () => undefined };

describe('the /proc files the guard reads every sample', () => {
  it('are read again in place, and closed when their process is gone or a sweep finds them unread', async () => {
    const [a, b] = await Promise.all([holding(8), holding(8)]);
    const files = new ProcFiles();
    const before = openFiles();
    const statm = (child: ChildProcess) => `/proc/${child.pid}/statm`;
    expect(anonMb(a.pid!, files.read)).toBeGreaterThanOrEqual(8);
    expect(anonMb(a.pid!, files.read)).toBeGreaterThanOrEqual(8); // the same file, read again
    expect(files.read(statm(b))).toMatch(/^\d+ \d+ /);
    expect(files.size).toBe(2);
    expect(openFiles()).toBe(before + 2);

    a.kill('SIGKILL');
    await ended(a);
    expect(files.read(statm(a))).toBeUndefined(); // gone: its file is closed, and nothing took the path
    expect(files.size).toBe(1);

    files.sweep(); // b was read since the last sweep: kept
    expect(files.size).toBe(1);
    files.sweep(); // not read since: closed
    expect(files.size).toBe(0);
    expect(openFiles()).toBe(before);

    expect(files.read(statm(b))).toMatch(/^\d+ \d+ /);
    files.close();
    expect(openFiles()).toBe(before);
  });

  it('are all closed once no capture runs', async () => {
    const page = await holding(16);
    const guard = new MemoryGuard({ instanceMb: 1 << 20, concurrency: 1, log: quiet, everyMs: 20 });
    guard.listProcesses = async () => [{ pid: page.pid!, type: 'renderer' }];
    await guard.measureBase();
    const before = openFiles();
    const done = guard.busy();
    await new Promise((r) => setTimeout(r, 300)); // a few looks
    expect(guard.peakMb).toBeGreaterThan(16);
    expect(openFiles()).toBeGreaterThan(before);
    done();
    expect(openFiles()).toBe(before);
  });

  it("reads the browser process (where Chromium's network service runs) every sample, not once a second", async () => {
    // A stand-in browser process that grows by 64 MB when told to.
    const browser = spawn(
      process.execPath,
      ['-e', `const keep = []; process.stdin.on('data', () => keep.push(Buffer.alloc(64 << 20, 1)))`],
      { stdio: ['pipe', 'ignore', 'ignore'] },
    );
    children.push(browser);
    await new Promise((r) => setTimeout(r, 300));
    const guard = new MemoryGuard({ instanceMb: 1 << 20, concurrency: 1, log: quiet, everyMs: 20 });
    // Chromium answers the lists measureBase asks for, and never again: what the guard sees after that
    // comes from its own samples alone, never from a fresh list (however late a loaded machine runs it).
    let lists = 0;
    guard.listProcesses = () =>
      ++lists <= 2 ? Promise.resolve([{ pid: browser.pid!, type: 'browser' }]) : new Promise(() => undefined);
    await guard.measureBase();
    const done = guard.busy();
    await new Promise((r) => setTimeout(r, 100));
    const before = guard.peakMb;
    browser.stdin!.write('grow');
    const until = Date.now() + 5000;
    while (Date.now() < until && guard.peakMb < before + 48) await new Promise((r) => setTimeout(r, 20));
    const seen = guard.peakMb - before;
    done();
    expect(seen).toBeGreaterThanOrEqual(48);
  });
});
