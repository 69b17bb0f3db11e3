/**
 * Prerequisites: when the cluster cannot run a scenario (too few nodes, no suitable StorageClass), the test
 * is SKIPPED with the reason, which the console, the Allure result and the JUnit XML all show. It never
 * passes silently and never fails for a reason that is not the behaviour under test.
 *
 *   test("should ...", async ({ kube, skip, ns }) => {
 *     await requireNodes({ kube, skip }, 3);
 */
import type { V1StorageClass } from "@kubernetes/client-node";
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

/** At least `count` schedulable, Ready nodes; returns the names of all of them, sorted. */
export async function requireNodes(ctx: SkipContext, count: number): Promise<string[]> {
  const nodes = (await ctx.kube.core.listNode()).items;
  const usable = nodes.filter(
    (n) => !n.spec?.unschedulable && n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
  );
  if (usable.length < count) {
    skipBecause(
      ctx,
      `needs ${count} Ready schedulable nodes, cluster has ${usable.length} (${nodes.map((n) => n.metadata?.name).join(", ")})`,
    );
  }
  return usable.map((n) => n.metadata?.name ?? "").sort();
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
