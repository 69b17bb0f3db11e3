import { describe, expect, test } from "vitest";
import { CleanupStack, namespaceManifest, namespaceName, scenarioFromFile } from "./namespace.ts";

describe("test namespaces", () => {
  test("should name namespaces koc-<scenario>-<random>", () => {
    expect(namespaceName("nginx-service", "ab12c")).toBe("koc-nginx-service-ab12c");
    expect(namespaceName("nginx-service")).toMatch(/^koc-nginx-service-[a-z0-9]{5}$/);
  });

  test("should make a valid DNS label from any scenario, at most 63 characters", () => {
    const long = namespaceName("A_Very Long/Scenario.Name".repeat(5), "zzzzz");
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    expect(namespaceName("---", "zzzzz")).toBe("koc-test-zzzzz");
  });

  test("should take the scenario from the test file name", () => {
    expect(scenarioFromFile("/x/suites/smoke/nginx-service.e2e.test.ts")).toBe("nginx-service");
    expect(scenarioFromFile("suites/scheduling/taints.disruptive.e2e.test.ts")).toBe("taints");
  });

  test("should label the namespace with the run and set Pod Security explicitly", () => {
    const ns = namespaceManifest("koc-a-b", "r1", "Smoke > should work");
    expect(ns.metadata?.labels).toEqual({
      "app.kubernetes.io/managed-by": "k8s-ops-conformance",
      "k8s-ops-conformance/run-id": "r1",
      "pod-security.kubernetes.io/enforce": "privileged",
      "pod-security.kubernetes.io/audit": "privileged",
      "pod-security.kubernetes.io/warn": "privileged",
    });
    expect(ns.metadata?.annotations).toEqual({ "k8s-ops-conformance/test": "Smoke > should work" });
  });

  test("should give the namespace the Pod Security level its scenario declared", () => {
    const labels = namespaceManifest("koc-a-b", "r1", "t", "baseline").metadata?.labels ?? {};
    expect(Object.entries(labels).filter(([key]) => key.startsWith("pod-security"))).toEqual([
      ["pod-security.kubernetes.io/enforce", "baseline"],
      ["pod-security.kubernetes.io/audit", "baseline"],
      ["pod-security.kubernetes.io/warn", "baseline"],
    ]);
  });

  test("should run undo steps last-in-first-out and report failures without stopping", async () => {
    const order: string[] = [];
    const stack = new CleanupStack();
    stack.push("first", async () => void order.push("first"));
    stack.push("broken", async () => {
      throw new Error("boom");
    });
    stack.push("last", async () => void order.push("last"));
    expect(await stack.run()).toEqual(["broken: boom"]);
    expect(order).toEqual(["last", "first"]);
    expect(await stack.run()).toEqual([]);
  });
});
