/** Unit tests of the per-request deadline: phases timed, timeouts named, client departure. */
import { describe, expect, it } from 'vitest';
import { Deadline } from '../src/deadline.js';
import { ClientGone, HttpError } from '../src/errors.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Deadline', () => {
  it('records each phase for Server-Timing', async () => {
    const d = new Deadline(5000);
    await d.step('navigate', () => sleep(20));
    await d.step('capture', async () => 1);
    d.dispose();
    expect(d.timings.navigate).toBeGreaterThanOrEqual(15);
    expect(d.serverTiming()).toMatch(/^navigate;dur=\d+\.\d, capture;dur=\d+\.\d$/);
  });

  it('gives up on a phase when the time is up, naming the phase (504)', async () => {
    const d = new Deadline(50);
    const err = await d.step('navigate', () => sleep(2000)).catch((e: unknown) => e);
    d.dispose();
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).statusCode).toBe(504);
    expect((err as HttpError).body.phase).toBe('navigate');
  });

  it('turns puppeteer’s own TimeoutError inside a phase into the same 504', async () => {
    const d = new Deadline(5000);
    const timeout = Object.assign(new Error('Waiting failed'), { name: 'TimeoutError' });
    const err = await d.step('prepare', () => Promise.reject(timeout)).catch((e: unknown) => e);
    d.dispose();
    expect((err as HttpError).body).toMatchObject({ error: 'timeout', phase: 'prepare' });
  });

  it('stops the running phase when the client goes away, and refuses new ones', async () => {
    const d = new Deadline(5000);
    const running = d.step('capture', () => sleep(2000)).catch((e: unknown) => e);
    d.clientLeft();
    expect(await running).toBeInstanceOf(ClientGone);
    expect(await d.step('encode', async () => 1).catch((e: unknown) => e)).toBeInstanceOf(ClientGone);
    d.dispose();
  });

  it('counts down', () => {
    const d = new Deadline(10_000);
    expect(d.remaining()).toBeGreaterThan(9000);
    expect(d.remaining()).toBeLessThanOrEqual(10_000);
    d.dispose();
  });
});
