import dns from 'node:dns';
import net from 'node:net';
import ipaddr from 'ipaddr.js';

/** Why a webhook URL or address is refused (stored as a delivery's error, returned at registration). */
export class DestinationRefused extends Error {
  constructor(readonly reason: 'NOT_HTTPS' | 'BAD_URL' | 'PRIVATE_ADDRESS' | 'UNRESOLVABLE') {
    super(reason);
  }
}

export interface DestinationRules {
  /** Plain http is refused (production). */
  httpsOnly: boolean;
  /** Networks allowed although not public (CIDR, e.g. `10.1.2.0/24` for an on-premises receiver). */
  allowedNetworks: ReadonlyArray<[ipaddr.IPv4 | ipaddr.IPv6, number]>;
}

export const parseNetworks = (list: string): DestinationRules['allowedNetworks'] =>
  list
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => (entry.includes('/') ? ipaddr.parseCIDR(entry) : ([ipaddr.parse(entry), ipaddr.parse(entry).kind() === 'ipv4' ? 32 : 128] as [ipaddr.IPv4 | ipaddr.IPv6, number])));

/**
 * Only public unicast addresses: loopback, private, link-local (cloud metadata at 169.254.169.254),
 * unique-local, carrier-grade NAT (another metadata range), multicast and reserved ranges are
 * refused, as are IPv4 addresses dressed as IPv6; unless in an allowed network.
 */
export function addressAllowed(address: string, rules: DestinationRules): boolean {
  if (!ipaddr.isValid(address)) return false;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  if (rules.allowedNetworks.some(([network, bits]) => network.kind() === parsed.kind() && parsed.match([network, bits] as never))) return true;
  // IPv6: global unicast (2000::/3) only, which leaves out IPv4-compatible and unallocated space.
  if (parsed.kind() === 'ipv6') return parsed.range() === 'unicast' && parsed.match(GLOBAL_UNICAST_V6);
  return parsed.range() === 'unicast';
}

const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3');

/** The URL's form: http(s) only (https only where required), no credentials in it. */
export function checkUrl(raw: string, rules: DestinationRules): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new DestinationRefused('BAD_URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new DestinationRefused('BAD_URL');
  if (url.protocol === 'http:' && rules.httpsOnly) throw new DestinationRefused('NOT_HTTPS');
  if (url.username || url.password || url.hash) throw new DestinationRefused('BAD_URL');
  return url;
}

type Resolve = (host: string) => Promise<Array<{ address: string; family: number }>>;
const systemResolve: Resolve = (host) => dns.promises.lookup(host, { all: true, verbatim: true });
/** A name that takes longer to resolve is UNRESOLVABLE (the lookup may go on in the background, but nothing waits for it). */
const RESOLVE_TIMEOUT_MS = 5_000;

function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('resolution timed out')), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/** The URL's host resolved now; refused if any address it resolves to is not allowed (a name need only point once at a private address). */
export async function resolveAllowed(url: URL, rules: DestinationRules, resolve: Resolve = systemResolve, timeoutMs = RESOLVE_TIMEOUT_MS): Promise<Array<{ address: string; family: number }>> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: Array<{ address: string; family: number }>;
  if (net.isIP(host)) addresses = [{ address: host, family: net.isIP(host) }];
  else {
    try {
      addresses = await withDeadline(resolve(host), timeoutMs);
    } catch {
      throw new DestinationRefused('UNRESOLVABLE');
    }
  }
  if (addresses.length === 0) throw new DestinationRefused('UNRESOLVABLE');
  if (!addresses.every(({ address }) => addressAllowed(address, rules))) throw new DestinationRefused('PRIVATE_ADDRESS');
  return addresses;
}

/**
 * A `lookup` for http.request that connects only to the addresses just checked: the check and
 * the connection use the same resolution, so a name cannot be switched to a private address
 * between them (DNS rebinding).
 */
export function pinnedLookup(addresses: Array<{ address: string; family: number }>): net.LookupFunction {
  return ((_host: string, options: dns.LookupOptions, callback: (...args: unknown[]) => void) => {
    if (options?.all) callback(null, addresses);
    else callback(null, addresses[0].address, addresses[0].family);
  }) as unknown as net.LookupFunction;
}
