/**
 * s.yaml, read by what reads it for real:
 * - the real Serverless Devs CLI renders it (`s preview`) with no variable set, with a `.env`, and with a
 *   non-default region, runtime and cap; our own reader (fc/s-yaml.ts) must render exactly the same;
 * - ajv validates the rendering against the fc3 and fc3-domain components' own schemas (test/fc3-schema,
 *   copied from the components' repositories), and those schemas refuse broken copies, so they have teeth;
 * - the facts no schema can express: every layer is ours and fits the runtime, every env() has a default,
 *   the methods the service serves, the custom domain, the lifecycle hooks, health check, cap, cpu.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../fc/paths.js';
import { type Props, propsOf, renderSYaml, type SYaml } from '../fc/s-yaml.js';
import { DEPLOYABLE, LAYERS, NODE, TARGETS } from '../fc/layers/targets.js';
import { loadConfig } from '../src/config.js';
import { LIFECYCLE_PATHS } from '../src/http/lifecycle.js';
import { sPreview } from './helpers/serverless-devs.js';

const S_YAML = join(ROOT, 's.yaml');
const work = mkdtempSync(join(tmpdir(), 'fcshot-syaml-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const loadSchema = (name: string) => JSON.parse(readFileSync(join(ROOT, 'test', 'fc3-schema', name), 'utf8'));
const ajv = new Ajv({ allErrors: true, strict: false });
const fc3Schema = loadSchema('fc3.schema.json');
ajv.addSchema(fc3Schema, 'fc3');
const validateFc3 = ajv.getSchema('fc3')!;
const validateHttpTrigger = ajv.getSchema('fc3#/definitions/IHttpTriggerConfig')!;
const validateDomain = ajv.compile(loadSchema('fc3-domain.schema.json'));

const errorsOf = (validate: ValidateFunction, value: unknown) =>
  validate(value)
    ? []
    : validate.errors!.map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`);

const ARNS = {
  CHROMIUM_LAYER_ARN: 'acs:fc:cn-beijing:1234567890:layers/fcshot-chromium/versions/7',
  FONTS_LAYER_ARN: 'acs:fc:cn-beijing:1234567890:layers/fcshot-fonts/versions/2',
  DEPS_LAYER_ARN: 'acs:fc:cn-beijing:1234567890:layers/fcshot-deps/versions/5',
  NODE_LAYER_ARN: 'acs:fc:cn-beijing:1234567890:layers/fcshot-node/versions/1',
};

/** s.yaml in a folder of its own, with `dotEnv` as its .env file. */
function copyWith(dotEnv: string | undefined): string {
  const dir = mkdtempSync(join(work, 'copy-'));
  copyFileSync(S_YAML, join(dir, 's.yaml'));
  if (dotEnv !== undefined) writeFileSync(join(dir, '.env'), dotEnv);
  return join(dir, 's.yaml');
}

const CASES: Array<{ name: string; env: Record<string, string>; dotEnv?: string }> = [
  { name: 'nothing set (a fresh clone: s info, s logs, s remove must still read it)', env: {} },
  {
    name: 'what npm run deploy writes to .env',
    env: {},
    dotEnv: `# written by npm run deploy\nFCSHOT_REGION=cn-beijing\nFCSHOT_RUNTIME=custom.debian12\n${Object.entries(
      ARNS,
    )
      .map(([k, v]) => `${k}=${v}`)
      .join('\n')}\n`,
  },
  {
    name: 'custom.debian11 in cn-shanghai, a cap of 3, 1 warm instance, function auth, from the shell',
    env: {
      ...{ FCSHOT_REGION: 'cn-shanghai', FCSHOT_RUNTIME: 'custom.debian11', FCSHOT_MAX_INSTANCES: '3' },
      ...{ FCSHOT_MIN_INSTANCES: '1', FCSHOT_AUTH_TYPE: 'function' },
      ...ARNS,
    },
  },
  {
    name: 'your own domain over HTTPS, as npm run deploy -- --domain writes it to .env',
    env: {},
    dotEnv:
      'FCSHOT_DOMAIN=shots.example.com\nFCSHOT_DOMAIN_PROTOCOL=HTTPS\n' +
      'FCSHOT_DOMAIN_CERT={"certName":"fcshot-shots-example-com","certificate":"/etc/ssl/shots.pem","privateKey":"/etc/ssl/shots.key"}\n',
  },
];

/**
 * fc3-domain's props as fc3-domain reads them: `certConfig: false` (what s.yaml renders when no
 * certificate is set; an env() cannot leave a key out) is no certConfig at all there (fc3-domain
 * src/impl/domain.ts, createCustomDomain/updateCustomDomain: `if (_.get(props, 'certConfig'))`).
 */
const domainProps = (doc: SYaml) => {
  const props = { ...propsOf(doc, 'fc3-domain') };
  if (props.certConfig === false) delete props.certConfig;
  return props;
};

const rendered = new Map<string, SYaml>();

describe('the real Serverless Devs CLI renders s.yaml, and so do we', () => {
  it.each(CASES)('$name', ({ name, env, dotEnv }) => {
    const file = copyWith(dotEnv);
    const real = sPreview(file, env);
    expect(real.status, real.output).toBe(0);
    expect(renderSYaml(file, env)).toEqual(real.doc);
    rendered.set(name, real.doc!);
  });

  it('an env() without a default stops every s command (the bug this guards against)', () => {
    const file = copyWith(undefined);
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace("env('FCSHOT_REGION', 'cn-hangzhou')", "env('FCSHOT_REGION')"),
    );
    const real = sPreview(file, {});
    expect(real.status).not.toBe(0);
    expect(real.output).toMatch(/env\('FCSHOT_REGION'\) not found/);
    expect(() => renderSYaml(file, {})).toThrow(/env\('FCSHOT_REGION'\) not found/);
  });

  it('a cap that is not a number is refused when s.yaml is read', () => {
    const real = sPreview(copyWith(undefined), { FCSHOT_MAX_INSTANCES: 'lots' });
    expect(real.status).not.toBe(0);
    expect(real.output).toMatch(/json\('lots'\) parse error/);
  });

  it('every env() in s.yaml (comments aside) has a default', () => {
    const live = readFileSync(S_YAML, 'utf8')
      .split('\n')
      .filter((l) => !l.trimStart().startsWith('#'));
    const calls = live.join('\n').match(/env\([^)]*\)/g) ?? [];
    expect(calls.length).toBeGreaterThanOrEqual(8);
    for (const call of calls) expect(call, call).toMatch(/^env\('[A-Z_]+',\s*'[^']*'\)$/);
  });
});

describe('against the components’ own schemas', () => {
  it.each(CASES)('fc3 and fc3-domain accept s.yaml with $name', ({ name }) => {
    const doc = rendered.get(name) ?? renderSYaml(copyWith(undefined), {});
    const fn = propsOf(doc, 'fc3');
    expect(errorsOf(validateFc3, fn)).toEqual([]);
    for (const trigger of fn.triggers) expect(errorsOf(validateHttpTrigger, trigger.triggerConfig)).toEqual([]);
    expect(errorsOf(validateDomain, domainProps(doc))).toEqual([]);
  });

  it('sets no fc3 property the schema does not know (a misspelt key would be ignored by fc3)', () => {
    const fn = propsOf(renderSYaml(S_YAML, {}), 'fc3');
    const known = Object.keys(fc3Schema.properties);
    for (const key of Object.keys(fn)) expect(known, key).toContain(key);
  });

  // Each broken copy must be refused, else the checks above prove nothing.
  const broken: Array<[string, (p: Props) => void]> = [
    ['an unknown runtime', (p) => (p.runtime = 'custom.debian13')],
    ['memory not a multiple of 64', (p) => (p.memorySize = 1000)],
    ['a timeout of 0', (p) => (p.timeout = 0)],
    ['cpu 0', (p) => (p.cpu = 0)],
    ['a disk size FC does not offer', (p) => (p.diskSize = 1024)],
    ['instance concurrency 0', (p) => (p.instanceConcurrency = 0)],
    ['a region FC does not have', (p) => (p.region = 'mars-1')],
    ['logConfig "yes"', (p) => (p.logConfig = 'yes')],
    ['a cap that is a string', (p) => (p.concurrencyConfig.reservedConcurrency = '10')],
    ['a lifecycle hook timeout of 0', (p) => (p.instanceLifecycleConfig.preStop.timeout = 0)],
    ['a warm-instance count that is a string', (p) => (p.provisionConfig.defaultTarget = '1')],
    ['a provisionConfig without alwaysAllocateCPU', (p) => delete p.provisionConfig.alwaysAllocateCPU],
    ['an environment value that is a number', (p) => (p.environmentVariables.MAX_QUEUE = 16)],
    ['no code', (p) => delete p.code],
    ['no functionName', (p) => delete p.functionName],
  ];
  it.each(broken)('fc3’s schema refuses %s', (_what, breakIt) => {
    const fn = structuredClone(propsOf(renderSYaml(S_YAML, {}), 'fc3'));
    breakIt(fn);
    expect(validateFc3(fn)).toBe(false);
  });

  it('the HTTP trigger schema refuses a method FC does not have and a missing authType', () => {
    const config = propsOf(renderSYaml(S_YAML, {}), 'fc3').triggers[0].triggerConfig;
    expect(validateHttpTrigger({ ...config, methods: ['GET', 'FETCH'] })).toBe(false);
    expect(validateHttpTrigger({ methods: ['GET'] })).toBe(false);
  });

  it('fc3-domain’s schema refuses a protocol it does not have and a route without a path', () => {
    const domain = propsOf(renderSYaml(S_YAML, {}), 'fc3-domain');
    expect(validateDomain({ ...domain, protocol: 'SPDY' })).toBe(false);
    expect(validateDomain({ ...domain, routeConfig: { routes: [{ functionName: 'x' }] } })).toBe(false);
    const cert = { certName: 'c', certificate: '/c.pem', privateKey: '/k.pem' };
    expect(validateDomain({ ...domain, protocol: 'HTTPS', certConfig: cert })).toBe(true);
    expect(validateDomain({ ...domain, protocol: 'HTTPS', certConfig: { ...cert, privateKey: undefined } })).toBe(
      false,
    );
    // what the default renders is refused by the schema as it stands: the test drops it as fc3-domain does
    expect(validateDomain(domain)).toBe(false);
  });
});

describe('what the schemas cannot say', () => {
  const doc = renderSYaml(S_YAML, {});
  const fn = propsOf(doc, 'fc3');

  it('every layer is one of ours, in the published order, at most 5; none is an official layer', () => {
    const src = readFileSync(S_YAML, 'utf8');
    expect(src).not.toMatch(/:official:layers\//);
    expect(fn.layers).toHaveLength(LAYERS.length);
    expect(LAYERS.length).toBeLessThanOrEqual(5);
    const withArns = propsOf(renderSYaml(S_YAML, ARNS), 'fc3');
    expect(withArns.layers).toEqual(LAYERS.map((l) => ARNS[l.arnVar]));
  });

  it('runs on a runtime our layers are built for, and that runtime follows FCSHOT_RUNTIME', () => {
    expect(fn.runtime).toBe('custom.debian12');
    for (const runtime of DEPLOYABLE) {
      expect(TARGETS[runtime]!.custom).toBe(true);
      expect(propsOf(renderSYaml(S_YAML, { FCSHOT_RUNTIME: runtime }), 'fc3').runtime).toBe(runtime);
      expect(fc3Schema.definitions.IRuntime.enum).toContain(runtime);
    }
    // node comes from our node layer, not from a runtime image or an official layer
    expect(fn.customRuntimeConfig.command).toEqual([NODE.bin, '--max-semi-space-size=4', 'server.cjs']);
  });

  it('the trigger and the custom domain allow GET, HEAD and POST (POST / takes html and JSON options)', () => {
    expect(fn.triggers).toHaveLength(1);
    expect(fn.triggers[0].triggerType).toBe('http');
    expect(fn.triggers[0].triggerConfig.methods).toEqual(expect.arrayContaining(['GET', 'HEAD', 'POST']));
    const route = propsOf(doc, 'fc3-domain').routeConfig.routes[0];
    expect(route.methods).toEqual(expect.arrayContaining(['GET', 'HEAD', 'POST']));
  });

  it('a custom domain (domainName auto) routes every path to this function, so browsers show images', () => {
    const domain = propsOf(doc, 'fc3-domain');
    expect(domain.domainName).toBe('auto');
    // FC's test domain has no HTTPS: no certificate unless your own domain is set
    expect(domain.protocol).toBe('HTTP');
    expect(domain.certConfig).toBe(false);
    const own = propsOf(rendered.get(CASES[3]!.name) ?? renderSYaml(copyWith(CASES[3]!.dotEnv), {}), 'fc3-domain');
    expect(own).toMatchObject({ domainName: 'shots.example.com', protocol: 'HTTPS' });
    expect(own.certConfig).toEqual({
      certName: 'fcshot-shots-example-com',
      certificate: '/etc/ssl/shots.pem',
      privateKey: '/etc/ssl/shots.key',
    });
    expect(domain.region).toBe(fn.region);
    expect(domain.routeConfig.routes).toEqual([expect.objectContaining({ path: '/*', functionName: fn.functionName })]);
    const renamed = renderSYaml(S_YAML, { FCSHOT_FUNCTION_NAME: 'shots' });
    expect(propsOf(renamed, 'fc3-domain').routeConfig.routes[0].functionName).toBe('shots');
  });

  it('lifecycle hooks and the health check point at what the server answers, with room to drain', () => {
    const { initializer, preStop } = fn.instanceLifecycleConfig;
    // A custom runtime's hooks are called at FC's fixed paths, POST /initialize and GET /pre-stop, whatever
    // the handler is named; s.yaml names each handler after its path, and the server answers those paths.
    expect({ initialize: `/${initializer.handler}`, preStop: `/${preStop.handler}` }).toEqual(LIFECYCLE_PATHS);
    expect(LIFECYCLE_PATHS).toEqual({ initialize: '/initialize', preStop: '/pre-stop' });
    const requestTimeoutMs = loadConfig(fn.environmentVariables).requestTimeoutMs;
    expect(preStop.timeout * 1000).toBeGreaterThan(requestTimeoutMs);
    expect(fn.customRuntimeConfig.healthCheckConfig.httpGetUrl).toBe('/readyz');
    expect(fn.customRuntimeConfig.port).toBe(loadConfig({}).port);
    expect(fn.timeout * 1000).toBeGreaterThan(requestTimeoutMs);
  });

  it('logs go to a log store FC creates', () => {
    expect(fn.logConfig).toBe('auto');
  });

  it('a cap on instances: 10 unless FCSHOT_MAX_INSTANCES says otherwise, always a number', () => {
    expect(fn.concurrencyConfig.reservedConcurrency).toBe(10);
    const capped = propsOf(renderSYaml(S_YAML, { FCSHOT_MAX_INSTANCES: '3' }), 'fc3');
    expect(capped.concurrencyConfig.reservedConcurrency).toBe(3);
    expect(fn.triggers[0].triggerConfig.authType).toBe('anonymous');
    const locked = renderSYaml(S_YAML, { FCSHOT_AUTH_TYPE: 'function' });
    expect(propsOf(locked, 'fc3').triggers[0].triggerConfig.authType).toBe('function');
    // the custom domain is a second way in: it must not stay open when the trigger is locked
    expect(propsOf(doc, 'fc3-domain').authConfig.authType).toBe('anonymous');
    expect(propsOf(locked, 'fc3-domain').authConfig.authType).toBe('function');
  });

  it('no warm instances unless FCSHOT_MIN_INSTANCES asks (0 is valid for fc3 and releases them)', () => {
    expect(fn.provisionConfig).toEqual({
      defaultTarget: 0,
      alwaysAllocateCPU: false,
      alwaysAllocateGPU: false,
      scheduledActions: [],
      targetTrackingPolicies: [],
    });
    expect(propsOf(renderSYaml(S_YAML, { FCSHOT_MIN_INSTANCES: '2' }), 'fc3').provisionConfig.defaultTarget).toBe(2);
  });

  it('1 vCPU at 1 GB, within FC’s memory-per-vCPU bounds (1 to 4 GB per vCPU)', () => {
    expect(fn.cpu).toBe(1);
    expect(fn.memorySize).toBe(1024);
    const gbPerCpu = fn.memorySize / 1024 / fn.cpu;
    expect(gbPerCpu).toBeGreaterThanOrEqual(1);
    expect(gbPerCpu).toBeLessThanOrEqual(4);
    expect(Math.round(fn.cpu * 100) % 5).toBe(0);
  });
});
