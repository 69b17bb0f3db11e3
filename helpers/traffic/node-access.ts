/**
 * Single requests from this host (the machine running vitest) to node addresses, with the body: a NodePort
 * checked "from outside the cluster". (helpers/traffic/prober.ts sends continuous requests the same way.)
 *
 * Network safety: requests go only to node addresses inside the node network the test bed publishes in
 * kube-public/k8s-ops-conformance-testbed (the guard is helpers/traffic/network-guard.ts). Without
 * that ConfigMap nothing is sent and `hostNodeAccess` says why, so the test can skip with the reason
 * (`requireHostNodeAccess`; on the local test bed, whose ConfigMap lacks the network, it fails instead); an
 * address outside the published network is refused with an error before a packet leaves. hostHttpGet only
 * accepts addresses that went through that check (the GuardedAddress type).
 *
 *   const access = await requireHostNodeAccess({ kube, skip });
 *   await waitFor("...", hostAnswers(access.nodes[0].address, nodePort, "Hello"), T.serviceReachable);
 */
import type { V1Node } from "@kubernetes/client-node";
import type { Kube } from "../framework/kube.ts";
import { T } from "../framework/timeouts.ts";
import type { Check } from "../framework/wait.ts";
import { prerequisiteMissing, type SkipContext } from "../manifests/prereq.ts";
import { type HttpResult, showHttp } from "./exec.ts";
import { freshGet } from "./host-http.ts";
import { assertTestbedAddresses, TESTBED_CONFIGMAP, testbedNodeNetwork } from "./network-guard.ts";

/** A node address checked against the published node network: the only kind hostHttpGet accepts. */
export type GuardedAddress = string & { readonly guardedNodeAddress: true };

export interface HostReachableNode {
  name: string;
  address: GuardedAddress;
}

export type HostNodeAccess =
  | { published: true; nodeNetwork: string; nodes: HostReachableNode[] }
  | { published: false; reason: string };

function internalAddress(node: V1Node): string {
  return node.status?.addresses?.find((a) => a.type === "InternalIP")?.address ?? "";
}

function isReady(node: V1Node): boolean {
  return node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true;
}

/** A node's name, InternalIP and readiness: the one place node addresses are read. */
export interface NodeAddress {
  name: string;
  address: string;
  ready: boolean;
}

export async function nodeAddresses(kube: Kube): Promise<NodeAddress[]> {
  return (await kube.core.listNode()).items.map((n) => ({
    name: n.metadata?.name ?? "?",
    address: internalAddress(n),
    ready: isReady(n),
  }));
}

/**
 * The InternalIP of every Ready node, each inside the published node network (else throws, naming it);
 * or, without a published network, why this host must not send requests to nodes at all.
 */
export async function hostNodeAccess(kube: Kube): Promise<HostNodeAccess> {
  const nodeNetwork = await testbedNodeNetwork(kube);
  if (nodeNetwork === undefined) {
    return {
      published: false,
      reason:
        `no nodeNetwork published in ConfigMap ${TESTBED_CONFIGMAP.namespace}/${TESTBED_CONFIGMAP.name} (not the local ` +
        "test bed), so no request is sent from this host to node addresses",
    };
  }
  const named = (await nodeAddresses(kube)).filter((n) => n.ready);
  assertTestbedAddresses(
    named.map((n) => n.address),
    nodeNetwork,
  );
  return {
    published: true,
    nodeNetwork,
    nodes: named.map((n) => ({ name: n.name, address: n.address as GuardedAddress })),
  };
}

/** The nodes this host may send requests to; skips the test saying why there are none (fails on the local test bed). */
export async function requireHostNodeAccess(ctx: SkipContext): Promise<Extract<HostNodeAccess, { published: true }>> {
  const access = await hostNodeAccess(ctx.kube);
  if (!access.published) return prerequisiteMissing(ctx, { kind: "node network" }, access.reason);
  return access;
}

/** GET http://address:port/path from this host on a fresh connection; status 0 and `error` when no answer came. */
export async function hostHttpGet(
  address: GuardedAddress,
  port: number,
  path = "/",
  timeout = T.httpRequest,
): Promise<HttpResult> {
  const { status, body, error } = await freshGet(new URL(`http://${address}:${port}${path}`), timeout);
  return { status, body, error: error && `GET http://${address}:${port}${path} from this host: ${error}` };
}

/** A Check for waitFor: GET from this host answers `status` with a body containing `text`. */
export function hostAnswers(address: GuardedAddress, port: number, text: string, status = 200): Check<HttpResult> {
  return {
    observe: () => hostHttpGet(address, port),
    ok: (r) => r.status === status && r.body.includes(text),
    show: showHttp,
  };
}
