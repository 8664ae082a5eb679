/**
 * The findings of an outside security review, each as an attack on the running service (real
 * Chromium, real sockets). Every test here failed before its fix.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { readdirSync, readFileSync } from 'node:fs';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryOf, sign } from '../src/policy/access.js';
import { matchesUrlPattern } from '../src/capture/url-pattern.js';
import { maskedUrl } from '../src/http/log-mask.js';
import { startFixtures, type FixtureServer } from './helpers/fixtures.js';
import { shutdownClean, startService, withOwnService, type TestService } from './helpers/service.js';

let fixtures: FixtureServer;
let svc: TestService;
const api = () => request(svc.app.server);

beforeAll(async () => {
  fixtures = await startFixtures();
  svc = await startService({ EGRESS_ALLOW: fixtures.allowEntry });
});
afterAll(async () => {
  await shutdownClean(svc);
  await fixtures.close();
});

/** A UDP socket on loopback that counts every datagram: what a STUN/TURN server would see. */
async function udpListener() {
  const socket = dgram.createSocket('udp4');
  const packets: Buffer[] = [];
  socket.on('message', (msg) => packets.push(msg));
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  return { port: socket.address().port, packets, close: () => new Promise<void>((r) => socket.close(() => r())) };
}

describe('WebRTC cannot go around the egress proxy', () => {
  it('sends no STUN, TURN or connectivity-check packet to an address the page names', async () => {
    const udp = await udpListener();
    const at = `127.0.0.1:${udp.port}`;
    // STUN and TURN servers from the configuration, and a remote candidate set by the page itself.
    const html = `<script>
      const servers = [{ urls: 'stun:${at}' }, { urls: 'turn:${at}?transport=udp', username: 'u', credential: 'p' }];
      const a = new RTCPeerConnection({ iceServers: servers });
      const b = new RTCPeerConnection();
      a.createDataChannel('x');
      (async () => {
        await a.setLocalDescription(await a.createOffer());
        await b.setRemoteDescription(a.localDescription);
        await b.setLocalDescription(await b.createAnswer());
        await a.setRemoteDescription(b.localDescription);
        for (const pc of [a, b]) {
          await pc.addIceCandidate({ candidate: 'candidate:1 1 udp 2122260223 127.0.0.1 ${udp.port} typ host', sdpMid: '0' });
        }
      })().catch(() => {});
    </script><p>webrtc</p>`;
    try {
      const res = await api().post('/').send({ html, width: 100, height: 100, delay: 2500 });
      expect(res.status).toBe(200);
      expect(udp.packets.length).toBe(0);
    } finally {
      await udp.close();
    }
  });
});

describe('signed URLs sign exactly what is used', () => {
  const SECRET = 'review-secret';
  const now = () => Math.floor(Date.now() / 1000);

  /** A raw request line, sent as written: no client library normalises it. */
  function rawGet(origin: string, target: string, headers: Record<string, string> = {}) {
    const { hostname, port } = new URL(origin);
    return new Promise<{ status: number; body: string; headers: string }>((resolve, reject) => {
      const socket = net.connect(Number(port), hostname, () => {
        const extra = Object.entries(headers)
          .map(([k, v]) => `${k}: ${v}\r\n`)
          .join('');
        socket.write(`GET ${target} HTTP/1.1\r\nHost: x\r\n${extra}Connection: close\r\n\r\n`);
      });
      const chunks: Buffer[] = [];
      socket.on('data', (c) => chunks.push(c));
      socket.on('error', reject);
      socket.on('end', () => {
        const text = Buffer.concat(chunks).toString('latin1');
        const [head = '', body = ''] = text.split('\r\n\r\n');
        resolve({ status: Number(head.split(' ')[1]), body, headers: head });
      });
    });
  }

  const signedString = (params: Array<[string, string]>) => {
    const query = new URLSearchParams(params);
    const signature = sign(queryOf(new URLSearchParams(params)), SECRET);
    query.append('signature', signature);
    return query.toString();
  };

  it('refuses a fragment, a second query and repeated keys smuggled around the signed query', async () => {
    await withOwnService({ EGRESS_ALLOW: fixtures.allowEntry, SIGNING_SECRET: SECRET }, async (own) => {
      const good = signedString([
        ['url', `${fixtures.origin}/red`],
        ['width', '50'],
        ['height', '50'],
        ['expires', String(now() + 600)],
      ]);
      expect((await rawGet(own.origin, `/?${good}`)).status).toBe(200);
      const other = encodeURIComponent(`${fixtures.origin}/blue`);
      for (const target of [
        `/#url=${other}&width=60&?${good}`, // the router reads the fragment as the query
        `/?${good}?url=${other}`, // text after a second '?'
        `/?${good}&width=999`, // a repeated key that was not signed
        `/?${good}&hide=h1`, // an extra option that was not signed
      ]) {
        const res = await rawGet(own.origin, target);
        expect(res.status, target).toBe(401);
        expect(JSON.parse(res.body).error).toBe('unauthorized');
      }
    });
  });

  it('signs a repetition of a key as a whole, with a bounded lifetime, and ignores Accept', async () => {
    await withOwnService(
      { EGRESS_ALLOW: fixtures.allowEntry, SIGNING_SECRET: SECRET, SIGNING_MAX_TTL: '3600' },
      async (own) => {
        const params: Array<[string, string]> = [
          ['url', `${fixtures.origin}/red`],
          ['hide', 'h1'],
          ['hide', '.a'],
          ['width', '40'],
          ['height', '40'],
          ['expires', String(now() + 600)],
        ];
        const ok = await rawGet(own.origin, `/?${signedString(params)}`, { accept: 'image/webp' });
        expect(ok.status).toBe(200);
        // A signed request without format is png whatever the Accept header asks for.
        expect(ok.headers).toMatch(/content-type: image\/png/i);
        // One value of the pair dropped: the signature no longer matches.
        const one = signedString(params);
        const dropped = one.replace('hide=.a&', '');
        expect((await rawGet(own.origin, `/?${dropped}`)).status).toBe(401);
        // An expiry further away than SIGNING_MAX_TTL is refused even with a good signature.
        const far = params.map(([k, v]): [string, string] => [k, k === 'expires' ? String(now() + 86_400) : v]);
        const tooLong = await rawGet(own.origin, `/?${signedString(far)}`);
        expect(tooLong.status).toBe(401);
        expect(JSON.parse(tooLong.body).reason).toMatch(/SIGNING_MAX_TTL/);
      },
    );
  });
});

describe('blockUrls patterns', () => {
  it('match in linear time: a pathological pattern costs milliseconds, not the process', () => {
    const pattern = `${'*a'.repeat(200)}*b`;
    const url = `https://example.com/${'a'.repeat(2000)}`;
    const started = performance.now();
    expect(matchesUrlPattern(pattern, url)).toBe(false);
    // A backtracking regex takes longer than the age of the universe here; we allow a whole second.
    expect(performance.now() - started).toBeLessThan(1000);
    expect(matchesUrlPattern('*://*.ads.test/*', 'https://x.ads.test/p.js')).toBe(true);
    expect(matchesUrlPattern('ads.test', 'https://x.ads.test/p.js')).toBe(true);
    expect(matchesUrlPattern('*.png', 'https://x.test/a.png?x=1')).toBe(true);
    expect(matchesUrlPattern('a*b*c', 'https://x.test/c-b-a')).toBe(false);
  });

  it('a pathological pattern in a request neither freezes the process nor fails the capture', async () => {
    const health = api().get('/healthz');
    const pattern = `${'*a'.repeat(24)}*b`;
    const url = `${fixtures.origin}/red?${'a'.repeat(400)}`;
    const [res, alive] = await Promise.all([
      api().get('/').query({ url, width: '50', height: '50', blockUrls: pattern }),
      health,
    ]);
    expect(res.status).toBe(200);
    expect(alive.status).toBe(200);
  });
});

describe('Chromium gets a minimal environment', () => {
  it('no secret of the service reaches any Chromium process', async () => {
    const secrets = {
      AUTH_TOKEN: 'tok-env-leak',
      SIGNING_SECRET: 'sig-env-leak',
      ALIBABA_CLOUD_ACCESS_KEY_ID: 'ak-env-leak',
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: 'sk-env-leak',
      ALIBABA_CLOUD_SECURITY_TOKEN: 'st-env-leak',
    };
    const saved = { ...process.env };
    Object.assign(process.env, secrets);
    try {
      await withOwnService({ EGRESS_ALLOW: fixtures.allowEntry, AUTH_TOKEN: secrets.AUTH_TOKEN }, async (own) => {
        const res = await request(own.app.server)
          .get('/')
          .query({ url: `${fixtures.origin}/red`, width: '50', height: '50', token: secrets.AUTH_TOKEN });
        expect(res.status).toBe(200);
        const browserPid = own.browser.pid!;
        const tree = processTree(browserPid);
        expect(tree.length).toBeGreaterThan(2); // browser, zygotes, renderer, GPU processes
        for (const pid of tree) {
          let environ: string;
          try {
            environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
          } catch {
            continue; // a helper process that ended meanwhile
          }
          for (const value of Object.values(secrets)) expect(environ, `pid ${pid}`).not.toContain(value);
          expect(environ).not.toMatch(/ALIBABA_CLOUD|AUTH_TOKEN|SIGNING_SECRET/);
        }
      });
    } finally {
      for (const k of Object.keys(secrets)) if (!(k in saved)) delete process.env[k];
    }
  });
});

/** `pid` and all its descendants, from /proc. */
function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(pid);
  return out;
}

describe('headers, cookies and user agents are refused at once when Chromium would not send them', () => {
  const base = () => ({ url: `${fixtures.origin}/red`, width: '50', height: '50', timeout: '20000' });
  it.each([
    ['a header name outside the token grammar', { headers: JSON.stringify({ 'X Bad': 'v' }) }, 'headers'],
    ['a header name with a colon', { headers: JSON.stringify({ 'x:y': 'v' }) }, 'headers'],
    ['a header value with CR/LF', { headers: JSON.stringify({ 'X-A': 'v\r\nX-Injected: 1' }) }, 'headers'],
    ['a header value with NUL', { headers: JSON.stringify({ 'X-A': 'v\u0000' }) }, 'headers'],
    ['Cookie2', { headers: JSON.stringify({ Cookie2: 'a=b' }) }, 'headers'],
    ['Set-Cookie', { headers: JSON.stringify({ 'Set-Cookie': 'a=b' }) }, 'headers'],
    ['a header name outside ASCII', { headers: JSON.stringify({ 'X-é': 'v' }) }, 'headers'],
    ['a user agent with CR/LF', { userAgent: 'UA\r\nX-Injected: 1' }, 'userAgent'],
    [
      'a cookie value with a semicolon',
      { cookies: JSON.stringify([{ name: 'a', value: 'b; Domain=evil' }]) },
      'cookies',
    ],
  ])('%s → 400 naming the field', async (_what, extra, field) => {
    const started = Date.now();
    const res = await api()
      .get('/')
      .query({ ...base(), ...extra });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_option', field });
    expect(Date.now() - started).toBeLessThan(15_000); // not the deadline
  });

  it('a header Chromium would not accept never leaves a request paused until the deadline', async () => {
    // The validator lets safe names through; whatever Chromium still refuses must fail the request at once.
    const res = await api()
      .get('/')
      .query({ ...base(), headers: JSON.stringify({ 'X-Fine': 'ok' }) });
    expect(res.status).toBe(200);
  });
});

describe('log lines mask secrets by their decoded names', () => {
  it.each([
    ['/?%74oken=SECRET1&url=x', 'SECRET1'],
    ['/?url=x&%61uth=u:SECRET2', 'SECRET2'],
    ['/?%68eaders=%7B%22K%22%3A%22SECRET3%22%7D', 'SECRET3'],
    ['/?signature=SECRET4&Token=SECRET5', 'SECRET5'],
    ['/?cookies=SECRET6', 'SECRET6'],
  ])('%s', (url, secret) => {
    const masked = maskedUrl(url);
    expect(masked).not.toContain(secret);
    expect(masked).toContain('***');
  });

  it('keeps what is not secret readable', () => {
    expect(maskedUrl('/?url=https%3A%2F%2Fexample.com&width=10')).toBe('/?url=https%3A%2F%2Fexample.com&width=10');
  });
});

describe('numbers and hosts are what they look like', () => {
  it.each([
    ['width', 'Infinity'],
    ['width', '0x10'],
    ['width', '1e3'],
    ['width', ' 100'],
    ['scale', 'NaN'],
    ['delay', '-0x1'],
    ['quality', '8.0e1'],
    ['timeout', '0b11111111111111'],
  ])('%s=%s → 400 naming it', async (field, value) => {
    const res = await api()
      .get('/')
      .query({ url: `${fixtures.origin}/red`, [field]: value });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_option', field });
  });

  it.each(['ht!tp://x', 'exa mple.com', 'https://ex%41mple..com', 'https://a$b.example.com/', 'http://x,y.example/'])(
    'url=%s → 400, not a 502 from a lookup',
    async (url) => {
      const res = await api().get('/').query({ url });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: 'invalid_option', field: 'url' });
    },
  );
});
