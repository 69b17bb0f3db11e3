import type { V1PersistentVolumeClaim, V1Pod } from "@kubernetes/client-node";
import { describe, expect, test } from "vitest";
import { claimsOf, describeClaim, provisionerPods } from "./claim-diagnosis.ts";

function pod(name: string, command: string[] = [], env: Record<string, string> = {}): V1Pod {
  return {
    metadata: { name, namespace: "storage" },
    spec: {
      containers: [{ name: "c", command, env: Object.entries(env).map(([n, value]) => ({ name: n, value })) }],
    },
  };
}

describe("provisionerPods", () => {
  const cephfs = pod("cephfs-provisioner-abc", [
    "local-path-provisioner",
    "start",
    "--provisioner-name",
    "koc.local/cephfs",
  ]);
  const local = pod("local-path-provisioner-xyz", ["local-path-provisioner", "start"]);
  const csi = pod("csi-driver-0", ["csi-provisioner", "--drivername=example.com/csi"]);
  const web = pod("web-1", ["nginx"]);

  test("should find the pod that names the provisioner in its command, args or env", () => {
    expect(provisionerPods([web, cephfs, local], "koc.local/cephfs")).toEqual([cephfs]);
    expect(provisionerPods([web, csi], "example.com/csi")).toEqual([csi]);
    expect(provisionerPods([web, pod("p", [], { PROVISIONER_NAME: "x.io/p1" })], "x.io/p1")).toHaveLength(1);
  });

  test("should fall back to the pod name carrying the provisioner's last segment", () => {
    expect(provisionerPods([web, local], "rancher.io/local-path")).toEqual([local]);
  });

  test("should find nothing rather than guess from a short or absent name", () => {
    expect(provisionerPods([web, local], "kubernetes.io/no-provisioner")).toEqual([]);
    expect(provisionerPods([web], "a/b")).toEqual([]);
    expect(provisionerPods([], "rancher.io/local-path")).toEqual([]);
  });
});

describe("claimsOf", () => {
  test("should list the claims a pod mounts, and none for a pod without", () => {
    const p: V1Pod = {
      spec: {
        containers: [],
        volumes: [
          { name: "a", persistentVolumeClaim: { claimName: "shared" } },
          { name: "b", emptyDir: {} },
        ],
      },
    };
    expect(claimsOf(p)).toEqual(["shared"]);
    expect(claimsOf(pod("x"))).toEqual([]);
  });
});

describe("describeClaim", () => {
  test("should name the node the claim was meant for, its provisioner and its events", () => {
    const claim: V1PersistentVolumeClaim = {
      metadata: {
        name: "shared",
        annotations: {
          "volume.kubernetes.io/selected-node": "worker2",
          "volume.kubernetes.io/storage-provisioner": "koc.local/cephfs",
        },
      },
      spec: { storageClassName: "cephfs", accessModes: ["ReadWriteMany"] },
      status: { phase: "Pending" },
    };
    const text = describeClaim(claim, "10:00:00.000 Warning ProvisioningFailed a\n10:00:01.000 Normal b");
    expect(text).toContain("shared Pending");
    expect(text).toContain("meant for node: worker2; provisioner: koc.local/cephfs");
    expect(text).toContain("    10:00:01.000 Normal b");
  });

  test("should say when no node was selected and no provisioner asked", () => {
    expect(describeClaim({ metadata: { name: "c" } }, "(no events)")).toContain(
      "meant for node: (none selected); provisioner: (none asked)",
    );
  });
});
