/**
 * Testname: Storage, hostPath data stays on the node that wrote it
 * Description: A pod placed on node A writes a unique marker into a hostPath directory unique to the test.
 *   The pod is deleted and recreated on node B: there the container MUST NOT find the marker (the directory
 *   is empty as the container sees it). Recreated on node A, the container MUST find the marker again,
 *   unchanged. This is the inverse of upstream's "retain data across pod recreation on a different node":
 *   hostPath is not storage that moves with a pod. The node directories are removed after the test, also
 *   when it failed (a cleanup pod on each node).
 * Not covered: the scheduler moving the pod (hostpath-drain.disruptive.e2e.test.ts), hostPath types other
 *   than DirectoryOrCreate, subPath.
 * Serial or disruptive: no; pods are placed by node affinity, nothing cluster-scoped changes.
 * Requires: 2 schedulable nodes (on the local test bed a promise: missing, it fails), and Pod Security level
 *   privileged for hostPath; where the cluster refuses it (the namespace, or the pods) the test is skipped with
 *   the admission message.
 * On purpose: KOC_STORAGE_SABOTAGE=1 places the "node B" pod on node A as well, so it finds the marker and
 *   the test fails naming the node and the content it saw.
 *   Pod Security skip: a temporary edit labelling every test namespace baseline
 *   (helpers/framework/namespace.ts namespaceManifest: podSecurityLabels("baseline")) makes it skip with
 *   "Pod Security forbids ... violates PodSecurity \"baseline:latest\": hostPath volumes" (the pods); a
 *   ValidatingAdmissionPolicy refusing namespaces labelled enforce=privileged, with the policy's message.
 */
import { describe, expect, podSecurity, test } from "../../helpers/framework/fixtures.ts";
import { capability, step } from "../../helpers/framework/report.ts";
import { hostDirRemovedAfterTest } from "../../helpers/manifests/host-path.ts";
import { requireSchedulableNodes } from "../../helpers/manifests/prereq.ts";
import { deletePod, newMarker, showView, startPodOn, storageSabotage, viewFile, writeFile } from "./node-data.ts";

podSecurity("privileged"); // hostPath volumes on the nodes

const POD = "storage/hostpath/pod.yaml";
const SABOTAGE = storageSabotage();

describe.concurrent("Storage: hostPath is node-local", () => {
  test("should not show a marker written on node A to a pod recreated on node B, and show it again on A", async ({
    ns,
    kube,
    skip,
  }) => {
    await capability("Storage", "hostPath is node-local");
    const [nodeA = "", nodeB = ""] = await requireSchedulableNodes({ kube, skip }, 2);
    const elsewhere = SABOTAGE ? nodeA : nodeB;
    const dir = hostDirRemovedAfterTest(ns, [nodeA, nodeB]);
    const file = "/data/marker";
    const marker = newMarker(ns);

    await step(`arrange: a pod on ${nodeA} writes marker ${marker} to hostPath ${dir.path}`, async () => {
      await startPodOn(ns, POD, { pod: "writer", node: nodeA, path: dir.path });
      await writeFile(ns, "writer", file, marker);
    });

    await step("act: delete the pod", () => deletePod(ns, "writer"));

    const onB = await step(`act: recreate it on ${nodeB}`, async () => {
      await startPodOn(ns, POD, { pod: "elsewhere", node: elsewhere, path: dir.path });
      return viewFile(ns, "elsewhere", elsewhere, file);
    });
    await step(`assert: on ${nodeB} the container does not find the marker and the directory is empty`, () => {
      expect(onB.content, `the marker was written on ${nodeA}; ${showView(onB)}`).toBeUndefined();
      expect(onB.listing, `directory ${dir.path} on ${nodeB} as the container sees it`).toBe("");
    });

    await step("act: delete it", () => deletePod(ns, "elsewhere"));
    const backOnA = await step(`act: recreate it on ${nodeA}`, async () => {
      await startPodOn(ns, POD, { pod: "back", node: nodeA, path: dir.path });
      return viewFile(ns, "back", nodeA, file);
    });
    await step(`assert: on ${nodeA} the container finds the marker again`, () => {
      expect(backOnA.content, `the marker written on ${nodeA}; ${showView(backOnA)}`).toBe(marker);
    });
  });
});
