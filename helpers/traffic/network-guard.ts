/**
 * The network guard: requests from this host (the machine running vitest) go only to node addresses inside
 * the node network the local test bed publishes (ConfigMap kube-public/k8s-ops-conformance-testbed, key
 * nodeNetwork). Anything else is refused before a packet leaves.
 */
import type { Kube } from "../framework/kube.ts";
import { isNotFound } from "../framework/kube.ts";

/** Where the test bed says its nodes live (`nodeNetwork`, e.g. 172.19.0.0/16); undefined when it says nothing. */
export const TESTBED_CONFIGMAP = { namespace: "kube-public", name: "k8s-ops-conformance-testbed" } as const;

export async function testbedNodeNetwork(kube: Kube): Promise<string | undefined> {
  try {
    const cm = await kube.core.readNamespacedConfigMap({ ...TESTBED_CONFIGMAP });
    return cm.data?.nodeNetwork;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

function ipv4ToNumber(ip: string): number | undefined {
  const parts = ip.split(".");
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return undefined;
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

/** True when IPv4 `ip` lies inside `cidr` (e.g. 172.19.0.0/16). Anything unparsable is outside. */
export function ipInCidr(ip: string, cidr: string): boolean {
  const [base = "", bitsText = ""] = cidr.split("/");
  const bits = Number(bitsText);
  const address = ipv4ToNumber(ip);
  const network = ipv4ToNumber(base);
  if (address === undefined || network === undefined || !/^\d+$/.test(bitsText) || bits > 32) return false;
  const size = 2 ** (32 - bits);
  return Math.floor(address / size) === Math.floor(network / size);
}

/** Refuses (throws) unless every address is inside the test bed's published node network. */
export function assertTestbedAddresses(addresses: readonly string[], nodeNetwork: string | undefined): void {
  if (nodeNetwork === undefined) {
    throw new Error(
      `refusing to send requests from this host: ConfigMap ${TESTBED_CONFIGMAP.namespace}/${TESTBED_CONFIGMAP.name} ` +
        "(key nodeNetwork) does not exist, so no node address is known to belong to the local test bed",
    );
  }
  const outside = addresses.filter((a) => !ipInCidr(a, nodeNetwork));
  if (outside.length > 0 || addresses.length === 0) {
    throw new Error(
      `refusing to send requests from this host to ${outside.join(", ") || "(no node addresses)"}: not inside the test bed's nodeNetwork ${nodeNetwork}`,
    );
  }
}
