/**
 * A Service's endpoints as discovery.k8s.io/v1 EndpointSlices show them: which addresses are ready and
 * which are listed but not ready. Not-ready pods stay in the slices with conditions.ready=false, so "no
 * endpoint" is asserted as "no READY endpoint", never as an empty list.
 *
 *   await waitFor("only web-0 ready", serviceEndpoints(ns, "web", (s) => sameAddresses(s.ready, [ip])), T.serviceReachable);
 */
import type { V1EndpointSlice } from "@kubernetes/client-node";
import type { TestNamespace } from "../framework/namespace.ts";
import type { Check } from "../framework/wait.ts";

export interface EndpointSet {
  /** Addresses with conditions.ready=true, sorted. */
  ready: string[];
  /** Addresses listed with ready false or unset, sorted. */
  notReady: string[];
  /** `10.244.1.5=web-abc` for every address with a targetRef, to name pods in messages. */
  pods: Record<string, string>;
}

/** Ready and not-ready addresses over all slices of a Service (each address once). */
export function endpointSet(slices: readonly V1EndpointSlice[]): EndpointSet {
  const ready = new Set<string>();
  const notReady = new Set<string>();
  const pods: Record<string, string> = {};
  for (const endpoint of slices.flatMap((s) => s.endpoints ?? [])) {
    for (const address of endpoint.addresses) {
      (endpoint.conditions?.ready === true ? ready : notReady).add(address);
      if (endpoint.targetRef?.name) pods[address] = endpoint.targetRef.name;
    }
  }
  for (const address of ready) notReady.delete(address);
  return { ready: [...ready].sort(), notReady: [...notReady].sort(), pods };
}

/** The same addresses, in any order. */
export function sameAddresses(a: readonly string[], b: readonly string[]): boolean {
  const left = [...new Set(a)].sort();
  const right = [...new Set(b)].sort();
  return left.length === right.length && left.every((x, i) => x === right[i]);
}

/** `ready [10.244.1.5 (web-a)]; not ready [10.244.2.7 (web-b), 10.244.3.9 (web-c)]`. */
export function showEndpointSet(set: EndpointSet): string {
  const name = (a: string): string => (set.pods[a] ? `${a} (${set.pods[a]})` : a);
  return `ready [${set.ready.map(name).join(", ")}]; not ready [${set.notReady.map(name).join(", ")}]`;
}

/** A Check on the EndpointSlices labelled kubernetes.io/service-name=<service>; `ok` judges the set. */
export function serviceEndpoints(
  ns: TestNamespace,
  service: string,
  ok: (set: EndpointSet) => boolean,
): Check<EndpointSet> {
  return {
    observe: async () =>
      endpointSet(
        (
          await ns.kube.discovery.listNamespacedEndpointSlice({
            namespace: ns.name,
            labelSelector: `kubernetes.io/service-name=${service}`,
          })
        ).items,
      ),
    ok,
    show: (set) => `service ${ns.name}/${service}: ${showEndpointSet(set)}`,
  };
}
