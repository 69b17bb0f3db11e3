/**
 * On purpose: with readyNodes keeping every node (the filter removed), the tests naming the nodes left out and
 * the Ready nodes' addresses failed (w2 listed, nothing left out); with requireHostNodeAccess skipping as
 * before, the test bed case failed (a skip where TestbedBrokenError was expected).
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { ApiException, type V1Node } from "@kubernetes/client-node";
import { describe, expect, test } from "vitest";
import type { Kube } from "../framework/kube.ts";
import { TestbedBrokenError } from "../manifests/prereq.ts";
import {
  type GuardedAddress,
  hostAnswers,
  hostHttpGet,
  hostNodeAccess,
  nodeAddress,
  readyNodes,
  requireHostNodeAccess,
  showLeftOut,
} from "./node-access.ts";

const node = (name: string, address: string, ready = true): V1Node => ({
  metadata: { name },
  status: {
    addresses: [
      { type: "Hostname", address: name },
      { type: "InternalIP", address },
    ],
    conditions: [{ type: "Ready", status: ready ? "True" : "False" }],
  },
});

function kubeWith(nodeNetwork: string | undefined, nodes: V1Node[]): Kube {
  return {
    core: {
      readNamespacedConfigMap: async () => {
        if (nodeNetwork === undefined) throw new ApiException(404, "not found", {}, {});
        return { data: { nodeNetwork } };
      },
      listNode: async () => ({ items: nodes }),
    },
  } as unknown as Kube;
}

describe("node access from this host", () => {
  test("should send nothing when the test bed publishes no node network, and say why", async () => {
    expect(await hostNodeAccess(kubeWith(undefined, [node("w1", "172.19.0.2")]))).toEqual({
      published: false,
      reason:
        "no nodeNetwork published in ConfigMap kube-public/k8s-ops-conformance-testbed (not the local test bed), so no request is sent from this host to node addresses",
    });
  });

  test("should list the Ready nodes' internal addresses inside the published network", async () => {
    const nodes = [node("cp", "172.19.0.4"), node("w1", "172.19.0.3"), node("w2", "172.19.0.2", false)];
    expect(await hostNodeAccess(kubeWith("172.19.0.0/16", nodes))).toEqual({
      published: true,
      nodeNetwork: "172.19.0.0/16",
      nodes: [
        { name: "cp", address: "172.19.0.4" },
        { name: "w1", address: "172.19.0.3" },
      ],
      leftOut: ["w2 (172.19.0.2): NotReady (Ready=False)"],
    });
  });

  test("should name every node left out because it is not Ready, and why", () => {
    const stopped: V1Node = {
      metadata: { name: "w2" },
      status: {
        addresses: [{ type: "InternalIP", address: "172.19.0.2" }],
        conditions: [{ type: "Ready", status: "Unknown", message: "Kubelet stopped posting node status." }],
      },
    };
    const { ready, leftOut } = readyNodes([node("cp", "172.19.0.4"), stopped, node("w3", "")].map(nodeAddress));
    expect(ready.map((n) => n.name)).toEqual(["cp", "w3"]);
    expect(leftOut).toEqual(["w2 (172.19.0.2): NotReady (Kubelet stopped posting node status)"]);
    expect(showLeftOut(leftOut)).toBe(
      "left out, not Ready: w2 (172.19.0.2): NotReady (Kubelet stopped posting node status)",
    );
    expect(showLeftOut([])).toBe("no node left out");
    expect(readyNodes([{ ...nodeAddress(stopped), address: "" }]).leftOut).toEqual([
      "w2 (no InternalIP): NotReady (Kubelet stopped posting node status)",
    ]);
  });

  test("should refuse to send anything when no node is Ready, naming them", async () => {
    await expect(hostNodeAccess(kubeWith("172.19.0.0/16", [node("w1", "172.19.0.3", false)]))).rejects.toThrowError(
      "no Ready node to send requests to from this host; left out, not Ready: w1 (172.19.0.3): NotReady (Ready=False)",
    );
  });

  test("should skip without a node network elsewhere, and fail on a test bed whose ConfigMap lacks it", async () => {
    const skip = (note?: string): never => {
      throw new Error(`skipped: ${note}`);
    };
    await expect(
      requireHostNodeAccess({ kube: kubeWith(undefined, [node("w1", "172.19.0.2")]), skip }),
    ).rejects.toThrow(/^skipped: no nodeNetwork published/);
    const brokenTestbed = {
      core: {
        readNamespacedConfigMap: async () => ({ data: { images: "local" } }),
        listNode: async () => ({ items: [node("w1", "172.19.0.2")] }),
      },
    } as unknown as Kube;
    const missing = requireHostNodeAccess({ kube: brokenTestbed, skip });
    await expect(missing).rejects.toThrowError(TestbedBrokenError);
    await expect(missing).rejects.toThrowError(
      /promises its node network .*, and it is missing: no nodeNetwork published/,
    );
  });

  test("should refuse when a node's address is outside the published network, naming it", async () => {
    const nodes = [node("cp", "172.19.0.4"), node("w1", "192.168.1.20")];
    await expect(hostNodeAccess(kubeWith("172.19.0.0/16", nodes))).rejects.toThrowError(
      "refusing to send requests from this host to 192.168.1.20: not inside the test bed's nodeNetwork 172.19.0.0/16",
    );
  });

  test("should GET with the body over a fresh connection, and report a refused connection as status 0", async () => {
    const server = createServer((req, res) => res.end(`hello ${req.headers.connection}`));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const loopback = "127.0.0.1" as GuardedAddress;
    try {
      expect(await hostHttpGet(loopback, port)).toEqual({ status: 200, body: "hello close", error: "" });
      const check = hostAnswers(loopback, port, "hello");
      expect(check.ok(await check.observe())).toBe(true);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    const refused = await hostHttpGet(loopback, port);
    expect(refused.status).toBe(0);
    expect(refused.error).toMatch(/^GET http:\/\/127\.0\.0\.1:\d+\/ from this host: connect ECONNREFUSED/);
  });
});
