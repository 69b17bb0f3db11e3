/**
 * Cordoning a node the way `kubectl cordon` does (spec.unschedulable), for @disruptive tests only
 * (helpers/framework/disruptive.ts). cordon() registers the uncordon on the test before it changes anything,
 * so the node is schedulable again after the test whether it passed, failed or was interrupted.
 */
import type { KubernetesObject, V1Node } from "@kubernetes/client-node";
import type { Kube } from "../framework/kube.ts";
import type { TestNamespace } from "../framework/namespace.ts";
import { T } from "../framework/timeouts.ts";
import { type Check, waitFor } from "../framework/wait.ts";
import { FIELD_MANAGER } from "./apply.ts";

async function setUnschedulable(kube: Kube, node: string, unschedulable: boolean): Promise<void> {
  // A merge patch with null removes the field, which is what `kubectl uncordon` leaves behind.
  const patch = {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name: node },
    spec: { unschedulable: unschedulable || null },
  };
  await kube.objects.patch(
    patch as KubernetesObject,
    undefined,
    undefined,
    FIELD_MANAGER,
    undefined,
    "application/merge-patch+json",
  );
}

/** The node's spec.unschedulable is `unschedulable` (false also when the field is absent). */
export function nodeUnschedulable(kube: Kube, node: string, unschedulable: boolean): Check<V1Node> {
  return {
    observe: () => kube.core.readNode({ name: node }),
    ok: (n) => (n.spec?.unschedulable ?? false) === unschedulable,
    show: (n) =>
      `node ${node}: unschedulable=${n.spec?.unschedulable ?? false}, taints ${JSON.stringify(n.spec?.taints ?? [])}`,
  };
}

/** Makes `node` schedulable again and waits until the API says so. */
export async function uncordon(kube: Kube, node: string): Promise<void> {
  await setUnschedulable(kube, node, false);
  await waitFor(`node ${node} is schedulable again`, nodeUnschedulable(kube, node, false), T.apiCall);
}

/** Cordons `node`; the uncordon runs after the test, always. Refuses a node someone else cordoned. */
export async function cordon(ns: TestNamespace, node: string): Promise<void> {
  const before = await ns.kube.core.readNode({ name: node });
  if (before.spec?.unschedulable) {
    throw new Error(`node ${node} is already cordoned by someone else; the test leaves it alone`);
  }
  ns.defer(`uncordon node ${node}`, () => uncordon(ns.kube, node));
  await setUnschedulable(ns.kube, node, true);
  await waitFor(`node ${node} is cordoned`, nodeUnschedulable(ns.kube, node, true), T.apiCall);
}
