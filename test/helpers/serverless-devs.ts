/**
 * The real Serverless Devs CLI (`@serverless-devs/s`, a devDependency), run offline: `s preview`
 * loads an s.yaml, its `.env`, and renders every variable exactly as `s deploy` would, without
 * touching the network. Its state (~/.s) goes to a temporary HOME.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../../fc/paths.js';
import type { SYaml } from '../../fc/s-yaml.js';

export const REAL_S = join(ROOT, 'node_modules', '.bin', 's');

export interface Preview {
  status: number | null;
  output: string;
  doc?: SYaml;
}

/** `s preview -t FILE -o json` with exactly `env` (plus PATH), in a throwaway HOME. */
export function sPreview(file: string, env: Record<string, string> = {}): Preview {
  const home = mkdtempSync(join(tmpdir(), 'fcshot-s-home-'));
  try {
    const run = spawnSync(REAL_S, ['preview', '-t', file, '-o', 'json'], {
      cwd: tmpdir(),
      encoding: 'utf8',
      // No detached daemon of s (update check, analytics) writing into HOME after it is removed.
      env: {
        PATH: process.env.PATH!,
        HOME: home,
        serverless_devs_daemon_enable: 'false',
        core_use_daemon: 'false',
        ...env,
      },
    });
    const output = `${run.stdout}${run.stderr}`;
    // The document: from a `{` at the start of a line to the first `}` at the start of a line (its own end:
    // everything inside is indented); s's daemon, run in process, may print after it.
    const from = run.stdout.startsWith('{') ? 0 : run.stdout.indexOf('\n{') + 1;
    const to = run.stdout.indexOf('\n}', from) + 2;
    const json = run.status === 0 && from >= 0 && to > from ? run.stdout.slice(from, to) : undefined;
    return { status: run.status, output, doc: json ? (JSON.parse(json) as SYaml) : undefined };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}
