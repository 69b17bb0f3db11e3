import type { V1Node, V1StorageClass } from "@kubernetes/client-node";
import { describe, expect, test } from "vitest";
import type { Kube } from "../framework/kube.ts";
import { nodeUsability, requireSchedulableNodes, requireStorageClass, tolerates } from "./prereq.ts";

class Skipped extends Error {}
const skip = (note?: string): never => {
  throw new Skipped(note);
};

const node = (name: string, spec: V1Node["spec"] = {}, ready = true): V1Node => ({
  metadata: { name },
  spec,
  status: {
    conditions: [
      ready
        ? { type: "Ready", status: "True" }
        : {
            type: "Ready",
            status: "Unknown",
            reason: "NodeStatusUnknown",
            message: "Kubelet stopped posting node status.",
          },
    ],
  },
});
const CONTROL_PLANE = { key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" };
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
  test("should count only Ready, uncordoned nodes without a taint the pod does not tolerate, and say why", () => {
    const nodes = [
      node("w1"),
      node("cp", { taints: [CONTROL_PLANE] }),
      node("w2", { taints: [{ key: "node.kubernetes.io/unreachable", effect: "NoExecute" }] }, false),
      node("w3", { unschedulable: true }),
      node("w4", { taints: [{ key: "dedicated", value: "gpu", effect: "PreferNoSchedule" }] }),
    ];
    expect(nodeUsability(nodes)).toEqual({
      usable: ["w1", "w4"],
      unusable: [
        "cp: taint node-role.kubernetes.io/control-plane:NoSchedule",
        "w2: NotReady (Kubelet stopped posting node status), taint node.kubernetes.io/unreachable:NoExecute",
        "w3: cordoned (spec.unschedulable)",
      ],
    });
    expect(nodeUsability(nodes, [{ key: "node-role.kubernetes.io/control-plane", operator: "Exists" }]).usable).toEqual(
      ["cp", "w1", "w4"],
    );
  });

  test("should match tolerations as the scheduler does", () => {
    const taint = { key: "dedicated", value: "gpu", effect: "NoSchedule" };
    expect(tolerates({ key: "dedicated", value: "gpu" }, taint)).toBe(true);
    expect(tolerates({ key: "dedicated", operator: "Equal", value: "cpu" }, taint)).toBe(false);
    expect(tolerates({ key: "dedicated", operator: "Exists", effect: "NoExecute" }, taint)).toBe(false);
    expect(tolerates({ operator: "Exists" }, taint)).toBe(true);
    expect(tolerates({ key: "other", operator: "Exists" }, taint)).toBe(false);
  });

  test("should skip naming each unusable node when a tainted control plane leaves too few", async () => {
    const kube = kubeWith([node("cp", { taints: [CONTROL_PLANE] }), node("w1"), node("w2")]);
    await expect(requireSchedulableNodes({ kube, skip }, 3)).rejects.toThrowError(
      "needs 3 nodes a pod of this test can be scheduled on, cluster has 2 (w1, w2); unusable: cp: taint node-role.kubernetes.io/control-plane:NoSchedule",
    );
    await expect(requireSchedulableNodes({ kube, skip }, 2)).resolves.toEqual(["w1", "w2"]);
  });

  test("should skip naming a worker whose kubelet stopped", async () => {
    const kube = kubeWith([node("cp"), node("w1"), node("w2", {}, false)]);
    await expect(requireSchedulableNodes({ kube, skip }, 3)).rejects.toThrowError(
      "cluster has 2 (cp, w1); unusable: w2: NotReady (Kubelet stopped posting node status)",
    );
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
