/**
 * Testname: Storage, hostPath data left behind when a drain moves the pod
 * Description: The one pod of a one-replica Deployment writes a unique marker into a hostPath directory on
 *   the node A it was scheduled to. A is cordoned and the pod evicted through the Eviction API (what
 *   `kubectl drain` does). The Deployment's replacement MUST land on another node, and its container MUST
 *   NOT find the marker there (the directory is empty as it sees it). A MUST be schedulable again afterwards
 *   (uncordoned by the test, and by its cleanup whatever happened), and a pod placed on A MUST still find
 *   the marker: the data did not move, it stayed behind. The node directories are removed after the test.
 * Not covered: PodDisruptionBudgets, `kubectl drain` itself (DaemonSets, emptyDir flags), local PVs.
 * Serial or disruptive: yes (@disruptive): it cordons a node, which every other test would feel, so it runs
 *   in the serial project, alone; on a cluster other than the local test bed only with --disruptive.
 * Requires: 2 schedulable nodes (on the local test bed a promise: missing, it fails), and Pod Security level
 *   privileged for hostPath; where the cluster refuses it (the namespace, or the Deployment's pods: its
 *   ReplicaFailure condition) the test is skipped with the admission message.
 * On purpose: KOC_STORAGE_SABOTAGE=1 (local test bed only) puts the hostPath directory under the test bed's
 *   CephFS mount (TESTBED_SHARED_MOUNT), which every node shares: the data really follows the pod, and the
 *   test fails on "the marker was written on <A> before the drain", the replacement on B having read it; A is
 *   still uncordoned afterwards. Elsewhere the switch is an error: no directory is known to be shared.
 *   Pod Security skip: a temporary edit labelling every test namespace baseline
 *   (helpers/framework/namespace.ts namespaceManifest: podSecurityLabels("baseline")) makes it skip with
 *   "Pod Security forbids ... violates PodSecurity \"baseline:latest\": hostPath volumes" (the Deployment's pods); a
 *   ValidatingAdmissionPolicy refusing namespaces labelled enforce=privileged, with the policy's message.
 */
import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, podSecurity, test } from "../../helpers/framework/fixtures.ts";
import type { Kube } from "../../helpers/framework/kube.ts";
import type { TestNamespace } from "../../helpers/framework/namespace.ts";
import { capability, step } from "../../helpers/framework/report.ts";
import { T } from "../../helpers/framework/timeouts.ts";
import { type Check, waitFor } from "../../helpers/framework/wait.ts";
import { apply } from "../../helpers/manifests/apply.ts";
import { hostDirRemovedAfterTest } from "../../helpers/manifests/host-path.ts";
import { cordon, uncordon } from "../../helpers/manifests/nodes.ts";
import { requireSchedulableNodes, TESTBED_SHARED_MOUNT, testbedFacts } from "../../helpers/manifests/prereq.ts";
import { deploymentAvailable, isPodReady, showPod } from "../../helpers/observe/conditions.ts";
import { newMarker, showView, startPodOn, storageSabotage, viewFile, writeFile } from "./node-data.ts";

podSecurity("privileged"); // hostPath volumes on the nodes

const SABOTAGE = storageSabotage();
const FILE = "/data/marker";

/** The one Ready pod of Deployment keeper, other than `replaced` (when given). */
function keeperPod(ns: TestNamespace, replaced?: string): Check<V1Pod[]> {
  return {
    observe: async () =>
      (await ns.kube.core.listNamespacedPod({ namespace: ns.name, labelSelector: "app=keeper" })).items,
    ok: (pods) => pods.length === 1 && pods.every((p) => isPodReady(p) && p.metadata?.name !== replaced),
    show: (pods) => pods.map(showPod).join("; ") || "no pods of keeper",
  };
}

/** The sabotage's hostPath root: a directory all nodes share, which only the local test bed's CephFS gives. */
async function sharedRootForSabotage(kube: Kube): Promise<string> {
  const facts = await testbedFacts(kube);
  if (facts?.cephfs?.state !== "ready")
    throw new Error(
      "KOC_STORAGE_SABOTAGE in hostpath-drain needs the local test bed's CephFS mount (state ready), to share the hostPath between nodes",
    );
  return TESTBED_SHARED_MOUNT;
}

describe("Storage: hostPath left behind by a drain", () => {
  test("should not follow the pod when its node is cordoned and the pod evicted @disruptive", async ({
    ns,
    kube,
    skip,
  }) => {
    await capability("Storage", "hostPath is node-local");
    const nodes = await requireSchedulableNodes({ kube, skip }, 2);
    const dir = hostDirRemovedAfterTest(ns, nodes, SABOTAGE ? await sharedRootForSabotage(kube) : undefined);
    const marker = newMarker(ns);

    const [first] = await step("arrange: a one-replica Deployment on a hostPath volume writes a marker", async () => {
      await apply(ns, "storage/hostpath-drain", { path: dir.path });
      await waitFor(`deployment ${ns.name}/keeper is available`, deploymentAvailable(ns, "keeper", 1), T.rollout);
      return waitFor(`one Ready pod of ${ns.name}/keeper`, keeperPod(ns), T.podStart);
    });
    const oldPod = first?.metadata?.name ?? "";
    const nodeA = first?.spec?.nodeName ?? "";
    await step(`arrange: pod ${oldPod} on ${nodeA} writes ${marker}`, () => writeFile(ns, oldPod, FILE, marker));

    await step(`act: cordon ${nodeA} and evict ${oldPod} through the Eviction API`, async () => {
      await cordon(ns, nodeA);
      await kube.core.createNamespacedPodEviction({
        name: oldPod,
        namespace: ns.name,
        body: { apiVersion: "policy/v1", kind: "Eviction", metadata: { name: oldPod, namespace: ns.name } },
      });
    });
    const [replacement] = await step("assert: the Deployment's replacement is Ready on another node", async () => {
      const pods = await waitFor(`a replacement of ${oldPod} is Ready`, keeperPod(ns, oldPod), T.rollout);
      expect(pods[0]?.spec?.nodeName, `node of the replacement ${pods[0]?.metadata?.name}`).not.toBe(nodeA);
      return pods;
    });
    const newPod = replacement?.metadata?.name ?? "";
    const nodeB = replacement?.spec?.nodeName ?? "";

    await step(`act: uncordon ${nodeA}`, () => uncordon(kube, nodeA));

    const moved = await step(`assert: ${newPod} on ${nodeB} does not find the marker`, async () => {
      const view = await viewFile(ns, newPod, nodeB, FILE);
      expect(view.content, `the marker was written on ${nodeA} before the drain; ${showView(view)}`).toBeUndefined();
      expect(view.listing, `directory ${dir.path} on ${nodeB} as the container sees it`).toBe("");
      return view;
    });

    await step(`assert: the marker is still on ${nodeA}, read by a pod placed there`, async () => {
      await startPodOn(ns, "storage/hostpath/pod.yaml", { pod: "on-a", node: nodeA, path: dir.path });
      const view = await viewFile(ns, "on-a", nodeA, FILE);
      expect(view.content, `left behind on ${nodeA} (the replacement saw: ${showView(moved)}); ${showView(view)}`).toBe(
        marker,
      );
    });
  });
});
