/**
 * One deadline per request, covering queue, navigation, waits, capture and encoding. Each phase is
 * run through `step`, which records its duration (for Server-Timing and logs) and gives up the moment
 * the deadline passes or the client goes away; the abort signal lets the phase's owner stop its work.
 */
import { ClientGone, deadlineExceeded } from './errors.js';

/** `work`, or a TimeoutError naming `what` after `ms`. */
export function withTimeout<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    const err = Object.assign(new Error(`${what} took longer than ${Math.round(ms)} ms`), { name: 'TimeoutError' });
    timer = setTimeout(() => reject(err), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export class Deadline {
  readonly at: number;
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private phase = 'queue';
  readonly timings: Record<string, number> = {};
  private readonly descriptions: Record<string, string> = {};

  constructor(ms: number) {
    this.at = Date.now() + ms;
    this.timer = setTimeout(() => this.controller.abort(deadlineExceeded(this.phase)), ms);
    this.timer.unref();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  remaining(): number {
    return Math.max(0, this.at - Date.now());
  }

  /** The client disconnected: stop whatever phase is running (it rejects with ClientGone). */
  clientLeft(): void {
    this.controller.abort(new ClientGone());
  }

  /** Settles with `work`, or rejects as soon as the deadline passes or the client goes away. */
  race<T>(work: Promise<T>): Promise<T> {
    const signal = this.signal;
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  /**
   * `work` bounded twice: by `ms` (a TimeoutError naming `what`) and by the deadline. For calls to
   * the browser inside a phase that must not take the whole phase's time.
   */
  within<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
    return this.race(withTimeout(ms, what, work));
  }

  /** Time a wait may take: all that is left, or, with bestAttempt, all but a reserve for the capture. */
  waitBudget(bestAttempt: boolean): number {
    const left = this.remaining();
    return Math.max(100, bestAttempt ? left - Math.min(3000, left / 3) : left);
  }

  /** Enters a phase (a timeout now names it); the returned function records its duration. */
  mark(phase: string): () => void {
    this.phase = phase;
    const started = performance.now();
    return () => this.record(phase, performance.now() - started);
  }

  /** Runs one phase against the deadline and records how long it took. */
  async step<T>(phase: string, work: () => Promise<T>): Promise<T> {
    const done = this.mark(phase);
    try {
      this.signal.throwIfAborted();
      return await this.race(work());
    } catch (err) {
      // puppeteer's own timeouts within a phase are this deadline running out, too.
      if (err instanceof Error && err.name === 'TimeoutError') throw deadlineExceeded(phase);
      throw err;
    } finally {
      done();
    }
  }

  record(phase: string, ms: number): void {
    this.timings[phase] = (this.timings[phase] ?? 0) + ms;
  }

  /** A word on a phase for Server-Timing's `desc` (e.g. `page;desc=warm`). */
  describe(phase: string, text: string): void {
    this.descriptions[phase] = text;
  }

  dispose(): void {
    clearTimeout(this.timer);
  }

  /** `queue;dur=1.2, page;desc=warm;dur=0.3, navigate;dur=110.4, …` */
  serverTiming(): string {
    return Object.entries(this.timings)
      .map(([name, ms]) => {
        const desc = this.descriptions[name];
        return `${name};${desc ? `desc=${desc};` : ''}dur=${ms.toFixed(1)}`;
      })
      .join(', ');
  }
}
