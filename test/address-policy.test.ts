/**
 * The address rule on a table of addresses: what a rendered page may reach (global unicast) and
 * what it may not, in every spelling that reaches the same place.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkAddress } from '../src/policy/address.js';
import {
  allowListFrom,
  cachingResolver,
  checkDestination,
  normaliseHost,
  portListFrom,
} from '../src/policy/destination.js';
import { parseTargetUrl } from '../src/policy/target-url.js';

const blockedAddresses = [
  // IPv4 loopback, private, link-local, CGNAT (Alibaba Cloud metadata), special
  '127.0.0.1',
  '127.255.255.254',
  '127.1.2.3',
  '10.0.0.1',
  '10.255.255.255',
  '172.16.0.1',
  '172.31.255.255',
  '192.168.0.1',
  '192.168.255.255',
  '169.254.169.254',
  '169.254.0.1',
  '100.100.100.200',
  '100.64.0.1',
  '100.127.255.255',
  '0.0.0.0',
  '0.1.2.3',
  '255.255.255.255',
  '224.0.0.1',
  '239.255.255.250',
  '240.0.0.1',
  '192.0.2.1',
  '198.51.100.7',
  '203.0.113.9',
  '198.18.0.1',
  '198.19.255.255',
  '192.0.0.8',
  '192.88.99.1',
  // IPv6 loopback, unspecified, link-local, ULA, multicast, documentation, discard
  '::1',
  '::',
  'fe80::1',
  'fe80::1:2:3:4',
  'fc00::1',
  'fd12:3456:789a::1',
  'ff02::1',
  'ff05::2',
  '2001:db8::1',
  '2001:db8:ffff::1',
  '3fff::1',
  '100::1',
  '2001:2::1',
  // IPv6 forms carrying an internal IPv4 address
  '::ffff:127.0.0.1',
  '::ffff:7f00:1',
  '::ffff:10.0.0.1',
  '::ffff:169.254.169.254',
  '::ffff:100.100.100.200',
  '0:0:0:0:0:ffff:7f00:0001',
  '::127.0.0.1',
  '::10.0.0.1',
  '64:ff9b::7f00:1',
  '64:ff9b::a9fe:a9fe',
  '64:ff9b:1::1',
  '2002:7f00:1::1',
  '2002:0a00:0001::',
  '2001:0:4136:e378:8000:63bf:3fff:fdd2',
  'fe80::1%eth0',
  '[::1]',
  // not addresses at all
  'localhost',
  '',
  'not-an-ip',
];

const allowedAddresses = [
  '8.8.8.8',
  '1.1.1.1',
  '47.246.1.1',
  '106.11.0.1',
  '93.184.216.34',
  '100.63.255.255',
  '100.128.0.1',
  '172.15.255.255',
  '172.32.0.1',
  '192.167.1.1',
  '169.253.1.1',
  '11.0.0.1',
  '2606:4700:4700::1111',
  '2400:3200::1',
  '2a00:1450:4001::200e',
  '::ffff:8.8.8.8',
  '64:ff9b::808:808',
];

describe('checkAddress', () => {
  it('gives every IPv6 wrapping of a random IPv4 address the verdict of the address itself', () => {
    // Metamorphic, over addresses no table lists: the same destination in another spelling is the
    // same verdict (mapped, NAT64 and 6to4 forms reach, or embed, the IPv4 address).
    const hex = (a: number, b: number) => ((a << 8) | b).toString(16);
    fc.assert(
      fc.property(fc.ipV4(), (v4) => {
        const [a, b, c, d] = v4.split('.').map(Number) as [number, number, number, number];
        const inner = checkAddress(v4).allowed;
        expect(checkAddress(`::ffff:${v4}`).allowed, `::ffff:${v4}`).toBe(inner);
        expect(checkAddress(`::ffff:${hex(a, b)}:${hex(c, d)}`).allowed).toBe(inner);
        expect(checkAddress(`64:ff9b::${hex(a, b)}:${hex(c, d)}`).allowed, `nat64 ${v4}`).toBe(inner);
        if (!inner) expect(checkAddress(`2002:${hex(a, b)}:${hex(c, d)}::1`).allowed, `6to4 ${v4}`).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });
  it.each(blockedAddresses)('blocks %s', (address) => {
    expect(checkAddress(address).allowed).toBe(false);
  });
  it.each(allowedAddresses)('allows %s', (address) => {
    expect(checkAddress(address)).toEqual({ allowed: true });
  });
  it('names the range it refused', () => {
    expect(checkAddress('100.100.100.200')).toEqual({ allowed: false, reason: 'ipv4-carrierGradeNat' });
    expect(checkAddress('::ffff:127.0.0.1')).toMatchObject({ reason: expect.stringContaining('loopback') });
  });
});

describe('URL normalisation feeds the rule the address Chromium would use', () => {
  it.each([
    ['http://2130706433/', '127.0.0.1'],
    ['http://0x7f000001/', '127.0.0.1'],
    ['http://0177.0.0.1/', '127.0.0.1'],
    ['http://127.1/', '127.0.0.1'],
    ['http://0x7f.1/', '127.0.0.1'],
    ['HTTP://LOCALHOST./', 'localhost.'],
    ['http://[::ffff:127.0.0.1]/', '[::ffff:7f00:1]'],
    ['http://[0:0:0:0:0:0:0:1]/', '[::1]'],
    ['http://1684301000/', '100.100.100.200'],
    ['http://0x64646464/', '100.100.100.100'],
    ['http://xn--fsq.com/', 'xn--fsq.com'],
    ['http://例.com/', 'xn--fsq.com'],
    ['example.com', 'example.com'],
  ])('%s → host %s', (input, host) => {
    expect(parseTargetUrl(input).hostname).toBe(host);
  });

  it('refuses every internal spelling of the same host', async () => {
    const policy = { allow: new Set<string>(), resolve: async () => ['93.184.216.34'] };
    for (const input of [
      'http://2130706433/',
      'http://0x7f.1/',
      'http://[::ffff:127.0.0.1]/',
      'HTTP://LocalHost./',
      'http://100.100.100.200/',
      'http://[::1]:8080/',
    ]) {
      const url = parseTargetUrl(input);
      const verdict = await checkDestination(url.hostname, 80, policy);
      expect(verdict.allowed, input).toBe(false);
    }
  });

  it('refuses a name whose DNS answer includes any internal address', async () => {
    const policy = { allow: new Set<string>(), resolve: async () => ['93.184.216.34', '10.0.0.5'] };
    expect(await checkDestination('mixed.example', 443, policy)).toMatchObject({ allowed: false, status: 403 });
  });

  it('lets exactly the allow-listed address:port through, whatever name leads there', async () => {
    const policy = {
      allow: allowListFrom(['127.0.0.1:4000', '[::1]:5000', '10.1.2.3:80']),
      resolve: async () => ['10.1.2.3'],
    };
    expect(await checkDestination('127.0.0.1', 4000, policy)).toMatchObject({
      allowed: true,
      addresses: ['127.0.0.1'],
    });
    expect(await checkDestination('127.0.0.1', 4001, policy)).toMatchObject({ allowed: false });
    expect(await checkDestination('[::1]', 5000, policy)).toMatchObject({ allowed: true });
    expect(await checkDestination('[0:0:0:0:0:0:0:1]', 5000, policy)).toMatchObject({ allowed: true });
    expect(await checkDestination('internal.example', 80, policy)).toMatchObject({
      allowed: true,
      addresses: ['10.1.2.3'],
    });
    expect(await checkDestination('internal.example', 81, policy)).toMatchObject({ allowed: false });
  });

  it('refuses names in EGRESS_ALLOW: their DNS could point anywhere', () => {
    expect(() => allowListFrom(['internal.example:80'])).toThrow(/IP addresses, not names/);
    expect(() => allowListFrom(['localhost:80'])).toThrow(/IP addresses, not names/);
  });

  it('reaches global addresses on EGRESS_PORTS only, or any port with *', async () => {
    const resolve = async () => ['93.184.216.34'];
    const web = { allow: new Set<string>(), ports: portListFrom('80,443'), resolve };
    expect(await checkDestination('example.com', 443, web)).toMatchObject({ allowed: true });
    expect(await checkDestination('example.com', 6379, web)).toMatchObject({
      allowed: false,
      status: 403,
      reason: 'port-6379-not-allowed',
    });
    const any = { allow: new Set<string>(), ports: portListFrom('*'), resolve };
    expect(await checkDestination('example.com', 6379, any)).toMatchObject({ allowed: true });
    expect(() => portListFrom('80,http')).toThrow(/not a port/);
  });

  it('a caching resolver asks once per name and forgets failures', async () => {
    const asked: string[] = [];
    const resolve = cachingResolver(async (host) => {
      asked.push(host);
      if (host === 'fails.example') throw Object.assign(new Error('no'), { code: 'ENOTFOUND' });
      return ['93.184.216.34'];
    });
    await Promise.all([resolve('a.example'), resolve('a.example'), resolve('b.example')]);
    await resolve('a.example');
    await expect(resolve('fails.example')).rejects.toThrow();
    await expect(resolve('fails.example')).rejects.toThrow();
    expect(asked).toEqual(['a.example', 'b.example', 'fails.example', 'fails.example']);
  });

  it('normalises hosts one way', () => {
    expect(normaliseHost('[::1]')).toBe('::1');
    expect(normaliseHost('Example.COM..')).toBe('example.com');
  });
});

describe('the address the rule checked is the address connected to', () => {
  it('an allowed IP literal is handed on in a spelling the socket layer reads as that address, never as a name', async () => {
    const { isIP } = await import('node:net');
    const policy = { allow: new Set<string>(), resolve: async () => ['93.184.216.34'] };
    const spellings = fc.oneof(
      fc.ipV4().map((a) => `::ffff:${a}`),
      fc.ipV4Extended(),
      fc.ipV6(),
      fc.ipV4Extended().map((a) => `::ffff:${a}`),
      fc.constantFrom('::ffff:0177.0.0.1', '::ffff:0x5d.184.216.34', '0x5d.0xb8.0xd8.0x22', '93.12113954'),
    );
    await fc.assert(
      fc.asyncProperty(spellings, async (host) => {
        const verdict = await checkDestination(host, 443, policy);
        if (!verdict.allowed) return;
        for (const address of verdict.addresses) expect(isIP(address), `${host} → ${address}`).not.toBe(0);
      }),
      { numRuns: 500 },
    );
  });
});
