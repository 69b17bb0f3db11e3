import { describe, expect, test } from "vitest";
import { cniFact, nodeFacts, storageFacts } from "./cluster-facts.ts";

describe("cluster facts", () => {
  test("should describe each node's kubelet, OS, kernel and runtime", () => {
    const node = {
      metadata: { name: "w1" },
      status: {
        nodeInfo: {
          kubeletVersion: "v1.34.12",
          osImage: "Debian GNU/Linux 12",
          kernelVersion: "6.1.0",
          containerRuntimeVersion: "containerd://2.1.4",
        },
      },
    };
    expect(nodeFacts([node as never])).toEqual({
      "node.w1": "kubelet v1.34.12, Debian GNU/Linux 12, kernel 6.1.0, containerd://2.1.4",
    });
  });

  test("should name the pod network by its DaemonSet, or say it is not recognised", () => {
    const ds = (name: string) => ({ metadata: { name } }) as never;
    expect(cniFact([ds("kube-proxy"), ds("kindnet")])).toBe("kindnet (DaemonSet kube-system/kindnet)");
    expect(cniFact([ds("kube-proxy"), ds("mystery")])).toBe("not recognised (kube-system DaemonSets: mystery)");
  });

  test("should list the default and the ReadWriteMany storage classes", () => {
    const sc = (name: string, provisioner: string, isDefault = false) =>
      ({
        metadata: { name, annotations: isDefault ? { "storageclass.kubernetes.io/is-default-class": "true" } : {} },
        provisioner,
      }) as never;
    expect(storageFacts([sc("standard", "rancher.io/local-path", true), sc("nfs", "nfs.csi.k8s.io")])).toEqual({
      "storage.classes": "standard (rancher.io/local-path), nfs (nfs.csi.k8s.io)",
      "storage.default": "standard (rancher.io/local-path)",
      "storage.rwx": "nfs (nfs.csi.k8s.io)",
    });
    expect(storageFacts([])["storage.rwx"]).toBe("none known (by provisioner name)");
  });
});
