/**
 * Testname: Storage, dynamic provisioning on the default StorageClass
 * Description: A claim without storageClassName MUST get the cluster's default class. When that class binds
 *   WaitForFirstConsumer (kind's `standard`, local-path), the claim MUST stay Pending while no pod uses it,
 *   with the event WaitForFirstConsumer "waiting for first consumer to be created before binding": that is
 *   the documented behaviour, not a failure. Once a pod uses it, a volume MUST be provisioned and bound
 *   (claim and volume Bound to each other, the volume's reclaim policy the class's), and the pod MUST be able
 *   to write and read a file on it. With reclaim policy Delete, the volume MUST be gone after the claim is
 *   deleted. (A class that binds Immediately skips the Pending part, saying so; one with Retain is checked
 *   for Released and the volume deleted by the test.)
 * Not covered: volume expansion, snapshots, storage capacity tracking, a named (non-default) class.
 * Serial or disruptive: no; the claim lives in the test's namespace (the provisioned volume goes with it).
 * On purpose: KOC_STORAGE_SABOTAGE=1 starts the consumer pod before the Pending hold, so the claim binds
 *   inside the window and the hold is violated.
 */
import { describe, expect, podSecurity, test } from "../../helpers/framework/fixtures.ts";
import { capability, log, step } from "../../helpers/framework/report.ts";
import { T } from "../../helpers/framework/timeouts.ts";
import { holdsFor, waitFor } from "../../helpers/framework/wait.ts";
import { apply } from "../../helpers/manifests/apply.ts";
import { requireStorageClass } from "../../helpers/manifests/prereq.ts";
import { diagnoseClaims, diagnosePodClaims } from "../../helpers/observe/claim-diagnosis.ts";
import { podReady } from "../../helpers/observe/conditions.ts";
import { claimEvent, claimPhase, volumeGone, volumePhase } from "../../helpers/observe/volumes.ts";
import { deletePodThenClaim, newMarker, storageSabotage, writeFile } from "./node-data.ts";

podSecurity("baseline"); // root images (busybox), no host access

const SABOTAGE = storageSabotage();
const M = "storage/dynamic-provisioning";
const WAITING = "waiting for first consumer to be created before binding";

describe.concurrent("Storage: dynamic provisioning", () => {
  test("should provision a volume on the default StorageClass for the claim's first consumer, and delete it with the claim", async ({
    ns,
    kube,
    skip,
  }) => {
    await capability("Storage", "Dynamic provisioning");
    const className = await requireStorageClass({ kube, skip });
    const storageClass = await kube.storage.readStorageClass({ name: className });
    const waitsForConsumer = storageClass.volumeBindingMode === "WaitForFirstConsumer";
    const reclaim = storageClass.reclaimPolicy ?? "Delete";

    await step(
      `arrange: a 100Mi claim without a class (default: ${className}, ${storageClass.provisioner})`,
      async () => {
        const [claim] = await apply(ns, `${M}/claim.yaml`);
        const stored = await kube.core.readNamespacedPersistentVolumeClaim({ name: "data", namespace: ns.name });
        expect(stored.spec?.storageClassName, `class of claim ${ns.name}/data, given none`).toBe(className);
        return claim;
      },
    );

    if (waitsForConsumer) {
      await step("assert: Pending with WaitForFirstConsumer while no pod uses it (not a failure)", async () => {
        await waitFor(
          `claim ${ns.name}/data has event WaitForFirstConsumer "${WAITING}"`,
          claimEvent(ns, "data", "WaitForFirstConsumer", WAITING),
          T.volumeBind,
        );
        if (SABOTAGE) await apply(ns, `${M}/pod.yaml`);
        await holdsFor(`claim ${ns.name}/data stays Pending`, claimPhase(ns, "data", "Pending"), T.holdWindow, {
          interval: 1_000,
          signal: ns.signal,
        });
      });
    } else {
      log(`StorageClass ${className} binds ${storageClass.volumeBindingMode}: no Pending phase to check`);
    }

    const marker = newMarker(ns);
    const volume = await step("act: a pod uses the claim; assert: bound, writable", async () => {
      await apply(ns, `${M}/pod.yaml`);
      await waitFor(`pod ${ns.name}/consumer is Ready`, podReady(ns, "consumer"), T.volumeBind + T.podStart, {
        diagnose: () => diagnosePodClaims(ns, "consumer"),
      });
      const claim = await waitFor(`claim ${ns.name}/data is Bound`, claimPhase(ns, "data", "Bound"), T.volumeBind, {
        diagnose: () => diagnoseClaims(ns, ["data"]),
      });
      const name = claim.spec?.volumeName ?? "";
      if (reclaim !== "Delete")
        ns.defer(`delete volume ${name}`, () => kube.core.deletePersistentVolume({ name }).then(() => {}));
      const pv = await waitFor(`volume ${name} is Bound`, volumePhase(kube, name, "Bound"), T.volumeBind);
      expect(pv.spec?.claimRef, `claimRef of volume ${name}`).toMatchObject({ namespace: ns.name, name: "data" });
      expect(pv.spec?.persistentVolumeReclaimPolicy, `reclaim policy of ${name}`).toBe(reclaim);
      await writeFile(ns, "consumer", "/data/marker", marker);
      return name;
    });

    await step("act: delete the pod, then the claim", () => deletePodThenClaim(ns, "consumer", "data"));
    if (reclaim === "Delete") {
      await step(`assert: volume ${volume} is deleted with its claim (reclaim Delete)`, () =>
        waitFor(`volume ${volume} is gone`, volumeGone(kube, volume), T.volumeBind),
      );
    } else {
      await step(`assert: volume ${volume} is Released (reclaim ${reclaim})`, () =>
        waitFor(`volume ${volume} is Released`, volumePhase(kube, volume, "Released"), T.volumeBind),
      );
    }
  });
});
