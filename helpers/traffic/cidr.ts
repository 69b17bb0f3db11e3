/**
 * IPv4 addresses and CIDR blocks: the one place that decides whether an address lies inside a network.
 * The suites' network guard (network-guard.ts) and the test bed (its host firewall rule and checks) use it.
 */

/** `a.b.c.d` as a number, or undefined when it is not a dotted IPv4 address. */
export function ipv4ToNumber(ip: string): number | undefined {
  const parts = ip.split(".");
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return undefined;
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

/** True when `cidr` is an IPv4 block such as 172.19.0.0/16 (the address may have host bits set). */
export function isIpv4Cidr(cidr: string): boolean {
  const [base = "", bits = "", ...rest] = cidr.split("/");
  return rest.length === 0 && ipv4ToNumber(base) !== undefined && /^\d{1,2}$/.test(bits) && Number(bits) <= 32;
}

/** True when IPv4 `ip` lies inside `cidr` (e.g. 172.19.0.0/16). Anything unparsable is outside. */
export function ipInCidr(ip: string, cidr: string): boolean {
  const address = ipv4ToNumber(ip);
  if (address === undefined || !isIpv4Cidr(cidr)) return false;
  const [base = "", bitsText = ""] = cidr.split("/");
  const size = 2 ** (32 - Number(bitsText));
  return Math.floor(address / size) === Math.floor((ipv4ToNumber(base) ?? 0) / size);
}
