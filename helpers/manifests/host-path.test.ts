import { describe, expect, test } from "vitest";
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
