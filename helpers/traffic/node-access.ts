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
import { config } from "../framework/config.ts";
import type { Kube } from "../framework/kube.ts";
import { T } from "../framework/timeouts.ts";
import type { Check } from "../framework/wait.ts";
import { notReadyBecause, prerequisiteMissing, type SkipContext } from "../manifests/prereq.ts";
import { type HttpResult, showHttp } from "./exec.ts";
import { freshGet } from "./host-http.ts";
import { assertTestbedAddresses, TESTBED_CONFIGMAP, testbedNodeNetwork } from "./network-guard.ts";

/** A node address checked against the published node network: the only kind hostHttpGet accepts. */
export type GuardedAddress = string & { readonly guardedNodeAddress: true };

export interface HostReachableNode {
  name: string;
  address: GuardedAddress;
}

/** Why a run inside the cluster (`run --in-cluster`) sends nothing "from outside". */
export const IN_CLUSTER_REASON =
  "the runner is a pod of this cluster (run --in-cluster): there is no host outside the cluster to send requests from";

export type HostNodeAccess =
  | { published: true; nodeNetwork: string; nodes: HostReachableNode[]; leftOut: string[] }
  | { published: false; reason: string };

function internalAddress(node: V1Node): string {
  return node.status?.addresses?.find((a) => a.type === "InternalIP")?.address ?? "";
}

/** A node's name, InternalIP and readiness: the one place node addresses are read. */
export interface NodeAddress {
  name: string;
  address: string;
  ready: boolean;
  /** Why it is not Ready (`NotReady (Kubelet stopped posting node status)`); "" when it is. */
  notReady: string;
}

export function nodeAddress(node: V1Node): NodeAddress {
  const notReady = notReadyBecause(node) ?? "";
  return { name: node.metadata?.name ?? "?", address: internalAddress(node), ready: notReady === "", notReady };
}

export async function nodeAddresses(kube: Kube): Promise<NodeAddress[]> {
  return (await kube.core.listNode()).items.map(nodeAddress);
}

/**
 * The Ready nodes, the only ones a NodePort is probed on (a NotReady node's kube-proxy and network are not
 * what the check is about), and the others as `name (address): why`, so the result names what was left out.
 */
export function readyNodes(nodes: readonly NodeAddress[]): { ready: NodeAddress[]; leftOut: string[] } {
  return {
    ready: nodes.filter((n) => n.ready),
    leftOut: nodes.filter((n) => !n.ready).map((n) => `${n.name} (${n.address || "no InternalIP"}): ${n.notReady}`),
  };
}

/** `left out, not Ready: w2 (172.19.0.3): NotReady (...)`, or `no node left out`: the log line of a NodePort check. */
export function showLeftOut(leftOut: readonly string[]): string {
  return leftOut.length === 0 ? "no node left out" : `left out, not Ready: ${leftOut.join("; ")}`;
}

/** The Ready nodes' addresses (readyNodes) as the cluster lists them now. */
export async function readyNodeAddresses(kube: Kube): Promise<{ ready: NodeAddress[]; leftOut: string[] }> {
  return readyNodes(await nodeAddresses(kube));
}

/**
 * The InternalIP of every Ready node, each inside the published node network (else throws, naming it), and
 * the nodes left out because they are not Ready; or, without a published network, why this host must not
 * send requests to nodes at all.
 */
export async function hostNodeAccess(kube: Kube): Promise<HostNodeAccess> {
  if (config().inCluster) return { published: false, reason: IN_CLUSTER_REASON };
  const nodeNetwork = await testbedNodeNetwork(kube);
  if (nodeNetwork === undefined) {
    return {
      published: false,
      reason:
        `no nodeNetwork published in ConfigMap ${TESTBED_CONFIGMAP.namespace}/${TESTBED_CONFIGMAP.name} (not the local ` +
        "test bed), so no request is sent from this host to node addresses",
    };
  }
  const { ready, leftOut } = await readyNodeAddresses(kube);
  if (ready.length === 0) throw new Error(`no Ready node to send requests to from this host; ${showLeftOut(leftOut)}`);
  assertTestbedAddresses(
    ready.map((n) => n.address),
    nodeNetwork,
  );
  return {
    published: true,
    nodeNetwork,
    nodes: ready.map((n) => ({ name: n.name, address: n.address as GuardedAddress })),
    leftOut,
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
