import { describe, expect, test } from "vitest";
import {
  banner,
  ConfigError,
  cleanupCommand,
  managedSelector,
  newRunId,
  readConfig,
  TESTBED_CONTEXT,
} from "./config.ts";

describe("config", () => {
  test("should default to the test bed context, never the kubeconfig's current one", () => {
    const cfg = readConfig({});
    expect(cfg.context).toBe(TESTBED_CONTEXT);
    expect(cfg.contextExplicit).toBe(false);
    expect(cfg.kubeconfig).toBeUndefined();
    expect(cfg.reportsDir).toBe("reports");
    expect(cfg.keepNamespaceOnFailure).toBe(false);
  });

  test("should read every KOC_ variable", () => {
    const cfg = readConfig({
      KOC_CONTEXT: "prod-eu",
      KOC_KUBECONFIG: "/tmp/kc",
      KOC_RUN_ID: "nightly-42",
      KOC_TIMEOUT_SCALE: "3",
      KOC_IMAGE_REGISTRY: "mirror.example.com:5000/hub/",
      KOC_IMAGE_NGINX_NEXT: "mirror/nginx:1.28.0",
      KOC_KEEP_NAMESPACE_ON_FAILURE: "yes",
      KOC_REPORTS_DIR: "out",
    });
    expect(cfg).toMatchObject({
      context: "prod-eu",
      contextExplicit: true,
      kubeconfig: "/tmp/kc",
      runId: "nightly-42",
      timeoutScale: 3,
      imageRegistry: "mirror.example.com:5000/hub",
      imageOverrides: { NGINX_NEXT: "mirror/nginx:1.28.0" },
      keepNamespaceOnFailure: true,
      reportsDir: "out",
    });
  });

  test.each([
    [{ KOC_RUN_ID: "Has Spaces" }, "KOC_RUN_ID must be 1-32 lowercase letters"],
    [{ KOC_RUN_ID: "-leading" }, "KOC_RUN_ID must be"],
    [{ KOC_TIMEOUT_SCALE: "0" }, "KOC_TIMEOUT_SCALE must be a number > 0"],
    [
      { KOC_KEEP_NAMESPACE_ON_FAILURE: "maybe" },
      'KOC_KEEP_NAMESPACE_ON_FAILURE must be 1/true/yes or 0/false/no, got "maybe"',
    ],
    [{ KOC_IMAGE_REGISTRY: "not a registry" }, "KOC_IMAGE_REGISTRY must look like"],
  ])("should reject %o with a ConfigError saying what to fix", (env, message) => {
    expect(() => readConfig(env)).toThrowError(ConfigError);
    expect(() => readConfig(env)).toThrowError(message);
  });

  test("should make run ids that are valid label values", () => {
    expect(newRunId(new Date("2025-03-01T14:25:01.123Z"))).toMatch(/^20250301-142501-[0-9a-f]{4}$/);
    expect(readConfig({}).runId).toMatch(/^[a-z0-9-]{20}$/);
  });

  test("should select one run's objects but not the namespaces kept on failure", () => {
    expect(managedSelector()).toBe("app.kubernetes.io/managed-by=k8s-ops-conformance");
    expect(managedSelector("r1")).toBe(
      "app.kubernetes.io/managed-by=k8s-ops-conformance,k8s-ops-conformance/run-id=r1,!k8s-ops-conformance/kept",
    );
  });

  test("should print the banner with context, server version, nodes and run id", () => {
    const text = banner({
      context: "kind-x",
      server: "https://127.0.0.1:6443",
      serverVersion: "v1.34.12",
      nodes: ["cp", "w1"],
      runId: "r1",
      timeoutScale: 1,
    });
    expect(text).toContain("context:        kind-x");
    expect(text).toContain("(Kubernetes v1.34.12)");
    expect(text).toContain("nodes (2):      cp, w1");
    expect(text).toContain("run id:         r1");
  });

  test("should read the failed-request ratio for zero-downtime checks, strict by default", () => {
    expect(readConfig({}).maxFailedRequestRatio).toBe(0);
    expect(readConfig({ KOC_MAX_FAILED_REQUEST_RATIO: "0.01" }).maxFailedRequestRatio).toBe(0.01);
    expect(() => readConfig({ KOC_MAX_FAILED_REQUEST_RATIO: "5%" })).toThrowError(
      'KOC_MAX_FAILED_REQUEST_RATIO must be a number from 0 up to (not including) 1, e.g. 0.01, got "5%"',
    );
    expect(() => readConfig({ KOC_MAX_FAILED_REQUEST_RATIO: "1" })).toThrowError(ConfigError);
  });

  test("should name the run's context, and its kubeconfig file when one was given, in the cleanup command", () => {
    expect(cleanupCommand({ context: "kind-k8s-ops-conformance" })).toBe(
      "npm run cleanup -- --context kind-k8s-ops-conformance",
    );
    expect(cleanupCommand({ context: "prod", kubeconfig: "./prod.yaml" })).toBe(
      "npm run cleanup -- --context prod --kubeconfig ./prod.yaml",
    );
  });
});

describe("config: disruptive tests and the ReadWriteMany class", () => {
  test("should read KOC_DISRUPTIVE and KOC_RWX_STORAGE_CLASS, both off by default", () => {
    expect(readConfig({})).toMatchObject({ disruptive: false, rwxStorageClass: undefined });
    expect(readConfig({ KOC_DISRUPTIVE: "1", KOC_RWX_STORAGE_CLASS: " cephfs " })).toMatchObject({
      disruptive: true,
      rwxStorageClass: "cephfs",
    });
  });

  test.each([
    [{ KOC_RWX_STORAGE_CLASS: "CephFS" }, "KOC_RWX_STORAGE_CLASS must be a StorageClass name"],
    [{ KOC_RWX_STORAGE_CLASS: "ceph fs" }, 'got "ceph fs"'],
    [{ KOC_DISRUPTIVE: "sometimes" }, 'KOC_DISRUPTIVE must be 1/true/yes or 0/false/no, got "sometimes"'],
  ])("should reject %j with what to fix", (env, message) => {
    expect(() => readConfig(env)).toThrowError(ConfigError);
    expect(() => readConfig(env)).toThrowError(message);
  });
});
