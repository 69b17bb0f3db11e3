/**
 * On purpose: with prerequisiteVerdict reduced to the old behaviour (always `{ skip: detail }`), the rule table
 * and the tests "should fail, not skip, on the test bed ..." failed (a skip where a TestbedBrokenError was
 * expected); with testbedPromise's cephfs case answering "promised" whatever the state, the stock-image and
 * skipped-CephFS rows failed.
 */
import { ApiException, type V1ConfigMap, type V1Node, type V1StorageClass } from "@kubernetes/client-node";
import { describe, expect, test } from "vitest";
import type { Kube } from "../framework/kube.ts";
import {
  nodeUsability,
  type Prerequisite,
  prerequisiteVerdict,
  requireMemoryPressureNode,
  requireSchedulableNodes,
  requireStorageClass,
  TestbedBrokenError,
  type TestbedFacts,
  tolerates,
} from "./prereq.ts";

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

/** ConfigMaps of kube-public by name: the test bed's, when the cluster is one. */
type Published = Record<string, Record<string, string>>;
const LOCAL_TESTBED: Published = {
  "k8s-ops-conformance-testbed": { nodeNetwork: "172.19.0.0/16", images: "local" },
  "k8s-ops-conformance-cephfs": { state: "ready", reason: "" },
};

function kubeWith(nodes: V1Node[], classes: V1StorageClass[] = [], published: Published = {}): Kube {
  return {
    core: {
      listNode: async (args?: { labelSelector?: string }) => {
        const [key, value] = args?.labelSelector?.split("=") ?? [];
        return { items: key ? nodes.filter((n) => n.metadata?.labels?.[key] === value) : nodes };
      },
      readNamespacedConfigMap: async ({
        namespace,
        name,
      }: {
        namespace: string;
        name: string;
      }): Promise<V1ConfigMap> => {
        const data = namespace === "kube-public" ? published[name] : undefined;
        if (data === undefined) throw new ApiException(404, "not found", {}, {});
        return { data };
      },
    },
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

  test("should fail, not skip, on the test bed when a worker's kubelet stopped, naming it", async () => {
    const kube = kubeWith([node("cp"), node("w1"), node("w2", {}, false)], [], LOCAL_TESTBED);
    const missing = requireSchedulableNodes({ kube, skip }, 3);
    await expect(missing).rejects.toThrowError(TestbedBrokenError);
    await expect(missing).rejects.toThrowError(
      "the local test bed is broken: `npm run cluster:up` promises 3 schedulable nodes (an untainted control plane and two workers), and it is missing: needs 3 nodes a pod of this test can be scheduled on, cluster has 2 (cp, w1); unusable: w2: NotReady (Kubelet stopped posting node status)",
    );
  });

  test("should fail on the test bed without its default StorageClass, and skip elsewhere", async () => {
    const classes = [sc("cephfs", "testbed.k8s-ops-conformance/cephfs")];
    await expect(requireStorageClass({ kube: kubeWith([], classes, LOCAL_TESTBED), skip })).rejects.toThrowError(
      /^the local test bed is broken: `npm run cluster:up` promises a default StorageClass, and it is missing: needs a default StorageClass; cluster has: cephfs/,
    );
    await expect(requireStorageClass({ kube: kubeWith([], classes), skip })).rejects.toThrowError(Skipped);
  });

  test("should find the memory-pressure node, and fail on the test bed when it is NotReady", async () => {
    const pressure = (ready: boolean): V1Node => ({
      ...node("w2", {}, ready),
      metadata: { name: "w2", labels: { "k8s-ops-conformance/memory-pressure": "true" } },
    });
    const kube = (ready: boolean, published: Published = LOCAL_TESTBED) =>
      kubeWith([node("cp"), node("w1"), pressure(ready)], [], published);
    await expect(requireMemoryPressureNode({ kube: kube(true), skip })).resolves.toBe("w2");
    await expect(requireMemoryPressureNode({ kube: kube(false), skip })).rejects.toThrowError(
      "the local test bed is broken: `npm run cluster:up` promises a Ready node labelled k8s-ops-conformance/memory-pressure=true (its second worker), and it is missing: needs a Ready node labelled k8s-ops-conformance/memory-pressure=true whose kubelet evicts at a small memory threshold; the labelled nodes are not Ready: w2: NotReady (Kubelet stopped posting node status)",
    );
    await expect(requireMemoryPressureNode({ kube: kubeWith([node("cp")]), skip })).rejects.toThrowError(
      new Skipped(
        "needs a Ready node labelled k8s-ops-conformance/memory-pressure=true whose kubelet evicts at a small memory threshold; this cluster has none",
      ),
    );
  });
});

describe("the rule for a missing prerequisite: promised by the test bed -> fail, else skip", () => {
  const testbed = (info: Record<string, string>, cephfs?: Record<string, string>): TestbedFacts => ({ info, cephfs });
  const local = testbed({ images: "local" }, { state: "ready", reason: "" });
  const stock = testbed({ images: "stock" }, { state: "skipped", reason: "CephFS needs the local node image" });
  const smallHost = testbed(
    { images: "local", memoryPressureNode: "false", memoryPressureNodeReason: "the host has 4096 MiB" },
    { state: "ready" },
  );
  const cephfsFailed = testbed({ images: "local" }, { state: "failed", reason: "mds: not active" });
  const cephfsUnrecorded = testbed({ images: "local" });
  const nodes = (count: number): Prerequisite => ({ kind: "schedulable nodes", count });
  const cephfs: Prerequisite = { kind: "StorageClass", name: "cephfs" };
  const cephfsByProvisioner: Prerequisite = { kind: "StorageClass", provisioner: /cephfs/ };
  const nfs: Prerequisite = { kind: "StorageClass", name: "nfs" };
  const defaultClass: Prerequisite = { kind: "default StorageClass" };
  const pressure: Prerequisite = { kind: "memory-pressure node" };
  const network: Prerequisite = { kind: "node network" };
  const verdict = (p: Prerequisite, facts: TestbedFacts | undefined) =>
    Object.keys(prerequisiteVerdict(p, facts, "missing"))[0];

  const show = (p: Prerequisite): string =>
    p.kind === "schedulable nodes"
      ? `${p.count} schedulable nodes`
      : p.kind === "StorageClass"
        ? `StorageClass ${p.name ?? `by provisioner ${p.provisioner}`}`
        : p.kind;
  const rows: Array<[Prerequisite, string, TestbedFacts | undefined, "fail" | "skip"]> = [
    [nodes(3), "another cluster", undefined, "skip"],
    [defaultClass, "another cluster", undefined, "skip"],
    [cephfs, "another cluster", undefined, "skip"],
    [pressure, "another cluster", undefined, "skip"],
    [network, "another cluster", undefined, "skip"],
    [nodes(1), "the test bed", local, "fail"],
    [nodes(3), "the test bed", local, "fail"],
    [nodes(4), "the test bed", local, "skip"],
    [defaultClass, "the test bed with stock images", stock, "fail"],
    [cephfs, "the test bed", local, "fail"],
    [cephfsByProvisioner, "the test bed", local, "fail"],
    [cephfs, "the test bed whose CephFS failed in cluster:up", cephfsFailed, "fail"],
    [cephfs, "the test bed without its CephFS state", cephfsUnrecorded, "fail"],
    [cephfs, "the test bed with stock images", stock, "skip"],
    [cephfs, "the test bed with stock images and no CephFS state", testbed({ images: "stock" }), "skip"],
    [nfs, "the test bed", local, "skip"],
    [pressure, "the test bed", local, "fail"],
    [pressure, "the test bed on a host without the memory", smallHost, "skip"],
    [network, "the test bed", local, "fail"],
    [network, "the test bed, from a runner inside it (run --in-cluster)", { ...local, runnerInCluster: true }, "skip"],
  ];
  test.each(rows.map(([p, cluster, facts, expected]) => [show(p), cluster, expected, p, facts] as const))(
    "%s missing on %s: %s",
    (_shown, _cluster, expected, p, facts) => {
      expect(verdict(p, facts)).toBe(expected);
    },
  );

  test("a failure names what cluster:up promises and its own report; a skip on the test bed says why it is not promised", () => {
    expect(prerequisiteVerdict(cephfs, cephfsFailed, "needs StorageClass cephfs; cluster has: standard")).toEqual({
      fail: "the local test bed is broken: `npm run cluster:up` promises StorageClass cephfs (provisioner testbed.k8s-ops-conformance/cephfs), and it is missing: needs StorageClass cephfs; cluster has: standard; cluster:up reported CephFS failed: mds: not active",
    });
    expect(prerequisiteVerdict(cephfs, stock, "needs StorageClass cephfs")).toEqual({
      skip: "needs StorageClass cephfs (the local test bed does not promise it here: CephFS needs the local node image)",
    });
    expect(prerequisiteVerdict(pressure, smallHost, "needs a labelled node")).toEqual({
      skip: "needs a labelled node (the local test bed does not promise it here: the host has 4096 MiB)",
    });
    expect(prerequisiteVerdict(nodes(3), undefined, "needs 3 nodes")).toEqual({ skip: "needs 3 nodes" });
  });
});
