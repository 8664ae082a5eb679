/**
 * The egress rule, shared by the request policy (top-level URL) and the egress proxy (everything the
 * page loads): resolve the host once, refuse it unless every address is global unicast, and hand back
 * the addresses that were checked so the caller connects to exactly those (no second lookup, so DNS
 * rebinding has nothing to rebind).
 */
import { lookup } from 'node:dns/promises';
import { LRUCache } from 'lru-cache';
import ipaddr from 'ipaddr.js';
import { badGateway, blocked, type HttpError } from '../errors.js';
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
  /** Exact `address:port` destinations let through although internal (EGRESS_ALLOW). */
  allow: ReadonlySet<string>;
  /** Ports a global address may be reached on (EGRESS_PORTS); undefined: any port. */
  ports?: ReadonlySet<number>;
  resolve: Resolver;
}

/**
 * Why the egress rule refuses a destination: 403 for a blocked one (an internal host), 502 for one
 * that cannot be reached (its name does not resolve).
 */
export interface Refusal {
  status: 403 | 502;
  reason: string;
}

export type Destination = { allowed: true; addresses: string[] } | ({ allowed: false } & Refusal);

/** Lower-case, no brackets, no trailing dot: the one spelling a host is compared in. */
export function normaliseHost(host: string): string {
  return host
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
    .replace(/\.+$/, '');
}

function allowKey(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/**
 * EGRESS_ALLOW entries are IP `address:port` pairs. Names are refused: an allowed name would let
 * whoever controls its DNS point the renderer at any internal address. A name that resolves to an
 * allowed address is let through, since the destination is what is checked.
 */
export function allowListFrom(entries: Iterable<string>): Set<string> {
  const out = new Set<string>();
  for (const entry of entries) {
    const m = /^\[?(.+?)\]?:(\d+)$/.exec(entry.trim());
    if (!m) throw new Error(`EGRESS_ALLOW entries are address:port, got "${entry}"`);
    const address = normaliseHost(m[1]!);
    if (!isIpLiteral(address)) {
      throw new Error(`EGRESS_ALLOW takes IP addresses, not names (a name trusts whatever its DNS says): "${entry}"`);
    }
    out.add(allowKey(ipaddr.parse(address).toString(), Number(m[2])));
  }
  return out;
}

/** EGRESS_PORTS: a comma list of ports, or `*` for any. */
export function portListFrom(raw: string): Set<number> | undefined {
  if (raw.trim() === '*') return undefined;
  const ports = new Set<number>();
  for (const part of raw
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const port = Number(part);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`EGRESS_PORTS: "${part}" is not a port`);
    ports.add(port);
  }
  return ports;
}

export async function checkDestination(rawHost: string, port: number, policy: EgressPolicy): Promise<Destination> {
  const host = normaliseHost(rawHost);
  let addresses: string[];
  if (isIpLiteral(host)) {
    // The address as the rule reads it, in the one spelling the socket layer reads the same way
    // (`::ffff:0177.0.0.1` is an address to ipaddr.js but a name to getaddrinfo).
    addresses = [canonical(host)];
  } else if (host === 'localhost' || host.endsWith('.localhost')) {
    addresses = ['127.0.0.1']; // loopback by definition (RFC 6761), whatever a resolver says
  } else {
    try {
      addresses = await policy.resolve(host);
    } catch (err) {
      return { allowed: false, reason: `dns: ${(err as NodeJS.ErrnoException).code ?? 'lookup failed'}`, status: 502 };
    }
    if (addresses.length === 0) return { allowed: false, reason: 'dns: no addresses', status: 502 };
  }
  for (const address of addresses) {
    if (policy.allow.has(allowKey(canonical(address), port))) continue;
    const verdict = checkAddress(address);
    if (!verdict.allowed) return { allowed: false, reason: verdict.reason, status: 403 };
    if (policy.ports && !policy.ports.has(port))
      return { allowed: false, reason: `port-${port}-not-allowed`, status: 403 };
  }
  return { allowed: true, addresses };
}

/** One spelling per address (`::ffff:7f00:1` and `::ffff:127.0.0.1` are one), as allow-list keys use. */
function canonical(address: string): string {
  try {
    return ipaddr.parse(address).toString();
  } catch {
    return address;
  }
}

/**
 * Says why the egress rule would refuse a URL, or undefined when it may be loaded. The capture asks it
 * when a request failed at the proxy: a refused tunnel carries no reason.
 */
export type WhyBlocked = (url: string) => Promise<Refusal | undefined>;

const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443, 'ws:': 80, 'wss:': 443 };

/**
 * WhyBlocked for one egress rule, on the URL as Chromium requested it (read by the same WHATWG parser,
 * not the stricter one for callers' URLs): a scheme that goes through no proxy is refused as `scheme`.
 */
export function whyBlockedBy(egress: EgressPolicy): WhyBlocked {
  return async (url) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return { status: 403, reason: 'scheme' };
    }
    const defaultPort = DEFAULT_PORTS[parsed.protocol];
    if (!defaultPort || !parsed.hostname) return { status: 403, reason: 'scheme' };
    const port = parsed.port ? Number(parsed.port) : defaultPort;
    const verdict = await checkDestination(parsed.hostname, port, egress);
    return verdict.allowed ? undefined : { status: verdict.status, reason: verdict.reason };
  };
}

/** What the caller is answered for a refused destination: 403 `blocked`, or 502 `unreachable`. */
export function refusedError(host: string, refusal: Refusal): HttpError {
  if (refusal.status === 403) return blocked(refusal.reason);
  return badGateway(`cannot reach ${host} (${refusal.reason})`, 'unreachable');
}
