import type { V1StorageClass } from "@kubernetes/client-node";
import { describe, expect, test } from "vitest";
import { chooseRwxClass, SHARES_ACROSS_NODES } from "./storage-classes.ts";

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
