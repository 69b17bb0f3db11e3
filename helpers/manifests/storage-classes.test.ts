/**
 * On purpose: with requireRwxClass skipping as before (ctx.skip for every missing class), the test on the
 * local test bed failed: a skip where TestbedBrokenError naming cephfs was expected.
 */
import { ApiException, type V1StorageClass } from "@kubernetes/client-node";
import { describe, expect, test } from "vitest";
import type { Kube } from "../framework/kube.ts";
import { TestbedBrokenError } from "./prereq.ts";
import { chooseRwxClass, requireRwxClass, SHARES_ACROSS_NODES } from "./storage-classes.ts";

const sc = (name: string, provisioner: string, shares?: string): V1StorageClass => ({
  metadata: { name, annotations: shares === undefined ? {} : { [SHARES_ACROSS_NODES]: shares } },
  provisioner,
});
const standard = sc("standard", "rancher.io/local-path");

describe("choosing the ReadWriteMany StorageClass", () => {
  test("should use the class named by the option, and say so", () => {
    expect(chooseRwxClass([standard, sc("nfs", "nfs.csi.k8s.io")], "nfs")).toEqual({
      name: "nfs",
      why: "named by --rwx-storage-class / KOC_RWX_STORAGE_CLASS",
    });
  });

  test("should refuse a named class that does not exist, listing what does", () => {
    expect(chooseRwxClass([standard], "cephfs")).toEqual({
      error:
        '--rwx-storage-class / KOC_RWX_STORAGE_CLASS names StorageClass "cephfs", which does not exist; cluster has: standard (rancher.io/local-path)',
    });
  });

  test("should prefer a class annotated as shared over a CephFS provisioner", () => {
    const classes = [sc("a-ceph", "cephfs.csi.ceph.com"), sc("cephfs", "k8s-ops-conformance/cephfs-path", "true")];
    expect(chooseRwxClass(classes, undefined)).toEqual({
      name: "cephfs",
      why: `annotated ${SHARES_ACROSS_NODES}: "true"`,
    });
  });

  test("should pick a CephFS provisioner unless annotated false", () => {
    expect(chooseRwxClass([standard, sc("ceph", "cephfs.csi.ceph.com")], undefined)).toMatchObject({ name: "ceph" });
    expect(chooseRwxClass([sc("ceph", "cephfs.csi.ceph.com", "false")], undefined)).toHaveProperty("skip");
  });

  test("should skip when nothing says it shares across nodes, even classes that accept ReadWriteMany", () => {
    const choice = chooseRwxClass([standard, sc("local", "kubernetes.io/no-provisioner", "maybe")], undefined);
    expect(choice).toEqual({
      skip: `no StorageClass is declared to share data across nodes (a CephFS provisioner, or the annotation ${SHARES_ACROSS_NODES}: "true"); name one with --rwx-storage-class. Cluster has: local (kubernetes.io/no-provisioner, ${SHARES_ACROSS_NODES}=maybe), standard (rancher.io/local-path)`,
    });
  });
});

describe("a missing ReadWriteMany class on the local test bed", () => {
  const skip = (note?: string): never => {
    throw new Error(`skipped: ${note}`);
  };
  const kubeWith = (classes: V1StorageClass[], testbed: Record<string, Record<string, string>>): Kube =>
    ({
      core: {
        readNamespacedConfigMap: async ({ name }: { name: string }) => {
          const data = testbed[name];
          if (data === undefined) throw new ApiException(404, "not found", {}, {});
          return { data };
        },
      },
      storage: { listStorageClass: async () => ({ items: classes }) },
    }) as unknown as Kube;

  test("should fail naming cephfs where cluster:up promises it, and skip where it does not", async () => {
    const local = {
      "k8s-ops-conformance-testbed": { images: "local" },
      "k8s-ops-conformance-cephfs": { state: "failed", reason: "ceph-fuse: mount timed out" },
    };
    const missing = requireRwxClass({ kube: kubeWith([standard], local), skip }, undefined);
    await expect(missing).rejects.toThrowError(TestbedBrokenError);
    await expect(missing).rejects.toThrowError(
      /promises StorageClass cephfs .*, and it is missing: no StorageClass is declared to share data across nodes.*; cluster:up reported CephFS failed: ceph-fuse: mount timed out$/,
    );
    const stock = {
      "k8s-ops-conformance-testbed": { images: "stock" },
      "k8s-ops-conformance-cephfs": { state: "skipped", reason: "CephFS needs the local node image" },
    };
    await expect(requireRwxClass({ kube: kubeWith([standard], stock), skip }, undefined)).rejects.toThrowError(
      /^skipped: no StorageClass is declared .*\(the local test bed does not promise it here: CephFS needs the local node image\)$/,
    );
    await expect(requireRwxClass({ kube: kubeWith([standard], {}), skip }, undefined)).rejects.toThrowError(
      /^skipped: no StorageClass is declared to share data across nodes/,
    );
  });
});
