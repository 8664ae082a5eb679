/**
 * What fc3's `layer publish` returned for each layer, read from the file `s --output-file` wrote, and
 * which layers are published for every runtime.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUILD } from '../paths.js';

/**
 * Layers whose zip does not depend on the target (build.ts writes one deps and one node zip for every
 * target): published as compatible with every runtime we deploy to, because fc3 hands back the latest
 * version when the checksum matches, whatever runtimes it was declared for. The Chromium layer (NSS
 * from the target's Debian release) and the fonts (from the same release) are built per target.
 */
export const RUNTIME_INDEPENDENT: ReadonlySet<string> = new Set(['deps', 'node']);

/** Where `s … --output-file` leaves what fc3 returned: one JSON file per layer, one for `s deploy`. */
export const PUBLISHED = join(BUILD, 'published');

/** What fc3's `layer publish` returned (an FC layer version), as `s --output-file` wrote it. */
export interface PublishedLayer {
  layerName: string;
  version: number;
  layerVersionArn: string;
  compatibleRuntime: string[];
  codeChecksum?: string;
}

/**
 * Reads and checks what `s cli fc3 layer publish … -o json --output-file FILE` wrote. fc3 returns the
 * new version, or the latest one unchanged when its checksum is the zip's (fc3
 * src/subCommands/layer/index.ts, safe_publish_layer); `s` writes it to FILE unmasked (on the console
 * it masks the account id in the ARN). The version must be declared for `runtime`: fc3 reuses a version
 * whatever runtimes it was published for, and FC refuses a layer not declared for the function's.
 */
export function readPublished(
  file: string,
  name: string,
  region: string,
  runtime: string,
  fix: string,
): PublishedLayer {
  if (!existsSync(file)) {
    throw new Error(
      `s wrote no result to ${file} (it must support --output-file: npm ci installs one that does, ` +
        'node_modules/.bin/s)',
    );
  }
  const got = JSON.parse(readFileSync(file, 'utf8')) as PublishedLayer;
  const arn = new RegExp(`^acs:fc:${region}:\\d+:layers/${name}/versions/${got.version}$`);
  if (got.layerName !== name || !Number.isInteger(got.version) || !arn.test(got.layerVersionArn ?? '')) {
    throw new Error(`${file}: not a version of layer ${name} in ${region}: ${JSON.stringify(got).slice(0, 300)}`);
  }
  if (!got.compatibleRuntime?.includes(runtime)) {
    throw new Error(
      `${name} version ${got.version} is declared for ${got.compatibleRuntime?.join(', ')} only, not ${runtime}, ` +
        'and fc3 hands it back because the zip is unchanged (it publishes a new version only for a new ' +
        `checksum). Delete that version, then deploy again: ${fix} --version-id ${got.version}`,
    );
  }
  return got;
}
