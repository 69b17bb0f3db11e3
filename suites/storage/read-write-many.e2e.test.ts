/**
 * Testname: Storage, a ReadWriteMany volume shared across nodes
 * Description: One ReadWriteMany claim, mounted at the same time by pods placed on different nodes (two, or
 *   three when the cluster has them): each pod writes its own file, and each pod MUST read every other pod's
 *   file with the content written on the other node. After one writer is deleted, a pod on another node MUST
 *   still read every file, the deleted pod's included. A class that accepts ReadWriteMany but keeps data on
 *   each node MUST make this test FAIL (never pass, never skip): the error names the node whose pod did not
 *   see the data. The class: `--rwx-storage-class NAME` / KOC_RWX_STORAGE_CLASS (it must exist), else one
 *   the cluster declares shared: annotation `k8s-ops-conformance/shares-across-nodes: "true"`, else a
 *   CephFS provisioner (helpers/manifests/storage-classes.ts); none: skipped with that reason, except on the
 *   local test bed, whose StorageClass cephfs `cluster:up` promises (with its own images): there it fails.
 * Not covered: ReadOnlyMany, file locking, consistency under concurrent writes to one file, throughput.
 * Serial or disruptive: no; the claim and pods live in the test's namespace.
 * Requires: Pod Security level privileged (the sabotage's hostPath, the cleanup pods); where the cluster
 *   refuses it (the namespace, or a pod) the test is skipped with the admission message.
 * On purpose: KOC_STORAGE_SABOTAGE=1 runs it on a StorageClass of its own whose one volume is a hostPath
 *   without node affinity, declared ReadWriteMany (every node mounts its own local directory): the test
 *   fails naming each node whose pod did not see the others' files. The hostPath directories are removed.
 *   Pod Security skip: a ValidatingAdmissionPolicy refusing namespaces labelled enforce=privileged makes
 *   it skip with the policy's message (its pods mount a claim, not a hostPath, so namespaces labelled
 *   baseline alone do not stop it).
 */
import { config } from "../../helpers/framework/config.ts";
import { describe, expect, podSecurity, test } from "../../helpers/framework/fixtures.ts";
import type { TestNamespace } from "../../helpers/framework/namespace.ts";
import { capability, log, step } from "../../helpers/framework/report.ts";
import { T } from "../../helpers/framework/timeouts.ts";
import { type Check, waitFor } from "../../helpers/framework/wait.ts";
import { apply } from "../../helpers/manifests/apply.ts";
import { hostDirRemovedAfterTest } from "../../helpers/manifests/host-path.ts";
import { requireSchedulableNodes } from "../../helpers/manifests/prereq.ts";
import { requireRwxClass } from "../../helpers/manifests/storage-classes.ts";
import { diagnoseClaims } from "../../helpers/observe/claim-diagnosis.ts";
import { claimPhase } from "../../helpers/observe/volumes.ts";
import {
  deletePod,
  type FileView,
  newMarker,
  showView,
  startPodOn,
  storageSabotage,
  viewFile,
  writeFile,
} from "./node-data.ts";

podSecurity("privileged"); // hostPath volumes on the nodes

const SABOTAGE = storageSabotage();
const M = "storage/read-write-many";

interface Sharer {
  pod: string;
  node: string;
  /** What this pod writes to /shared/<pod>. */
  content: string;
}

/** The class the claim uses: the sabotage class (hostPath, not shared), or the configured/detected one. */
async function storageClassFor(ns: TestNamespace, nodes: readonly string[], skip: (note?: string) => never) {
  if (SABOTAGE) {
    const dir = hostDirRemovedAfterTest(ns, nodes);
    await apply(ns, `${M}/sabotage`, { path: dir.path });
    return { name: `${ns.name}-hostpath-rwx`, why: "KOC_STORAGE_SABOTAGE: hostPath declared ReadWriteMany" };
  }
  return requireRwxClass({ kube: ns.kube, skip }, config().rwxStorageClass);
}

/** Every reader sees every writer's file with the writer's content; shows each miss by node. */
function everyoneSeesEveryone(ns: TestNamespace, readers: readonly Sharer[], writers: readonly Sharer[]) {
  const pairs = readers.flatMap((r) => writers.filter((w) => w.pod !== r.pod).map((w) => ({ reader: r, writer: w })));
  const check: Check<Array<{ reader: Sharer; writer: Sharer; view: FileView }>> = {
    observe: () =>
      Promise.all(
        pairs.map(async ({ reader, writer }) => ({
          reader,
          writer,
          view: await viewFile(ns, reader.pod, reader.node, `/shared/${writer.pod}`),
        })),
      ),
    ok: (seen) => seen.length > 0 && seen.every(({ writer, view }) => view.content === writer.content),
    show: (seen) =>
      seen
        .filter(({ writer, view }) => view.content !== writer.content)
        .map(
          ({ reader, writer, view }) =>
            `node ${reader.node}: pod ${reader.pod} did not see /shared/${writer.pod} written on node ${writer.node} (${showView(view)})`,
        )
        .join("; "),
  };
  return check;
}

describe.concurrent("Storage: ReadWriteMany across nodes", () => {
  test("should share one ReadWriteMany volume between pods on different nodes", async ({ ns, kube, skip }) => {
    await capability("Storage", "ReadWriteMany across nodes");
    const nodes = (await requireSchedulableNodes({ kube, skip }, 2)).slice(0, 3);
    const storageClass = await step("arrange: the StorageClass", () => storageClassFor(ns, nodes, skip));
    log(`StorageClass ${storageClass.name}: ${storageClass.why}`);

    const marker = newMarker(ns);
    const sharers: Sharer[] = nodes.map((node, i) => ({
      pod: `sharer-${i}`,
      node,
      content: `${marker} from node ${node}`,
    }));
    await step(
      `arrange: a ReadWriteMany claim on ${storageClass.name}, mounted by a pod on each of ${nodes.join(", ")}`,
      async () => {
        await apply(ns, `${M}/claim.yaml`, { storageClass: storageClass.name });
        await Promise.all(sharers.map(({ pod, node }) => startPodOn(ns, `${M}/pod.yaml`, { pod, node })));
        await waitFor(`claim ${ns.name}/shared is Bound`, claimPhase(ns, "shared", "Bound"), T.volumeBind, {
          diagnose: () => diagnoseClaims(ns, ["shared"]),
        });
      },
    );

    await step("act: each pod writes its own file", () =>
      Promise.all(sharers.map((s) => writeFile(ns, s.pod, `/shared/${s.pod}`, s.content))),
    );
    await step("assert: each pod reads every other pod's file, written on another node", () =>
      waitFor(
        `every pod of ${ns.name} reads the files the others wrote on ${nodes.join(", ")}`,
        everyoneSeesEveryone(ns, sharers, sharers),
        T.exec,
        { signal: ns.signal },
      ),
    );

    const [gone, ...staying] = sharers;
    expect(gone, "the first sharer").toBeDefined();
    if (gone === undefined) return;
    await step(`act: delete ${gone.pod} (node ${gone.node})`, () => deletePod(ns, gone.pod));
    await step(`assert: pods on ${staying.map((s) => s.node).join(", ")} still read every file`, () =>
      waitFor(
        `the remaining pods of ${ns.name} read every file, ${gone.pod}'s included`,
        everyoneSeesEveryone(ns, staying, sharers),
        T.exec,
        { signal: ns.signal },
      ),
    );
  });
});
