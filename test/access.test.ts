/**
 * Access control against the running service: shared token (header or query), signed URLs with
 * expiry, and the 401 JSON answers. Rejections happen before validation and before any browser work.
 */
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessCheck, canonicalQuery, sign } from '../src/policy/access.js';
import { startFixtures, type FixtureServer } from './helpers/fixtures.js';
import { shutdownClean, startService, type TestService } from './helpers/service.js';

let fixtures: FixtureServer;
let svc: TestService;
const TOKEN = 'tok-3f9a1c';
const SECRET = 'sign-me-please';

beforeAll(async () => {
  fixtures = await startFixtures();
  svc = await startService({ EGRESS_ALLOW: fixtures.allowEntry, AUTH_TOKEN: TOKEN, SIGNING_SECRET: SECRET });
});
afterAll(async () => {
  await shutdownClean(svc);
  await fixtures.close();
});

const signedQuery = (query: Record<string, string>, expires: number) => {
  const withExpiry = { ...query, expires: String(expires) };
  return { ...withExpiry, signature: sign(withExpiry, SECRET) };
};

describe('shared token', () => {
  it('admits Authorization: Bearer and ?token=', async () => {
    const query = { url: `${fixtures.origin}/red`, width: '50', height: '50' };
    const viaHeader = await request(svc.app.server).get('/').query(query).set('authorization', `Bearer ${TOKEN}`);
    expect(viaHeader.status).toBe(200);
    const viaQuery = await request(svc.app.server)
      .get('/')
      .query({ ...query, token: TOKEN });
    expect(viaQuery.status).toBe(200);
  });

  it.each([
    [{}, {}],
    [{ authorization: 'Bearer wrong' }, {}],
    [{}, { token: 'wrong' }],
    [{ authorization: `Basic ${TOKEN}` }, {}],
  ])('refuses headers %j query %j with 401', async (headers, query) => {
    const res = await request(svc.app.server)
      .get('/')
      .query({ url: `${fixtures.origin}/red`, ...query })
      .set(headers as Record<string, string>);
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('unauthorized');
    expect(res.body.reason).toBe('missing token or signature');
  });

  it('checks access before validating: no probing of options without a token', async () => {
    const res = await request(svc.app.server).get('/').query({ width: 'nonsense' });
    expect(res.status).toBe(401);
  });
});

describe('signed URLs', () => {
  const base = () => ({ url: `${fixtures.origin}/red`, width: '60', height: '40' });
  const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;

  it('admits a valid signature', async () => {
    const res = await request(svc.app.server).get('/').query(signedQuery(base(), inAnHour()));
    expect(res.status).toBe(200);
  });

  it('refuses a tampered, expired or missing signature', async () => {
    const good = signedQuery(base(), inAnHour());
    const tampered = await request(svc.app.server)
      .get('/')
      .query({ ...good, width: '61' });
    expect(tampered.status).toBe(401);
    expect(tampered.body.reason).toBe('invalid signature');
    const expired = await request(svc.app.server).get('/').query(signedQuery(base(), 1000));
    expect(expired.status).toBe(401);
    expect(expired.body.reason).toBe('signature expired');
  });

  it('signs a canonical form: order and encoding of parameters do not matter', () => {
    expect(canonicalQuery({ b: '2', a: 'x y', signature: 'ignored', token: 'ignored' })).toBe('a=x%20y&b=2');
    expect(canonicalQuery({ hide: ['.b', '.a'], a: '1' })).toBe('a=1&hide=.b&hide=.a');
    const check = accessCheck({ signingSecret: 'k', now: () => 100 })!;
    const q = { url: 'https://example.com', expires: '200' };
    const ask = (query: Record<string, unknown>) => check({ query, headers: {}, method: 'GET', rawUrl: '/?' });
    expect(ask({ ...q, signature: sign(q, 'k') })).toBe('signature');
    expect(() => ask({ ...q, signature: sign(q, 'other') })).toThrow('invalid signature');
  });

  it('is off when neither secret is set', () => {
    expect(accessCheck({})).toBeUndefined();
  });
});
