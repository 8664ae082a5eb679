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
      env: { PATH: process.env.PATH!, HOME: home, ...env },
    });
    const output = `${run.stdout}${run.stderr}`;
    const start = run.stdout.indexOf('\n{');
    const json = run.status === 0 ? run.stdout.slice(run.stdout.startsWith('{') ? 0 : start + 1) : undefined;
    return { status: run.status, output, doc: json ? (JSON.parse(json) as SYaml) : undefined };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}
