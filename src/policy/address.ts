/**
 * Which IP addresses a rendered page may reach: global unicast only.
 *
 * ipaddr.js (the address library Node's own ecosystem leans on: proxy-addr, express) parses every
 * textual form and names the special-purpose ranges; we add what it leaves as "unicast" or lets
 * through inside IPv6 transition forms (mapped, compatible, NAT64, 6to4, Teredo).
 */
import ipaddr from 'ipaddr.js';

export type AddressVerdict = { allowed: true } | { allowed: false; reason: string };

/** IPv6 ranges that ipaddr.js calls unicast but that no public web server lives in. */
const EXTRA_BLOCKED_V6: Array<[ipaddr.IPv6, number, string]> = [
  [ipaddr.IPv6.parse('2001::'), 23, 'ietf-protocol-assignments'],
  [ipaddr.IPv6.parse('2001:db8::'), 32, 'documentation'],
  [ipaddr.IPv6.parse('3fff::'), 20, 'documentation'],
  [ipaddr.IPv6.parse('5f00::'), 16, 'srv6-sids'],
];
const GLOBAL_V6: [ipaddr.IPv6, number] = [ipaddr.IPv6.parse('2000::'), 3];

function checkV4(addr: ipaddr.IPv4): AddressVerdict {
  const range = addr.range();
  return range === 'unicast' ? { allowed: true } : { allowed: false, reason: `ipv4-${range}` };
}

/** The IPv4 address an IPv6 transition form carries, when it carries one in its low 32 bits. */
function embeddedV4(addr: ipaddr.IPv6): ipaddr.IPv4 | undefined {
  const p = addr.parts;
  const low = () => new ipaddr.IPv4([p[6]! >> 8, p[6]! & 0xff, p[7]! >> 8, p[7]! & 0xff]);
  // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible, deprecated but still routed by some stacks)
  if (p[0] === 0 && p[1] === 0 && p[2] === 0 && p[3] === 0 && p[4] === 0 && (p[5] === 0xffff || p[5] === 0)) {
    return low();
  }
  // 64:ff9b::/96 well-known NAT64 prefix
  if (addr.range() === 'rfc6052' && p[1] === 0xff9b && p[2] === 0) return low();
  return undefined;
}

export function checkAddress(address: string): AddressVerdict {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.parse(address.replace(/^\[|\]$/g, ''));
  } catch {
    return { allowed: false, reason: 'not-an-ip-address' };
  }
  if (parsed.kind() === 'ipv4') return checkV4(parsed as ipaddr.IPv4);

  const v6 = parsed as ipaddr.IPv6;
  if (v6.zoneId) return { allowed: false, reason: 'ipv6-zone-id' };
  const range = v6.range();
  if (range === 'unspecified' || range === 'loopback') return { allowed: false, reason: `ipv6-${range}` };
  const v4 = embeddedV4(v6);
  if (v4) {
    const inner = checkV4(v4);
    return inner.allowed ? inner : { allowed: false, reason: `ipv6-${range}-${inner.reason}` };
  }
  // 6to4 and Teredo tunnel to arbitrary IPv4 hosts; other special ranges are never web servers.
  if (range !== 'unicast') return { allowed: false, reason: `ipv6-${range}` };
  if (!v6.match(GLOBAL_V6)) return { allowed: false, reason: 'ipv6-not-global' };
  for (const [net, bits, name] of EXTRA_BLOCKED_V6) {
    if (v6.match(net, bits)) return { allowed: false, reason: `ipv6-${name}` };
  }
  return { allowed: true };
}

/** ipaddr.js's own test for "is this text an IP literal" (dotted IPv4 or any IPv6 form). */
export function isIpLiteral(host: string): boolean {
  return ipaddr.isValid(host.replace(/^\[|\]$/g, ''));
}
