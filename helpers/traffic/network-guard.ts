/**
 * The network guard: requests from this host (the machine running vitest) go only to node addresses inside
 * the node network the local test bed publishes (ConfigMap kube-public/k8s-ops-conformance-testbed, key
 * nodeNetwork). Anything else is refused before a packet leaves.
 */
import type { Kube } from "../framework/kube.ts";
import { isNotFound } from "../framework/kube.ts";
import { ipInCidr } from "./cidr.ts";

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
