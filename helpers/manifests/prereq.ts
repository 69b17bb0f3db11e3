/**
 * Prerequisites: when the cluster cannot run a scenario (too few nodes, no suitable StorageClass), the test
 * is SKIPPED with the reason, which the console, the Allure result and the JUnit XML all show. It never
 * passes silently and never fails for a reason that is not the behaviour under test.
 *
 *   test("should ...", async ({ kube, skip, ns }) => {
 *     const nodes = await requireSchedulableNodes({ kube, skip }, 3);   // names of the usable nodes
 */
import type { V1Node, V1StorageClass, V1Taint, V1Toleration } from "@kubernetes/client-node";
import type { Kube } from "../framework/kube.ts";
import { log } from "../framework/report.ts";

export interface SkipContext {
  kube: Kube;
  /** vitest's context.skip: throws, ending the test as skipped with `note` as the reason. */
  skip: (note?: string) => never;
}

/** Skips the test with `reason` (logged too, so it shows under the test in the console). */
export function skipBecause(ctx: Pick<SkipContext, "skip">, reason: string): never {
  log(`skipped: ${reason}`);
  return ctx.skip(reason);
}

/** Why a pod could not be scheduled on a node; empty when it could. */
export function unusableBecause(node: V1Node, tolerations: readonly V1Toleration[] = []): string[] {
  const why: string[] = [];
  const ready = node.status?.conditions?.find((c) => c.type === "Ready");
  if (ready?.status !== "True") {
    const detail =
      ready === undefined ? "no Ready condition" : ready.message || ready.reason || `Ready=${ready.status}`;
    why.push(`NotReady (${detail.replace(/\.$/, "")})`);
  }
  if (node.spec?.unschedulable) why.push("cordoned (spec.unschedulable)");
  for (const taint of node.spec?.taints ?? []) {
    if (taint.effect !== "NoSchedule" && taint.effect !== "NoExecute") continue;
    if (tolerations.some((t) => tolerates(t, taint))) continue;
    why.push(`taint ${taint.key}${taint.value ? `=${taint.value}` : ""}:${taint.effect}`);
  }
  return why;
}

/** The scheduler's rule: a toleration matches a taint's key (any key with an empty key and Exists), value and effect. */
export function tolerates(toleration: V1Toleration, taint: V1Taint): boolean {
  if (toleration.effect && toleration.effect !== taint.effect) return false;
  if (toleration.operator === "Exists") return !toleration.key || toleration.key === taint.key;
  return toleration.key === taint.key && (toleration.value ?? "") === (taint.value ?? "");
}

export interface NodeUsability {
  /** Names of the nodes a pod of the test could be scheduled on, sorted. */
  usable: string[];
  /** `k8s-worker2: NotReady (Kubelet stopped posting node status)` for each other node. */
  unusable: string[];
}

/** Splits `nodes` into those a pod with `tolerations` could be scheduled on (Ready, not cordoned, no untolerated taint) and the rest, with why. */
export function nodeUsability(nodes: readonly V1Node[], tolerations: readonly V1Toleration[] = []): NodeUsability {
  const usable: string[] = [];
  const unusable: string[] = [];
  for (const node of [...nodes].sort((a, b) => (a.metadata?.name ?? "").localeCompare(b.metadata?.name ?? ""))) {
    const name = node.metadata?.name ?? "?";
    const why = unusableBecause(node, tolerations);
    if (why.length === 0) usable.push(name);
    else unusable.push(`${name}: ${why.join(", ")}`);
  }
  return { usable, unusable };
}

/**
 * At least `count` nodes a pod of the test (carrying `tolerations`, none by default) could be scheduled on:
 * Ready, not cordoned, and no NoSchedule/NoExecute taint it does not tolerate. Returns their names; skips
 * naming every unusable node and why. Every test of a file that needs these nodes calls it, so they agree.
 */
export async function requireSchedulableNodes(
  ctx: SkipContext,
  count: number,
  tolerations: readonly V1Toleration[] = [],
): Promise<string[]> {
  const { usable, unusable } = nodeUsability((await ctx.kube.core.listNode()).items, tolerations);
  if (usable.length < count) {
    skipBecause(
      ctx,
      `needs ${count} nodes a pod of this test can be scheduled on, cluster has ${usable.length}` +
        ` (${usable.join(", ") || "none"}); unusable: ${unusable.join("; ") || "none"}`,
    );
  }
  return usable;
}

export interface StorageClassWanted {
  /** A StorageClass with this name; otherwise the cluster's default class. */
  name?: string;
  /** Only classes whose provisioner matches, e.g. /cephfs/ for ReadWriteMany. */
  provisioner?: RegExp;
}

function isDefault(sc: V1StorageClass): boolean {
  return sc.metadata?.annotations?.["storageclass.kubernetes.io/is-default-class"] === "true";
}

/** A StorageClass as described; returns its name. Skips when there is none. */
export async function requireStorageClass(ctx: SkipContext, wanted: StorageClassWanted = {}): Promise<string> {
  const classes = (await ctx.kube.storage.listStorageClass()).items;
  const match = classes.find(
    (sc) =>
      (wanted.name === undefined
        ? wanted.provisioner !== undefined || isDefault(sc)
        : sc.metadata?.name === wanted.name) &&
      (wanted.provisioner === undefined || wanted.provisioner.test(sc.provisioner)),
  );
  if (match?.metadata?.name === undefined) {
    const what = wanted.name ? `StorageClass "${wanted.name}"` : "a default StorageClass";
    const how = wanted.provisioner ? ` with a provisioner matching ${wanted.provisioner}` : "";
    const have = classes.map((sc) => `${sc.metadata?.name} (${sc.provisioner}${isDefault(sc) ? ", default" : ""})`);
    return skipBecause(ctx, `needs ${what}${how}; cluster has: ${have.join(", ") || "none"}`);
  }
  return match.metadata.name;
}
