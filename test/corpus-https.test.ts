/**
 * HTTPS and HTTP/2, as real sites are: the corpus over TLS with a certificate made for this run, which
 * the service's Chromium trusts only through TRUST_SPKI (its public key's hash). Off by default: a
 * service without the setting refuses the certificate (502), and s.yaml never sets it.
 */
import { readFileSync } from 'node:fs';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { chromiumFlags } from '../src/browser/flags.js';
import { loadConfig } from '../src/config.js';
import { makeTestCert } from './corpus/cert.js';
import { pixels } from './corpus/pixels.js';
import { useCorpusRun } from './corpus/setup.js';
import { binary, withOwnService } from './helpers/service.js';

const run = useCorpusRun();

describe('HTTPS and HTTP/2 fixtures', () => {
  it('a page and all its sub-resources come over HTTP/2 through the proxy’s CONNECT tunnels', async () => {
    const before = run.corpus.hits.length;
    const res = await run.get({ url: `${run.corpus.https}/react-antd` });
    expect(res.status).toBe(200);
    expect(res.headers['x-blocked-requests']).toBe('0');
    const hits = run.corpus.hits.slice(before);
    expect(hits.map((h) => h.path)).toEqual(
      expect.arrayContaining(['/react-antd', '/vendor/antd/antd.min.js', '/vendor/react/react.production.min.js']),
    );
    expect(new Set(hits.map((h) => h.httpVersion))).toEqual(new Set(['2.0']));
  });

  it('the same page over HTTP and over HTTPS looks the same', async () => {
    const [plain, tls] = await Promise.all([
      run.get({ url: `${run.corpus.http}/canvas` }),
      run.get({ url: `${run.corpus.https}/canvas` }),
    ]);
    const [a, b] = [await pixels(plain.body), await pixels(tls.body)];
    const box = { x: 0, y: 0, width: 1280, height: 800 };
    expect(b.count(box, (c) => c.join() !== a.at(0, 0).join())).toBe(
      a.count(box, (c) => c.join() !== a.at(0, 0).join()),
    );
    expect(a.share(box, '#ffffff', 0)).toBeLessThan(0.9); // the drawing is there
  });
});

describe('TRUST_SPKI (tests only) is off by default', () => {
  /** The corpus's HTTPS canvas page through a service of its own with `env`: the answer's status and JSON body. */
  const canvasThrough = async (env: Record<string, string>) => {
    let answer: { status: number; body: { error?: string; message?: string } } | undefined;
    await withOwnService({ EGRESS_ALLOW: run.corpus.allow, ...env }, async (svc) => {
      const res = await request(svc.app.server)
        .get('/')
        .query({ url: `${run.corpus.https}/canvas` })
        .buffer(true)
        .parse(binary);
      answer = { status: res.status, body: JSON.parse(res.body.toString()) };
    });
    return answer!;
  };

  it('without it, the test certificate is refused: 502 naming the certificate error', async () => {
    const { status, body } = await canvasThrough({});
    expect(status).toBe(502);
    expect(body).toMatchObject({ error: 'bad_gateway' });
    expect(body.message).toMatch(/net::ERR_CERT_AUTHORITY_INVALID/);
  });

  it('trust is by public key: another key’s hash does not let this certificate through', async () => {
    const { status, body } = await canvasThrough({ TRUST_SPKI: (await makeTestCert()).spki });
    expect(status).toBe(502);
    expect(body.message).toMatch(/net::ERR_CERT_AUTHORITY_INVALID/);
  });

  it('is empty unless set, adds no flag then, is refused when malformed, and s.yaml never sets it', () => {
    expect(loadConfig({}).trustSpki).toEqual([]);
    expect(chromiumFlags('http://127.0.0.1:1', loadConfig({}).trustSpki).join(' ')).not.toMatch(/certificate/);
    const spki = run.corpus.cert.spki;
    expect(chromiumFlags('http://127.0.0.1:1', loadConfig({ TRUST_SPKI: spki }).trustSpki)).toContain(
      `--ignore-certificate-errors-spki-list=${spki}`,
    );
    expect(() => loadConfig({ TRUST_SPKI: 'yes' })).toThrow(/TRUST_SPKI/);
    const yaml = parse(readFileSync(new URL('../s.yaml', import.meta.url), 'utf8'));
    const env =
      Object.values(yaml.resources as Record<string, { props: { environmentVariables?: object } }>)[0]!.props
        .environmentVariables ?? {};
    expect(Object.keys(env)).not.toContain('TRUST_SPKI');
    expect(readFileSync(new URL('../s.yaml', import.meta.url), 'utf8')).not.toMatch(/TRUST_SPKI|ignore-certificate/);
  });
});
