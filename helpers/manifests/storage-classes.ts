/**
 * Which StorageClass the ReadWriteMany scenario uses. A class that accepts ReadWriteMany claims does not
 * necessarily share data across nodes (a hostPath or local-path class accepts them and keeps each node's
 * data on that node), and the API has no field that says so. So a class is used only when:
 *   1. it is named by `--rwx-storage-class NAME` / KOC_RWX_STORAGE_CLASS (it must exist), else
 *   2. it carries the annotation `k8s-ops-conformance/shares-across-nodes: "true"`, else
 *   3. its provisioner is a CephFS provisioner (name containing "cephfs", e.g. cephfs.csi.ceph.com),
 *      unless the annotation says "false".
 * Among several candidates of one rule, the first by name. None: the scenario is skipped with the reason, except
 * on the local test bed, whose StorageClass `cephfs` (rule 3) is part of what `cluster:up` promises: there the
 * scenario fails, naming what is missing (prereq.ts prerequisiteVerdict).
 */
import type { V1StorageClass } from "@kubernetes/client-node";
import { prerequisiteMissing, type SkipContext, TESTBED_CEPHFS_CLASS } from "./prereq.ts";

export const SHARES_ACROSS_NODES = "k8s-ops-conformance/shares-across-nodes";
const CEPHFS_PROVISIONER = /cephfs/i;

export type RwxChoice = { name: string; why: string } | { skip: string } | { error: string };

function describeClasses(classes: readonly V1StorageClass[]): string {
  const shown = classes.map((sc) => {
    const flag = sc.metadata?.annotations?.[SHARES_ACROSS_NODES];
    return `${sc.metadata?.name} (${sc.provisioner}${flag === undefined ? "" : `, ${SHARES_ACROSS_NODES}=${flag}`})`;
  });
  return shown.join(", ") || "none";
}

/** Applies the rules above to the cluster's classes (pure, for unit tests). */
export function chooseRwxClass(classes: readonly V1StorageClass[], explicit: string | undefined): RwxChoice {
  const byName = [...classes].sort((a, b) => (a.metadata?.name ?? "").localeCompare(b.metadata?.name ?? ""));
  const flag = (sc: V1StorageClass): string | undefined => sc.metadata?.annotations?.[SHARES_ACROSS_NODES];
  if (explicit !== undefined) {
    if (byName.some((sc) => sc.metadata?.name === explicit)) {
      return { name: explicit, why: "named by --rwx-storage-class / KOC_RWX_STORAGE_CLASS" };
    }
    return {
      error: `--rwx-storage-class / KOC_RWX_STORAGE_CLASS names StorageClass "${explicit}", which does not exist; cluster has: ${describeClasses(byName)}`,
    };
  }
  const annotated = byName.find((sc) => flag(sc) === "true");
  if (annotated?.metadata?.name) {
    return { name: annotated.metadata.name, why: `annotated ${SHARES_ACROSS_NODES}: "true"` };
  }
  const cephfs = byName.find((sc) => CEPHFS_PROVISIONER.test(sc.provisioner) && flag(sc) !== "false");
  if (cephfs?.metadata?.name) return { name: cephfs.metadata.name, why: `CephFS provisioner ${cephfs.provisioner}` };
  return {
    skip: `no StorageClass is declared to share data across nodes (a CephFS provisioner, or the annotation ${SHARES_ACROSS_NODES}: "true"); name one with --rwx-storage-class. Cluster has: ${describeClasses(byName)}`,
  };
}

/**
 * The class to use, or a skip with the reason (a failure on the local test bed, which promises `cephfs`); an
 * explicitly named class that does not exist is an error.
 */
export async function requireRwxClass(
  ctx: SkipContext,
  explicit: string | undefined,
): Promise<{ name: string; why: string }> {
  const choice = chooseRwxClass((await ctx.kube.storage.listStorageClass()).items, explicit);
  if ("error" in choice) throw new Error(choice.error);
  if ("skip" in choice) {
    return prerequisiteMissing(ctx, { kind: "StorageClass", name: TESTBED_CEPHFS_CLASS.name }, choice.skip);
  }
  return choice;
}
