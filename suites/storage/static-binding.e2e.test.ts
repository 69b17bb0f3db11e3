/**
 * Testname: Storage, static PersistentVolume and claim binding
 * Description: A 1Gi ReadWriteOnce hostPath PersistentVolume, labelled for this test only, and a 500Mi claim
 *   selecting it by that label (storageClassName "") MUST bind to each other, one to one: both phases Bound,
 *   the volume's claimRef naming the claim, the claim's volumeName naming the volume and its capacity the
 *   volume's 1Gi. A second claim selecting the same volume MUST stay Pending, with the PV controller's event
 *   FailedBinding "no persistent volumes available for this claim and no storage class is set" (what
 *   `kubectl describe pvc` shows). A claim no volume can satisfy, by size (2Gi) or by access mode
 *   (ReadWriteMany), MUST stay Pending with the same event, and the volume Available. With reclaim policy
 *   Retain, after the claim is deleted the volume MUST become and stay Released, still naming the claim, and the
 *   data written through it MUST still be on its node.
 * Not covered: dynamic provisioning (dynamic-provisioning.e2e.test.ts), Recycle, pre-bound volumes
 *   (spec.volumeName / claimRef set up front), volume expansion.
 * Serial or disruptive: no; each test makes its own volumes, named after its namespace and selected by a
 *   label only its own claims carry, so parallel tests cannot bind each other's.
 * Requires: a schedulable node (on the local test bed a promise: missing, it fails), and Pod Security level
 *   privileged for the pods that read the node's directory; where the cluster refuses it (the namespace, or a
 *   pod) the test is skipped with the admission message (the first two tests start no pod).
 * On purpose: KOC_STORAGE_SABOTAGE=1 labels the volume for no one (the first claim stays Pending: timeout),
 *   makes the "unsatisfiable" claim fit (it binds: hold violated), and gives the retained volume reclaim
 *   policy Delete (it does not stay Released: it becomes Failed or is deleted).
 *   Pod Security skip: a temporary edit labelling every test namespace baseline
 *   (helpers/framework/namespace.ts namespaceManifest: podSecurityLabels("baseline")) makes it skip with
 *   "Pod Security forbids ... violates PodSecurity \"baseline:latest\": hostPath volumes" (the reader pod); a
 *   ValidatingAdmissionPolicy refusing namespaces labelled enforce=privileged, with the policy's message.
 */
import { describe, expect, podSecurity, test } from "../../helpers/framework/fixtures.ts";
import type { TestNamespace } from "../../helpers/framework/namespace.ts";
import { capability, step } from "../../helpers/framework/report.ts";
import { T } from "../../helpers/framework/timeouts.ts";
import { holdsFor, waitFor } from "../../helpers/framework/wait.ts";
import { apply } from "../../helpers/manifests/apply.ts";
import { hostDirRemovedAfterTest } from "../../helpers/manifests/host-path.ts";
import { requireSchedulableNodes } from "../../helpers/manifests/prereq.ts";
import { diagnoseClaims } from "../../helpers/observe/claim-diagnosis.ts";
import { claimEvent, claimPhase, volumePhase } from "../../helpers/observe/volumes.ts";
import {
  deletePodThenClaim,
  newMarker,
  showView,
  startPodOn,
  storageSabotage,
  viewFile,
  writeFile,
} from "./node-data.ts";

podSecurity("privileged"); // hostPath volumes on the nodes

const SABOTAGE = storageSabotage();
const M = "storage/static-binding";
/** What the PV controller says about a claim without a class that no volume fits (pv_controller.go). */
const NO_VOLUME = "no persistent volumes available for this claim and no storage class is set";

interface VolumeWanted {
  reclaim: "Retain" | "Delete";
  /** The label value claims select on: the test's namespace, unless sabotaged. */
  labelledFor: string;
}

/**
 * A 1Gi ReadWriteOnce hostPath volume on the first usable node, its directory removed after the test;
 * returns the node, the directory and the volume's name.
 */
async function arrangeVolume(ns: TestNamespace, skip: (note?: string) => never, wanted: VolumeWanted) {
  await capability("Storage", "PersistentVolume binding");
  const [node = ""] = await requireSchedulableNodes({ kube: ns.kube, skip }, 1);
  const dir = hostDirRemovedAfterTest(ns, [node]);
  const labels = (await ns.kube.core.readNode({ name: node })).metadata?.labels ?? {};
  const hostname = labels["kubernetes.io/hostname"] ?? node;
  const values = { pv: "one", capacity: "1Gi", path: dir.path, hostname, volumeFor: wanted.labelledFor };
  await step(`arrange: a 1Gi ReadWriteOnce ${wanted.reclaim} volume on ${node}, labelled for this test`, () =>
    apply(ns, `${M}/pv.yaml`, { ...values, reclaim: wanted.reclaim }),
  );
  return { node, dir, volume: `${ns.name}-one` };
}

function claim(ns: TestNamespace, name: string, size: string, accessMode = "ReadWriteOnce") {
  return apply(ns, `${M}/claim.yaml`, { claim: name, size, accessMode });
}

/** The claim stays Pending, with the PV controller's event saying no volume is available. */
async function staysPending(ns: TestNamespace, name: string): Promise<void> {
  await waitFor(
    `claim ${ns.name}/${name} has event FailedBinding "${NO_VOLUME}"`,
    claimEvent(ns, name, "FailedBinding", NO_VOLUME),
    T.volumeBind,
    { signal: ns.signal },
  );
  await holdsFor(`claim ${ns.name}/${name} stays Pending`, claimPhase(ns, name, "Pending"), T.holdWindow, {
    interval: 1_000,
    signal: ns.signal,
  });
}

describe.concurrent("Storage: static PersistentVolume binding", () => {
  test("should bind a 500Mi claim 1:1 to the 1Gi volume it selects, and leave a second claim Pending", async ({
    ns,
    kube,
    skip,
  }) => {
    const labelledFor = SABOTAGE ? "no-one" : ns.name;
    const { volume } = await arrangeVolume(ns, skip, { reclaim: "Retain", labelledFor });

    await step("act: claim 500Mi selecting it", () => claim(ns, "first", "500Mi"));
    const bound = await step("assert: the claim is Bound to that volume, with its 1Gi", async () => {
      const c = await waitFor(`claim ${ns.name}/first is Bound`, claimPhase(ns, "first", "Bound"), T.volumeBind, {
        diagnose: () => diagnoseClaims(ns, ["first"]),
      });
      expect(c.spec?.volumeName, `volumeName of claim ${ns.name}/first`).toBe(volume);
      expect(c.status?.capacity?.storage, `capacity of claim ${ns.name}/first`).toBe("1Gi");
      return c;
    });
    await step("assert: the volume is Bound, its claimRef naming the claim", async () => {
      const pv = await waitFor(`volume ${volume} is Bound`, volumePhase(kube, volume, "Bound"), T.volumeBind);
      expect(pv.spec?.claimRef, `claimRef of volume ${volume}`).toMatchObject({
        namespace: ns.name,
        name: "first",
        uid: bound.metadata?.uid,
      });
    });

    await step("act: a second claim selects the same volume", () => claim(ns, "second", "500Mi"));
    await step(`assert: it stays Pending with FailedBinding (held ${T.holdWindow / 1000}s)`, () =>
      staysPending(ns, "second"),
    );
    const pv = await kube.core.readPersistentVolume({ name: volume });
    expect(pv.spec?.claimRef?.name, `volume ${volume} still belongs to the first claim`).toBe("first");
  });

  test("should keep a claim no volume can satisfy Pending, with the event that says why", async ({
    ns,
    kube,
    skip,
  }) => {
    const { volume } = await arrangeVolume(ns, skip, { reclaim: "Retain", labelledFor: ns.name });

    await step("act: claim 2Gi (more than the volume has) and ReadWriteMany (a mode it lacks)", async () => {
      await claim(ns, "too-big", SABOTAGE ? "500Mi" : "2Gi");
      await claim(ns, "wrong-mode", "500Mi", "ReadWriteMany");
    });
    await step(`assert: both stay Pending with FailedBinding (held ${T.holdWindow / 1000}s)`, () =>
      Promise.all([staysPending(ns, "too-big"), staysPending(ns, "wrong-mode")]),
    );
    await step("assert: the volume is still Available", () =>
      waitFor(`volume ${volume} is Available`, volumePhase(kube, volume, "Available"), T.apiCall),
    );
  });

  test("should leave a Retain volume Released after its claim is deleted, its data still on the node", async ({
    ns,
    kube,
    skip,
  }) => {
    const reclaim = SABOTAGE ? "Delete" : "Retain";
    const { node, dir, volume } = await arrangeVolume(ns, skip, { reclaim, labelledFor: ns.name });
    const marker = newMarker(ns);
    await step("arrange: a claim binds it, a pod writes a marker through it", async () => {
      await claim(ns, "data", "500Mi");
      await waitFor(`claim ${ns.name}/data is Bound`, claimPhase(ns, "data", "Bound"), T.volumeBind, {
        diagnose: () => diagnoseClaims(ns, ["data"]),
      });
      await startPodOn(ns, `${M}/pod.yaml`, { pod: "writer", node, claim: "data" });
      await writeFile(ns, "writer", "/data/marker", marker);
    });

    await step("act: delete the pod, then the claim", () => deletePodThenClaim(ns, "writer", "data"));
    await step(
      `assert: the volume is Released, stays so (held ${T.holdWindow / 1000}s), still naming the claim`,
      async () => {
        await waitFor(`volume ${volume} is Released`, volumePhase(kube, volume, "Released"), T.volumeBind);
        const pv = await holdsFor(
          `volume ${volume} stays Released`,
          volumePhase(kube, volume, "Released"),
          T.holdWindow,
          {
            interval: 1_000,
            signal: ns.signal,
          },
        );
        expect(pv.spec?.claimRef?.name, `claimRef of volume ${volume}`).toBe("data");
      },
    );
    await step(`assert: the data is still on ${node}`, async () => {
      await startPodOn(ns, "storage/hostpath/pod.yaml", { pod: "reader", node, path: dir.path });
      const view = await viewFile(ns, "reader", node, "/data/marker");
      expect(view.content, `written through volume ${volume} before its claim was deleted; ${showView(view)}`).toBe(
        marker,
      );
    });
  });
});
