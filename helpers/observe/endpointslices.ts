/**
 * A Service's endpoints as discovery.k8s.io/v1 EndpointSlices show them: the one reader of EndpointSlices.
 * Not-ready pods stay in the slices with conditions.ready=false, so "no endpoint" is asserted as "no READY
 * endpoint", never as an empty list.
 *
 * The same pod may be listed more than once (in two slices while the controller moves it, or with two
 * addresses): endpoints are counted as distinct pods (targetRef uid, else its name), and only an endpoint
 * without a targetRef counts by its address. A pod counts ready when any listing says so.
 *
 *   await waitFor("only web-0 ready", serviceEndpoints(ns, "web", (s) => sameAddresses(s.ready, [ip])), T.serviceReachable);
 *   await waitFor("2 ready pods", readyEndpoints(ns, "web", 2), T.serviceReachable);
 */
import type { V1Endpoint, V1EndpointSlice } from "@kubernetes/client-node";
import type { TestNamespace } from "../framework/namespace.ts";
import type { Check } from "../framework/wait.ts";

export interface EndpointSet {
  /** Addresses with conditions.ready=true, sorted. */
  ready: string[];
  /** Addresses listed with ready false or unset, sorted. */
  notReady: string[];
  /** Distinct pods (targetRef uid or name; the address when there is no targetRef) with a ready listing, sorted. */
  readyPods: string[];
  /** Distinct pods listed, ready or not, sorted. */
  listedPods: string[];
  /** `10.244.1.5=web-abc` for every address with a targetRef, to name pods in messages. */
  pods: Record<string, string>;
}

/** Who an endpoint stands for: its pod (targetRef name, else uid), or its first address when it names none. */
function podKey(endpoint: V1Endpoint): string {
  const ref = endpoint.targetRef;
  return ref?.name ?? ref?.uid ?? endpoint.addresses[0] ?? "?";
}

/** Ready and not-ready addresses and pods over all slices of a Service (each address and each pod once). */
export function endpointSet(slices: readonly V1EndpointSlice[]): EndpointSet {
  const ready = new Set<string>();
  const notReady = new Set<string>();
  const readyPods = new Set<string>();
  const listedPods = new Set<string>();
  const pods: Record<string, string> = {};
  for (const endpoint of slices.flatMap((s) => s.endpoints ?? [])) {
    const isReady = endpoint.conditions?.ready === true;
    listedPods.add(podKey(endpoint));
    if (isReady) readyPods.add(podKey(endpoint));
    for (const address of endpoint.addresses) {
      (isReady ? ready : notReady).add(address);
      if (endpoint.targetRef?.name) pods[address] = endpoint.targetRef.name;
    }
  }
  for (const address of ready) notReady.delete(address);
  const sorted = (s: Set<string>): string[] => [...s].sort();
  return {
    ready: sorted(ready),
    notReady: sorted(notReady),
    readyPods: sorted(readyPods),
    listedPods: sorted(listedPods),
    pods,
  };
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

/** A Check: the Service's EndpointSlices list exactly `count` distinct ready pods. */
export function readyEndpoints(ns: TestNamespace, service: string, count: number): Check<EndpointSet> {
  const check = serviceEndpoints(ns, service, (s) => s.readyPods.length === count);
  return {
    ...check,
    show: (set) =>
      `${check.show?.(set)}; ${set.readyPods.length} distinct ready pod(s) [${set.readyPods.join(", ")}], wanted ${count}`,
  };
}
