/** Finding the processes a test started. */
import { readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { processTree } from '../../src/browser/memory.js';
import type { LocalFunction } from '../../fc/harness/fc-local.js';

/** The Chromium browser process under a function run by the harness: the layer's binary, with its CDP pipe. */
export async function layerChromiumOf(fn: LocalFunction): Promise<number | undefined> {
  const binary = join(fn.layout.opt, 'chromium', 'chromium');
  return (await processTree(fn.child.pid!)).find((pid) => {
    try {
      return (
        readlinkSync(`/proc/${pid}/exe`) === binary &&
        readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('--remote-debugging-pipe')
      );
    } catch {
      return false; // it ended while we looked
    }
  });
}
