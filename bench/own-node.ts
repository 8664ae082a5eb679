/**
 * A node binary of its own for each system the benchmark runs beside the service (the floor, the
 * launch-per-request sample): a private copy of the layer's node, the same build the service runs.
 *
 * PSS divides a file's pages among the processes that map it. The service's node is the layer's
 * binary, which nothing else maps, as on an FC instance where the function is alone. On the machine's
 * own node, the others would share its pages with the benchmark's own node processes and be charged a
 * fraction of them: about 40 MB less at concurrency 4, seen on the floor.
 *
 * The copy is written as the harness unpacks the layer, in unzip's writes (fc/layers/zip.ts,
 * writeAsUnzip): how a file was written changes how much of it the same page faults map, so a copy
 * written otherwise (copyFileSync, one write) would charge the floor another node than the service.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LocalLayout } from '../fc/harness/fc-local.js';
import { writeAsUnzip } from '../fc/layers/zip.js';

const copies = new Map<string, string>();
let exitOnSignals = false;

/** The path of `name`'s own copy of the layer's node, made on first use and removed when the benchmark exits. */
export function ownNode(layout: LocalLayout, name: string): string {
  let binary = copies.get(name);
  if (!binary) {
    const dir = mkdtempSync(join(tmpdir(), `bench-node-${name}-`));
    binary = join(dir, 'node');
    writeAsUnzip(binary, readFileSync(join(layout.opt, 'node/bin/node')));
    chmodSync(binary, 0o755);
    copies.set(name, binary);
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    // Interrupted, the benchmark still exits through 'exit', so the copies (~100 MB each) go.
    if (!exitOnSignals) {
      exitOnSignals = true;
      for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
    }
  }
  return binary;
}
