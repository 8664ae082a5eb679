/**
 * A throw-away TLS certificate for the corpus's HTTPS origins, made at test time in node with
 * @peculiar/x509 on node's WebCrypto (no openssl needed; the library is widely used, typed, and does
 * EC P-256 keys and IP subjectAltNames, which a Chromium-trusted test certificate needs), and the
 * base64 SHA-256 of its public key (SPKI): the value the service's TRUST_SPKI setting takes, so that
 * only the test's Chromium trusts it.
 */
import 'reflect-metadata'; // @peculiar/x509 2 resolves its parts with tsyringe, which wants this polyfill loaded first
import { createHash, webcrypto, X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

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

const pem = (label: string, der: ArrayBuffer) =>
  `-----BEGIN ${label}-----\n${Buffer.from(der)
    .toString('base64')
    .replace(/.{64}/g, '$&\n')
    .replace(/\n?$/, '\n')}-----END ${label}-----\n`;

/**
 * A self-signed certificate valid for a day for the given IP addresses: P-256
 * by default, RSA 2048 when `rsa` is set.
 */
export async function makeTestCert(
  ips: string[] = ['127.0.0.1', '127.0.0.2'],
  opts: { cn?: string; rsa?: boolean } = {},
): Promise<TestCert> {
  const alg = opts.rsa
    ? { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 }
    : { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: webcrypto.getRandomValues(Buffer.alloc(8)).toString('hex').replace(/^./, '1'),
    name: `CN=${opts.cn ?? 'fc-screenshot test corpus'}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 24 * 3600_000),
    keys,
    signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.SubjectAlternativeNameExtension(ips.map((value) => ({ type: 'ip' as const, value }))),
    ],
  });
  const certPem = cert.toString('pem');
  const key = pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return { key, cert: certPem, spki: spkiHash(certPem) };
}
