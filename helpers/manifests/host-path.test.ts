/**
 * On purpose: with removeOnNode rethrowing the PodSecurityRefusedError, the test of the refused cleanup pod
 * failed (an undo failure after a test that had been skipped for that very refusal).
 */
import { ApiException } from "@kubernetes/client-node";
import { describe, expect, test } from "vitest";
import { CleanupStack } from "../framework/namespace.ts";
import { fakeNamespace } from "../framework/testing.ts";
import { cleanupPodName, HOST_ROOT, hostDirOf, hostDirRemovedAfterTest } from "./host-path.ts";

describe("hostPath directories of a test", () => {
  test("should give each test its own directory under one root", () => {
    expect(hostDirOf("koc-hostpath-abcde")).toEqual({
      root: HOST_ROOT,
      name: "koc-hostpath-abcde",
      path: `${HOST_ROOT}/koc-hostpath-abcde`,
    });
  });

  test("should register the removal on every node before anything is written", () => {
    const ns = fakeNamespace();
    const dir = hostDirRemovedAfterTest(ns, ["w1", "w2"]);
    expect(dir.path).toBe(`${HOST_ROOT}/${ns.name}`);
    expect(ns.undo).toEqual([`remove hostPath ${dir.path} on w1, w2`]);
  });

  test("should name cleanup pods after the node", () => {
    expect(cleanupPodName("k8s-ops-conformance-worker2")).toBe("host-dir-cleanup-k8s-ops-conformance-worker2");
  });
});

describe("removing a test's hostPath directory where Pod Security refuses hostPath pods", () => {
  test("removes nothing, and neither skips nor fails: no pod of the namespace could have written there", async () => {
    const undo = new CleanupStack();
    const skipped: string[] = [];
    const message =
      'pods "host-dir-cleanup-w1" is forbidden: violates PodSecurity "restricted:latest": hostPath volumes';
    const ns = {
      ...fakeNamespace({
        objects: {
          patch: async () => {
            throw new ApiException(403, "HTTP 403", JSON.stringify({ message }), {});
          },
        } as never,
      }),
      defer: (description: string, step: () => Promise<void>) => undo.push(description, step),
      podSecurity: "privileged" as const,
      skip: (reason: string): never => {
        skipped.push(reason);
        throw new Error("skipped");
      },
    };
    hostDirRemovedAfterTest(ns, ["w1"]);
    expect(await undo.run()).toEqual([]);
    expect(skipped).toEqual([]);
  });
});
