/**
 * Starts Chromium with the DevTools protocol on a pipe and connects puppeteer to it through a
 * transport of our own, which drops the events node never uses (console calls, log entries, uncaught
 * exceptions) while they stream in: each is recognised from its first bytes and skipped up to its end
 * without being kept, joined or parsed. A page that logs megabytes in a loop then costs node only the
 * reading of bytes past, never the JSON, the objects puppeteer would make of them, or the memory.
 * (puppeteer's own launcher parses every message, and has no way to leave some out.)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import puppeteer, { type Browser, type ConnectionTransport } from 'puppeteer-core';

/**
 * Events neither puppeteer nor any code of ours listens to, which a page can make Chromium send without
 * end: console calls, log entries, uncaught exceptions, and one event per chunk of every response
 * body (a third of a capture's CDP messages on an ordinary page).
 */
const DROPPED_EVENTS = [
  'Runtime.consoleAPICalled',
  'Log.entryAdded',
  'Runtime.exceptionThrown',
  'Network.dataReceived',
] as const;

const DROPPED_HEADS = DROPPED_EVENTS.map((method) => Buffer.from(`{"method":"${method}"`));
/** How many bytes of a message decide whether it is dropped. */
const HEAD_BYTES = Math.max(...DROPPED_HEADS.map((h) => h.length));

/**
 * Chromium's pipe protocol: JSON messages, each ended by a NUL byte. Events start with their method
 * (`{"method":"Runtime.consoleAPICalled","params":…`), which is what the filter reads.
 */
export class QuietPipeTransport implements ConnectionTransport {
  onmessage?: (message: string) => void;
  onclose?: () => void;
  private parts: Buffer[] = [];
  private length = 0;
  private decided = false;
  private skipping = false;
  private closed = false;
  /** Writes are being gathered until the current turn of the event loop ends. */
  private corked = false;

  constructor(
    private readonly pipeWrite: Writable,
    private readonly pipeRead: Readable,
  ) {
    pipeRead.on('data', (chunk: Buffer) => this.feed(chunk));
    pipeRead.once('close', () => this.onclose?.());
    pipeRead.on('error', () => undefined);
    pipeWrite.on('error', () => undefined);
  }

  send(message: string): void {
    if (this.closed) return;
    // The messages sent in one turn of the event loop (puppeteer sends several at once: attaching to a
    // tab enables five domains) leave in one system call, one wake-up of Chromium's reader: 40
    // captures made 2587 write calls instead of 3192 (the pipe's ~28 a capture became ~7).
    if (!this.corked) {
      this.corked = true;
      this.pipeWrite.cork();
      process.nextTick(() => {
        this.corked = false;
        this.pipeWrite.uncork();
      });
    }
    this.pipeWrite.write(`${message}\0`);
  }

  close(): void {
    this.closed = true;
    this.pipeRead.removeAllListeners('data');
  }

  private feed(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      const nul = chunk.indexOf(0, at);
      const end = nul === -1 ? chunk.length : nul;
      if (!this.skipping && end > at) {
        this.parts.push(chunk.subarray(at, end));
        this.length += end - at;
      }
      if (!this.decided && (this.length >= HEAD_BYTES || nul !== -1)) {
        this.decided = true;
        const head = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.length);
        if (DROPPED_HEADS.some((h) => head.length >= h.length && head.subarray(0, h.length).equals(h))) {
          this.skipping = true;
          this.parts = [];
          this.length = 0;
        }
      }
      if (nul === -1) return;
      if (!this.skipping) this.deliver(Buffer.concat(this.parts, this.length).toString('utf8'));
      this.parts = [];
      this.length = 0;
      this.decided = false;
      this.skipping = false;
      at = nul + 1;
    }
  }

  private deliver(message: string): void {
    // One message a macrotask, as puppeteer's own pipe transport does: its handlers expect that.
    setImmediate(() => {
      if (!this.closed) this.onmessage?.(message);
    });
  }
}

export interface LaunchOptions {
  executablePath: string;
  /** Our flags (src/browser/flags.ts); puppeteer's defaults for a headless shell are added. */
  args: string[];
  env: Record<string, string>;
  userDataDir: string;
  protocolTimeout: number;
  /** How long Chromium may take to answer on its pipe. */
  timeoutMs?: number;
}

export interface Launched {
  browser: Browser;
  process: ChildProcess;
  /** Kills Chromium and every process of its group (renderers, GPU, zygote). */
  kill(): void;
}

export async function launchChromium(opts: LaunchOptions): Promise<Launched> {
  const argv = [
    // Without the start page puppeteer adds, the headless shell opens no tab: no renderer process
    // (~35 MB) nobody captures in; every capture opens its own context.
    // Where shared memory lives is ours to say (flags.ts, chooseSharedMemory): puppeteer's defaults
    // always send it to files.
    ...puppeteer
      .defaultArgs({ headless: 'shell', args: opts.args, userDataDir: opts.userDataDir })
      .filter((arg) => arg !== 'about:blank' && (arg !== '--disable-dev-shm-usage' || opts.args.includes(arg))),
    '--remote-debugging-pipe',
  ];
  // Its own process group (detached), so one signal reaches every process it starts.
  const proc = spawn(opts.executablePath, argv, {
    detached: true,
    env: opts.env,
    stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'],
  });
  // The group, even after the browser process itself has gone: its helpers may not have yet.
  const kill = () => {
    if (proc.pid === undefined) return;
    try {
      process.kill(-proc.pid, 'SIGKILL');
    } catch {
      // none of the group is left
    }
  };
  // Node exiting for any reason takes Chromium with it.
  process.once('exit', kill);
  proc.once('exit', () => process.removeListener('exit', kill));

  const transport = new QuietPipeTransport(proc.stdio[3] as Writable, proc.stdio[4] as Readable);
  let timer: NodeJS.Timeout | undefined;
  const failed = new Promise<never>((_resolve, reject) => {
    proc.once('error', (err) =>
      reject(new Error(`could not start Chromium at ${opts.executablePath}: ${err.message}`)),
    );
    proc.once('exit', (code, signal) => reject(new Error(`Chromium exited while starting (${signal ?? code})`)));
    timer = setTimeout(
      () => reject(new Error(`Chromium did not answer on its pipe in ${opts.timeoutMs ?? 30_000} ms`)),
      opts.timeoutMs ?? 30_000,
    );
  });
  try {
    const browser = await Promise.race([
      puppeteer.connect({
        transport,
        protocolTimeout: opts.protocolTimeout,
        // Every capture sets its own viewport on its own session (src/capture/emulate.ts): puppeteer
        // emulating one more on each new page only costs two commands and a layout.
        defaultViewport: null,
        issuesEnabled: false,
      }),
      failed,
    ]);
    return { browser, process: proc, kill };
  } catch (err) {
    kill();
    throw err;
  } finally {
    clearTimeout(timer);
    failed.catch(() => undefined);
  }
}
