/**
 * Around the whole suite: unpack the embedded Chromium once before any test file needs it, and
 * afterwards fail the run if a Chromium this run started (test/helpers/processes.ts), its profile
 * folder or a capture file outlived the tests.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadConfig } from '../../src/config.js';
import { unpackEmbedded } from '../../src/browser/locate.js';
import { PROFILE_PREFIX } from '../../src/browser/browser.js';
import { buildAll } from '../../fc/layers/build.js';
import { SuiteChromiums } from './processes.js';

/**
 * Capture files made since `since` (older ones belong to other runs), and the profile folders of the
 * Chromiums this run started.
 */
const leftovers = (since: number, profiles: Set<string>) =>
  readdirSync(tmpdir()).filter((f) =>
    f.startsWith(PROFILE_PREFIX)
      ? profiles.has(f)
      : /^fcshot-[0-9a-f-]{36}\./.test(f) && statSync(join(tmpdir(), f)).mtimeMs >= since,
  );

export async function setup() {
  const suiteStart = Date.now() - 1000;
  // Only what this run starts counts: a Chromium of `npm start` in another terminal is not ours.
  const chromiums = new SuiteChromiums();
  await unpackEmbedded(loadConfig().embeddedChromiumDir);
  // The harness tests run the real artefacts: build them (cached, seconds when nothing changed).
  const started = Date.now();
  await buildAll({ log: () => undefined });
  console.log(`artefacts built for the harness tests in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return async function teardown() {
    await new Promise((r) => setTimeout(r, 500));
    const procs = chromiums.alive();
    const files = leftovers(suiteStart, chromiums.profiles);
    if (procs.length) throw new Error(`Chromium processes outlived the suite:\n${procs.join('\n')}`);
    if (files.length) throw new Error(`capture files or Chromium profiles left in ${tmpdir()}: ${files.join(', ')}`);
  };
}
