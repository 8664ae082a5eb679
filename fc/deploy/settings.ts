/**
 * The deploy's settings in `.env` beside s.yaml: written there (the values they replace kept as
 * comments, for a rollback), moved from their former FC_* names, and the custom domain's.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseDotEnv } from '../s-yaml.js';

/**
 * The deploy-time settings' former names, each also read by fc3 or FC itself: fc3 takes FC_REGION
 * for "running inside FC in this region" and uploads code through OSS's in-region internal endpoint
 * (fc3 src/resources/fc/index.ts, uploadCodeToTmpOss), which times out anywhere else; FC sets
 * FC_FUNCTION_NAME and FC_REGION in every instance and reserves the FC_ prefix.
 */
export const RENAMED: Readonly<Record<string, string>> = {
  FC_REGION: 'FCSHOT_REGION',
  FC_RUNTIME: 'FCSHOT_RUNTIME',
  FC_FUNCTION_NAME: 'FCSHOT_FUNCTION_NAME',
  FC_MAX_INSTANCES: 'FCSHOT_MAX_INSTANCES',
  FC_AUTH_TYPE: 'FCSHOT_AUTH_TYPE',
};

/** `.env` with `values` set: other lines kept, a replaced value kept as a `# previous` comment. */
export function updateEnvFile(file: string, values: Record<string, string>, when = new Date()): void {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const lines = text ? text.replace(/\n$/, '').split('\n') : [];
  const kept: string[] = [];
  const previous: string[] = [];
  for (const line of lines) {
    const key = /^\s*([\w.-]+)\s*=/.exec(line)?.[1];
    if (key && key in values) {
      if (line.trim() !== `${key}=${values[key]}`) {
        previous.push(`# previous (until ${when.toISOString()}): ${line.trim()}`);
      }
    } else kept.push(line);
  }
  const ours = Object.entries(values).map(([k, v]) => `${k}=${v}`);
  const stamp = `# written by npm run deploy, ${when.toISOString()}`;
  writeFileSync(file, `${[...kept, ...previous, stamp, ...ours].join('\n')}\n`);
}

/**
 * The settings' former names (RENAMED): in the shell they are refused (this script cannot unset them
 * for `s`); in `.env` each is moved to its new name, the old line removed (a value the new name
 * already has wins), and a comment says what moved. With `write` false (dry run) nothing is written.
 * Returns `.env`'s values as they are (or would be) afterwards.
 */
export function migrateSettings(
  envFile: string,
  shell: NodeJS.ProcessEnv,
  write: boolean,
  log: (line: string) => void,
  when = new Date(),
): Record<string, string> {
  const inShell = Object.keys(RENAMED).filter((old) => shell[old] !== undefined);
  if (inShell.length) {
    throw new Error(
      `${inShell.join(', ')} ${inShell.length > 1 ? 'are' : 'is'} set in this shell. fc3 (run by s) and FC read ` +
        'FC_* names themselves (FC_REGION makes fc3 upload through an endpoint that only works inside FC), so ' +
        `our settings are now named FCSHOT_*: ${inShell.map((o) => `unset ${o}`).join('; ')}` +
        `${inShell.map((o) => `; export ${RENAMED[o]}=…`).join('')} if you still want the value.`,
    );
  }
  const text = existsSync(envFile) ? readFileSync(envFile, 'utf8') : '';
  const values = parseDotEnv(text);
  const moved = Object.keys(RENAMED).filter((old) => old in values);
  if (!moved.length) return values;
  const lines: string[] = [];
  for (const line of text.replace(/\n$/, '').split('\n')) {
    const key = /^\s*(?:export\s+)?([\w.-]+)\s*=/.exec(line)?.[1];
    if (key && key in RENAMED && !line.trimStart().startsWith('#')) {
      const now = RENAMED[key]!;
      if (now in values) continue;
      lines.push(`${now}=${values[key]}`);
      values[now] = values[key]!;
    } else lines.push(line);
  }
  for (const old of moved) delete values[old];
  const what = moved.map((o) => `${o} -> ${RENAMED[o]}`).join(', ');
  lines.push(`# renamed by npm run deploy, ${when.toISOString()}: ${what} (fc3 and FC read FC_* themselves)`);
  if (write) {
    writeFileSync(envFile, `${lines.join('\n')}\n`);
    log(`${envFile}: renamed ${what}`);
  } else log(`${envFile}: would rename ${what} (dry run: not written)`);
  return values;
}

/**
 * The domain settings `--domain` asks for (written to .env), or undefined to keep what .env says.
 * Your own domain is served over HTTPS only, with a certificate: an AUTH_TOKEN or signed URL over
 * plain HTTP can be read by anyone on the path.
 */
export function domainSettings(opts: { domain?: string; cert?: string; key?: string; certName?: string }) {
  if (opts.domain === undefined) {
    if (opts.cert || opts.key) throw new Error('--cert and --key go with --domain');
    return undefined;
  }
  if (opts.domain === 'auto') {
    return { FCSHOT_DOMAIN: 'auto', FCSHOT_DOMAIN_PROTOCOL: 'HTTP', FCSHOT_DOMAIN_CERT: 'false' };
  }
  if (!/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i.test(opts.domain)) {
    throw new Error(`--domain ${opts.domain}: not a domain name`);
  }
  if (!opts.cert || !opts.key) {
    throw new Error(
      `--domain ${opts.domain} needs --cert FULLCHAIN.pem and --key PRIVKEY.pem: your own domain is served over ` +
        'HTTPS only (a token over plain HTTP is readable on the wire)',
    );
  }
  const pem = (file: string, what: RegExp) => {
    const path = resolve(file);
    if (!existsSync(path) || !what.test(readFileSync(path, 'utf8')))
      throw new Error(`${file}: not a PEM ${what.source}`);
    return path;
  };
  const certName = opts.certName ?? `fcshot-${opts.domain.toLowerCase().replace(/\./g, '-')}`.slice(0, 64);
  const cert = { certName, certificate: pem(opts.cert, /CERTIFICATE/), privateKey: pem(opts.key, /PRIVATE KEY/) };
  return { FCSHOT_DOMAIN: opts.domain, FCSHOT_DOMAIN_PROTOCOL: 'HTTPS', FCSHOT_DOMAIN_CERT: JSON.stringify(cert) };
}
