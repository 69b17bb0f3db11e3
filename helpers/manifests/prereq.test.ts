import type { V1Node, V1StorageClass } from "@kubernetes/client-node";
import { describe, expect, test } from "vitest";
import type { Kube } from "../framework/kube.ts";
import { requireNodes, requireStorageClass } from "./prereq.ts";

class Skipped extends Error {}
const skip = (note?: string): never => {
  throw new Skipped(note);
};

const node = (name: string, ready = true): V1Node => ({
  metadata: { name },
  status: { conditions: [{ type: "Ready", status: ready ? "True" : "False" }] },
});
const sc = (name: string, provisioner: string, isDefault = false): V1StorageClass => ({
  metadata: { name, annotations: isDefault ? { "storageclass.kubernetes.io/is-default-class": "true" } : {} },
  provisioner,
});

function kubeWith(nodes: V1Node[], classes: V1StorageClass[] = []): Kube {
  return {
    core: { listNode: async () => ({ items: nodes }) },
    storage: { listStorageClass: async () => ({ items: classes }) },
  } as unknown as Kube;
}

describe("prerequisites", () => {
  test("should skip with the reason when there are too few Ready nodes", async () => {
    const kube = kubeWith([node("cp"), node("w1"), node("w2", false)]);
    await expect(requireNodes({ kube, skip }, 3)).rejects.toThrowError(
      "needs 3 Ready schedulable nodes, cluster has 2 (cp, w1, w2)",
    );
    await expect(requireNodes({ kube, skip }, 2)).resolves.toEqual(["cp", "w1"]);
  });

  test("should find the default StorageClass, or a named one, or one by provisioner", async () => {
    const kube = kubeWith([], [sc("standard", "rancher.io/local-path", true), sc("cephfs", "cephfs.csi.ceph.com")]);
    await expect(requireStorageClass({ kube, skip })).resolves.toBe("standard");
    await expect(requireStorageClass({ kube, skip }, { name: "cephfs" })).resolves.toBe("cephfs");
    await expect(requireStorageClass({ kube, skip }, { provisioner: /cephfs/ })).resolves.toBe("cephfs");
  });

  test("should skip with what exists when no StorageClass fits", async () => {
    const kube = kubeWith([], [sc("standard", "rancher.io/local-path", true)]);
    await expect(requireStorageClass({ kube, skip }, { provisioner: /cephfs/ })).rejects.toThrowError(
      "needs a default StorageClass with a provisioner matching /cephfs/; cluster has: standard (rancher.io/local-path, default)",
    );
  });
});
