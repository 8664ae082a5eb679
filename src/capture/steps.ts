/**
 * A step: one small piece of work on the page for one option, a no-op when that option is unset.
 * The set-up before navigation (emulate.ts) and the changes after it (page-changes.ts) are each a
 * list of steps, so an option is one entry in one list, and the list's order is the order of work.
 */

export interface Step<Context> {
  /** The option (or group of options) the step serves. */
  readonly name: string;
  readonly run: (ctx: Context) => Promise<void>;
}

/** Runs the steps one after another, each waiting for the one before. */
export async function runInOrder<Context>(steps: readonly Step<Context>[], ctx: Context): Promise<void> {
  for (const step of steps) await step.run(ctx);
}

/**
 * Starts the steps in list order without waiting between them (independent commands: their round
 * trips overlap), and waits for all; the first to fail fails the whole.
 */
export async function runTogether<Context>(steps: readonly Step<Context>[], ctx: Context): Promise<void> {
  await Promise.all(steps.map((step) => step.run(ctx)));
}
