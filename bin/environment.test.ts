import { describe, expect, test } from "vitest";
import { checkEnvironment, VARIABLES } from "./environment.ts";

describe("KOC_* environment", () => {
  test("should accept an empty environment, good values and variables of other programs", () => {
    expect(() => checkEnvironment({})).not.toThrow();
    expect(() =>
      checkEnvironment({
        PATH: "/usr/bin",
        KOCX: "not ours",
        KOC_CONTEXT: "kind-k8s-ops-conformance",
        KOC_KUBECONFIG: "",
        KOC_TIMEOUT_SCALE: "2.5",
        KOC_RUN_ID: "nightly-42",
        KOC_KEEP_NAMESPACE_ON_FAILURE: "yes",
        KOC_MAX_WORKERS: "2",
        KOC_MAX_FAILED_REQUEST_RATIO: "0.01",
        KOC_PROBES_LIVENESS_DELAY: "30",
        KOC_SMOKE_SABOTAGE: "0",
        KOC_STORAGE_SABOTAGE: "1",
        KOC_IMAGE_REGISTRY: "mirror.local:5000/hub",
        KOC_IMAGE_NGINX_NEXT: "mirror.local/nginx:1.28.0",
        KOC_TESTBED_IMAGES: "stock",
      }),
    ).not.toThrow();
  });

  test.each([
    ["KOC_TIMEOUT_SCALE", "abc", 'must be a number > 0 and <= 20 (e.g. 2.5), got "abc"'],
    ["KOC_TIMEOUT_SCALE", "0", 'must be a number > 0 and <= 20 (e.g. 2.5), got "0"'],
    ["KOC_RUN_ID", "Bad_Id", "must be 1-32 lowercase letters"],
    ["KOC_KEEP_NAMESPACE_ON_FAILURE", "maybe", 'must be 1/true/yes or 0/false/no, got "maybe"'],
    ["KOC_MAX_WORKERS", "four", 'must be a whole number from 1 to 64 (e.g. 4), got "four"'],
    ["KOC_MAX_WORKERS", "0", 'must be a whole number from 1 to 64 (e.g. 4), got "0"'],
    ["KOC_MAX_FAILED_REQUEST_RATIO", "1", "must be a number from 0 up to (not including) 1"],
    ["KOC_PROBES_LIVENESS_DELAY", "2.5", "must be whole seconds from 1 to 300"],
    ["KOC_ROLLOUTS_SABOTAGE", "please", 'must be 1/true/yes or 0/false/no, got "please"'],
    ["KOC_IMAGE_REGISTRY", "http://mirror", 'must look like "registry.example.com[:port][/path]"'],
    ["KOC_IMAGE_NGINX", "nginx:latest", '"nginx:latest" uses :latest'],
    ["KOC_IMAGE_NGNIX", "nginx:1.27.5", "names no image; known: KOC_IMAGE_NGINX"],
    ["KOC_TESTBED_IMAGES", "public", 'must be one of local, stock, got "public"'],
    ["KOC_TIMEOUT_SCAL", "3", "is not a variable of k8s-ops-conformance (misspelt?); known: KOC_CONTEXT"],
  ])("should refuse %s=%j with one line saying what to fix", (name, value, message) => {
    let error: Error | undefined;
    try {
      checkEnvironment({ [name]: value });
    } catch (thrown) {
      error = thrown as Error;
    }
    expect(error?.message).toContain(name);
    expect(error?.message).toContain(message);
    expect(error?.message).not.toContain("\n");
    expect(["ConfigError", "ImageError"]).toContain(error?.name);
  });

  test("should know every variable README documents", async () => {
    const { readFileSync } = await import("node:fs");
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const documented = new Set(readme.match(/KOC_[A-Z0-9_]+/g));
    for (const name of documented) {
      if (name === "KOC_IMAGE_" || name.endsWith("_SABOTAGE") || name.startsWith("KOC_IMAGE_")) continue;
      expect(Object.keys(VARIABLES), `${name} (in README) is checked by the CLI`).toContain(name);
    }
  });
});
