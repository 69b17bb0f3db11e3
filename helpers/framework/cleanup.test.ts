import { ApiException, type KubernetesObject } from "@kubernetes/client-node";
import { describe, expect, test } from "vitest";
import { sweepManaged } from "./cleanup.ts";
import type { Kube } from "./kube.ts";

const forbidden = (verb: string, resource: string): ApiException<unknown> =>
  new ApiException(
    403,
    "Forbidden",
    {
      reason: "Forbidden",
      message: `${resource} is forbidden: User "system:serviceaccount:koc-rbac:viewer" cannot ${verb} resource "${resource}"`,
    },
    {},
  );
const notFound = (): ApiException<unknown> => new ApiException(404, "Not Found", { reason: "NotFound" }, {});

const HOUR = 3_600_000;

/**
 * A cluster stand-in for `kube.objects`: what each kind lists (or the error it answers), which deletes
 * fail, and objects that disappear once deleted (or stay, with finalizers).
 */
function cluster(options: {
  objects: Array<{ kind: string; name: string; ageMs?: number; finalizers?: string[] }>;
  listErrors?: Record<string, ApiException<unknown>>;
  deleteErrors?: Record<string, ApiException<unknown>>;
  /** Objects that stay after their delete (`Kind/name`). */
  sticky?: string[];
}): { kube: Kube; selectors: Set<string>; deleteCalls: string[] } {
  const present = new Map(options.objects.map((o) => [`${o.kind}/${o.name}`, o]));
  const selectors = new Set<string>();
  const deleteCalls: string[] = [];
  const objects = {
    list: async (_apiVersion: string, kind: string, ...rest: unknown[]) => {
      selectors.add(String(rest[5]));
      const error = options.listErrors?.[kind];
      if (error) throw error;
      const items = [...present.values()]
        .filter((o) => o.kind === kind)
        .map((o) => ({
          metadata: {
            name: o.name,
            creationTimestamp: new Date(Date.now() - (o.ageMs ?? HOUR)),
            finalizers: o.finalizers,
          },
        }));
      return { items };
    },
    delete: async (object: KubernetesObject) => {
      const name = `${object.kind}/${object.metadata?.name}`;
      deleteCalls.push(name);
      const error = options.deleteErrors?.[name];
      if (error) throw error;
      if (!present.has(name)) throw notFound();
      if (!options.sticky?.includes(name)) present.delete(name);
      return {};
    },
  };
  return { kube: { objects } as unknown as Kube, selectors, deleteCalls };
}

describe("sweepManaged", () => {
  test("should delete every managed object of the run and wait until it is gone", async () => {
    const { kube, selectors, deleteCalls } = cluster({
      objects: [
        { kind: "Namespace", name: "koc-a" },
        { kind: "StorageClass", name: "koc-sc" },
      ],
    });
    const result = await sweepManaged(kube, { runId: "r1", timeout: 5_000 });
    expect(result).toEqual({
      deleted: ["Namespace/koc-a", "StorageClass/koc-sc"],
      remaining: [],
      unlisted: [],
      undeleted: [],
    });
    expect(deleteCalls).toEqual(["Namespace/koc-a", "StorageClass/koc-sc"]);
    expect([...selectors]).toEqual([
      "app.kubernetes.io/managed-by=k8s-ops-conformance,k8s-ops-conformance/run-id=r1,!k8s-ops-conformance/kept",
    ]);
  });

  test("should leave objects younger than olderThanMs alone", async () => {
    const { kube, deleteCalls } = cluster({
      objects: [
        { kind: "Namespace", name: "koc-old", ageMs: 2 * HOUR },
        { kind: "Namespace", name: "koc-running", ageMs: 60_000 },
      ],
    });
    const result = await sweepManaged(kube, { timeout: 5_000, olderThanMs: HOUR });
    expect(result.deleted).toEqual(["Namespace/koc-old"]);
    expect(deleteCalls).toEqual(["Namespace/koc-old"]);
  });

  test("should pass over kinds the cluster does not serve (404)", async () => {
    const { kube } = cluster({
      objects: [{ kind: "Namespace", name: "koc-a" }],
      listErrors: { CustomResourceDefinition: notFound() },
    });
    const result = await sweepManaged(kube, { timeout: 5_000 });
    expect(result).toMatchObject({ deleted: ["Namespace/koc-a"], unlisted: [], undeleted: [] });
  });

  test("should report a kind it may not list (403) with the error, never as nothing to delete", async () => {
    const { kube } = cluster({
      objects: [{ kind: "Namespace", name: "koc-a" }],
      listErrors: { StorageClass: forbidden("list", "storageclasses") },
    });
    const result = await sweepManaged(kube, { timeout: 5_000 });
    expect(result.deleted).toEqual(["Namespace/koc-a"]);
    expect(result.unlisted).toEqual([
      'StorageClass (storage.k8s.io/v1): 403 Forbidden: storageclasses is forbidden: User "system:serviceaccount:koc-rbac:viewer" cannot list resource "storageclasses"',
    ]);
  });

  test("should report an object it may not delete (403) at once, without waiting for it to go", async () => {
    const { kube } = cluster({
      objects: [
        { kind: "Namespace", name: "koc-a" },
        { kind: "Namespace", name: "koc-b" },
      ],
      deleteErrors: { "Namespace/koc-b": forbidden("delete", "namespaces") },
    });
    const started = Date.now();
    const result = await sweepManaged(kube, { timeout: 60_000 });
    expect(result.deleted).toEqual(["Namespace/koc-a"]);
    expect(result.undeleted).toEqual([
      'Namespace/koc-b: 403 Forbidden: namespaces is forbidden: User "system:serviceaccount:koc-rbac:viewer" cannot delete resource "namespaces"',
    ]);
    expect(result.remaining).toEqual([]);
    expect(Date.now() - started, "ms spent").toBeLessThan(30_000);
  });

  test("should name what is still there at the deadline, with its finalizers", async () => {
    const { kube } = cluster({
      objects: [{ kind: "PersistentVolume", name: "koc-pv", finalizers: ["kubernetes.io/pv-protection"] }],
      sticky: ["PersistentVolume/koc-pv"],
    });
    const result = await sweepManaged(kube, { timeout: 1_500 });
    expect(result.deleted).toEqual(["PersistentVolume/koc-pv"]);
    expect(result.remaining).toEqual(["PersistentVolume/koc-pv (finalizers: kubernetes.io/pv-protection)"]);
  });
});
