/**
 * A throw-away TLS certificate for the corpus's HTTPS origins, made at test time with openssl (the
 * same tool the layer builder already needs), and the base64 SHA-256 of its public key (SPKI): the
 * value the service's TRUST_SPKI setting takes, so that only the test's Chromium trusts it.
 */
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCert {
  key: string;
  cert: string;
  /** base64(sha256(DER SubjectPublicKeyInfo)), as Chromium's --ignore-certificate-errors-spki-list wants it. */
  spki: string;
}

export const spkiHash = (certPem: string): string => {
  const spki = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
};

/** A self-signed P-256 certificate valid for a day for the given IP addresses. */
export function makeTestCert(ips: string[] = ['127.0.0.1', '127.0.0.2']): TestCert {
  const dir = mkdtempSync(join(tmpdir(), 'corpus-cert-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=fc-screenshot test corpus',
        '-addext',
        `subjectAltName=${ips.map((ip) => `IP:${ip}`).join(',')}`,
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert, spki: spkiHash(cert) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
