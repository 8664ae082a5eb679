/**
 * The egress rule, shared by the request policy (top-level URL) and the egress proxy (everything the
 * page loads): resolve the host once, refuse it unless every address is global unicast, and hand back
 * the addresses that were checked so the caller connects to exactly those (no second lookup, so DNS
 * rebinding has nothing to rebind).
 */
import { lookup } from 'node:dns/promises';
import { LRUCache } from 'lru-cache';
import { checkAddress, isIpLiteral } from './address.js';

/** Resolves a host name to its addresses; injectable so tests can play a hostile DNS server. */
export type Resolver = (host: string) => Promise<string[]>;

export const systemResolver: Resolver = async (host) =>
  (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

/**
 * Remembers answers for a short while: a page's dozens of requests to one host cost one lookup, and
 * the top-level check and the proxy share it. Safe against rebinding because connections go to the
 * addresses that were checked, whatever the name resolves to later. Failures are not remembered.
 */
export function cachingResolver(resolve: Resolver, ttlMs = 30_000, max = 1000): Resolver {
  const cache = new LRUCache<string, Promise<string[]>>({ max, ttl: ttlMs });
  return (host) => {
    const hit = cache.get(host);
    if (hit) return hit;
    const answer = resolve(host);
    cache.set(host, answer);
    answer.catch(() => cache.delete(host));
    return answer;
  };
}

export interface EgressPolicy {
  /** Exact `host:port` pairs let through although internal (EGRESS_ALLOW). */
  allow: ReadonlySet<string>;
  resolve: Resolver;
}

export type Destination =
  | { allowed: true; addresses: string[] }
  | { allowed: false; reason: string; status: 403 | 502 };

/** Lower-case, no brackets, no trailing dot: the one spelling a host is compared in. */
export function normaliseHost(host: string): string {
  return host.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.+$/, '');
}

function allowKey(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export function allowListFrom(entries: Iterable<string>): Set<string> {
  const out = new Set<string>();
  for (const entry of entries) {
    const m = /^\[?(.+?)\]?:(\d+)$/.exec(entry.trim());
    if (!m) throw new Error(`EGRESS_ALLOW entries are host:port, got "${entry}"`);
    out.add(allowKey(normaliseHost(m[1]!), Number(m[2])));
  }
  return out;
}

export async function checkDestination(rawHost: string, port: number, policy: EgressPolicy): Promise<Destination> {
  const host = normaliseHost(rawHost);
  const allowed = policy.allow.has(allowKey(host, port));

  if (!allowed && (host === 'localhost' || host.endsWith('.localhost'))) {
    return { allowed: false, reason: 'loopback-name', status: 403 };
  }
  let addresses: string[];
  if (isIpLiteral(host)) {
    addresses = [host];
  } else {
    try {
      addresses = await policy.resolve(host);
    } catch (err) {
      return { allowed: false, reason: `dns: ${(err as NodeJS.ErrnoException).code ?? 'lookup failed'}`, status: 502 };
    }
    if (addresses.length === 0) return { allowed: false, reason: 'dns: no addresses', status: 502 };
  }
  if (allowed) return { allowed: true, addresses };
  for (const address of addresses) {
    const verdict = checkAddress(address);
    if (!verdict.allowed) return { allowed: false, reason: verdict.reason, status: 403 };
  }
  return { allowed: true, addresses };
}
