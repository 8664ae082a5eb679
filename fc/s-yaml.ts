/**
 * Reads s.yaml the way Serverless Devs 3 renders it, for the tools that need its values without
 * running `s` (the harness, the bare-Debian proof, the benchmark; the deploy script reads what
 * `s preview` renders with `propsOf`): `${env('NAME')}`, `${env('NAME', default)}`, `${json(…)}`,
 * `${vars.x}` and `${resources.r.props.x}`, with the variables of a `.env` file beside s.yaml (the
 * shell's own environment wins, as with Serverless Devs). Only the forms s.yaml uses are understood;
 * anything else is refused rather than guessed. test/s-yaml.test.ts checks that this renders exactly
 * what the real CLI's `s preview` does. `loadFunctionSpec` gives the function's props from it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { ROOT } from './paths.js';

export type Env = Record<string, string | undefined>;

export interface SYaml {
  edition: string;
  name: string;
  access: string;
  vars?: Record<string, unknown>;
  resources: Record<string, { component: string; props: Record<string, unknown> }>;
}

/** KEY=VALUE lines of a .env file (quotes optional, `#` comments); what `npm run deploy` writes. */
export function parseDotEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*(?:export\s+)?([\w.-]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (!m || line.trimStart().startsWith('#')) continue;
    const raw = m[2]!;
    const quoted = /^(['"])(.*)\1$/.exec(raw);
    out[m[1]!] = quoted ? quoted[2]! : raw.replace(/\s+#.*$/, '');
  }
  return out;
}

/** The environment `s` renders with: the shell's, plus what `.env` beside s.yaml adds. */
export function renderEnv(file: string, env: Env = process.env): Env {
  const dotEnv = join(dirname(file), '.env');
  const fromFile = existsSync(dotEnv) ? parseDotEnv(readFileSync(dotEnv, 'utf8')) : {};
  return { ...fromFile, ...Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)) };
}

const WHOLE = /^\$\{([^{}]+)\}$/;
const PART = /\$\{([^{}]+)\}/g;

class Renderer {
  private readonly done = new Map<string, unknown>();
  private readonly busy = new Set<string>();

  constructor(
    private readonly doc: Record<string, unknown>,
    private readonly env: Env,
  ) {}

  /** A literal argument: 'text', "text" or a number. */
  private literal(arg: string): unknown {
    const s = /^'([^']*)'$|^"([^"]*)"$/.exec(arg);
    if (s) return s[1] ?? s[2];
    if (/^-?\d+(\.\d+)?$/.test(arg)) return Number(arg);
    throw new Error(`s.yaml: cannot read argument ${arg}`);
  }

  private expr(src: string): unknown {
    const e = src.trim();
    const env = /^env\(\s*('[^']*'|"[^"]*")\s*(?:,\s*(.+?)\s*)?\)$/.exec(e);
    if (env) {
      const name = this.literal(env[1]!) as string;
      const value = this.env[name];
      if (value !== undefined) return value;
      if (env[2] === undefined) throw new Error(`env('${name}') not found`);
      return this.literal(env[2]);
    }
    const json = /^json\((.+)\)$/.exec(e);
    if (json) {
      const text = String(this.expr(json[1]!));
      try {
        return JSON.parse(text);
      } catch {
        throw new Error(`json('${text}') parse error`);
      }
    }
    if (/^(vars|resources)(\.[\w-]+)+$/.test(e)) return this.path(e);
    if (/^'[^']*'$|^"[^"]*"$|^-?\d+(\.\d+)?$/.test(e)) return this.literal(e);
    throw new Error(`s.yaml: cannot render \${${e}}`);
  }

  /** The rendered value at a dotted path of the document. */
  path(dotted: string): unknown {
    if (this.done.has(dotted)) return this.done.get(dotted);
    if (this.busy.has(dotted)) throw new Error(`s.yaml: \${${dotted}} refers to itself`);
    this.busy.add(dotted);
    let node: unknown = this.doc;
    for (const key of dotted.split('.')) {
      if (node === null || typeof node !== 'object' || !(key in node)) {
        throw new Error(`s.yaml: \${${dotted}} is not defined`);
      }
      node = (node as Record<string, unknown>)[key];
    }
    const value = this.value(node);
    this.busy.delete(dotted);
    this.done.set(dotted, value);
    return value;
  }

  value(node: unknown): unknown {
    if (typeof node === 'string') {
      const whole = WHOLE.exec(node);
      if (whole) return this.expr(whole[1]!);
      return node.replace(PART, (_m, e: string) => String(this.expr(e)));
    }
    if (Array.isArray(node)) return node.map((n) => this.value(n));
    if (node && typeof node === 'object') {
      return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, this.value(v)]));
    }
    return node;
  }
}

/** s.yaml with every variable rendered, as `s preview -o json` prints it. */
export function renderSYaml(file: string, env: Env = process.env): SYaml {
  const doc = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  return new Renderer(doc, renderEnv(file, env)).value(doc) as SYaml;
}

/** A component's props: free-form YAML, read by path. */
// biome-ignore lint/suspicious/noExplicitAny: props are whatever the component's schema allows; callers read them by path
export type Props = Record<string, any>;

/** The props of the (one) resource of `component` in a rendered s.yaml. */
export function propsOf(doc: SYaml, component: string): Props {
  const found = Object.values(doc.resources).filter((r) => r.component === component);
  if (found.length !== 1) throw new Error(`s.yaml has ${found.length} ${component} resources; expected one`);
  return found[0]!.props as Props;
}

export interface FunctionSpec {
  runtime: string;
  memorySize: number;
  /** vCPUs (FC allows at most 1 at 1024 MB). */
  cpu: number;
  timeout: number;
  instanceConcurrency?: number;
  command: string[];
  port: number;
  env: Record<string, string>;
  layers: string[];
  triggers: Array<{ triggerType: string; triggerConfig: { methods: string[]; authType: string } }>;
}

/** The function's props from s.yaml, as fc3 reads them. */
export function loadFunctionSpec(file = join(ROOT, 's.yaml'), env: NodeJS.ProcessEnv = process.env): FunctionSpec {
  const p = propsOf(renderSYaml(file, env), 'fc3');
  return {
    runtime: p.runtime,
    memorySize: p.memorySize,
    cpu: p.cpu ?? 1,
    timeout: p.timeout,
    instanceConcurrency: p.instanceConcurrency,
    command: p.customRuntimeConfig?.command ?? [],
    port: p.customRuntimeConfig?.port ?? 9000,
    env: Object.fromEntries(Object.entries(p.environmentVariables ?? {}).map(([k, v]) => [k, String(v)])),
    layers: p.layers ?? [],
    triggers: p.triggers ?? [],
  };
}
