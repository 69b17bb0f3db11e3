/**
 * The KOC_* check of the CLI: good values pass, a bad value or a name nothing reads is one line (exit 2 in the
 * CLI), and the sabotage switches are exactly those the suites read and README's table documents.
 *
 * On purpose: with the shape-based recognition of `KOC_<SUITE>_SABOTAGE` put back into checkFor
 * (`/^KOC_[A-Z0-9_]+_SABOTAGE$/` accepted as a flag), the tests refusing KOC_ROLLOUT_SABOTAGE and
 * KOC_CONFIG_SABOTAGE failed (no error thrown); with KOC_ROLLOUTS_SABOTAGE taken out of SABOTAGE_SWITCHES,
 * the comparison with the suites and README failed naming it; with README's table holding a second
 * KOC_ROLLOUTS_SABOTAGE row again, the "once" check failed.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { scanSuites } from "./catalog.ts";
import { checkEnvironment, SABOTAGE_SWITCHES, VARIABLES } from "./environment.ts";

const ROOT = join(import.meta.dirname, "..");

/** Every `KOC_*_SABOTAGE` named in the sources of the scenarios and the helpers (unit tests left out). */
function switchesInSources(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const dir of ["suites", "helpers"]) {
    for (const file of readdirSync(join(ROOT, dir), { recursive: true, encoding: "utf8" })) {
      if (!file.endsWith(".ts") || (file.endsWith(".test.ts") && !file.endsWith(".e2e.test.ts"))) continue;
      const text = readFileSync(join(ROOT, dir, file), "utf8");
      for (const name of text.match(/KOC_[A-Z0-9_]+_SABOTAGE/g) ?? []) {
        found.set(name, [...(found.get(name) ?? []), `${dir}/${file}`]);
      }
    }
  }
  return found;
}

/** The `KOC_*_SABOTAGE` names in README's configuration table, one entry per row that names one. */
function switchesInReadme(): string[] {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("\n## Configuration"), readme.indexOf("\n## Reports"));
  return section
    .split("\n")
    .filter((line) => line.startsWith("|"))
    .flatMap((line) => line.match(/KOC_[A-Z0-9_]+_SABOTAGE/g) ?? []);
}

/** KOC_PRODUCTION_APP_SABOTAGE → production-app. */
function suiteOf(name: string): string {
  return name
    .replace(/^KOC_/, "")
    .replace(/_SABOTAGE$/, "")
    .toLowerCase()
    .replaceAll("_", "-");
}

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
        KOC_KUBERNETES: "1.36",
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
    ["KOC_KUBERNETES", "1.30", 'KOC_KUBERNETES: Kubernetes "1.30" is not supported by the test bed; supported: 1.35'],
    ["KOC_TIMEOUT_SCAL", "3", "is not a variable of k8s-ops-conformance (misspelt?); known: KOC_CONTEXT"],
    ["KOC_ROLLOUT_SABOTAGE", "1", "is not a sabotage switch of k8s-ops-conformance"],
    ["KOC_ROLLOUTS_SABOTGE", "1", "is not a sabotage switch of k8s-ops-conformance"],
    ["KOC_CONFIG_SABOTAGE", "1", "(misspelt, or a suite without one?); switches: KOC_PROBES_SABOTAGE, KOC_RESOURCES_"],
    ["KOC_PRODUCTION_APP_SABOTAGE", "yes", "switches: KOC_PROBES_SABOTAGE, KOC_RESOURCES_SABOTAGE, KOC_ROLLOUTS_"],
    ["KOC_CEPHFS_SABOTAGE", "yes", 'must be one of 0, 1, got "yes"'],
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

  test("should name every valid sabotage switch when refusing one", () => {
    expect(() => checkEnvironment({ KOC_ROLLOUT_SABOTAGE: "1" })).toThrowError(
      "KOC_ROLLOUT_SABOTAGE is not a sabotage switch of k8s-ops-conformance (misspelt, or a suite without one?); " +
        "switches: KOC_PROBES_SABOTAGE, KOC_RESOURCES_SABOTAGE, KOC_ROLLOUTS_SABOTAGE, KOC_SMOKE_SABOTAGE, " +
        "KOC_STORAGE_SABOTAGE, KOC_CEPHFS_SABOTAGE",
    );
  });

  test.each([...SABOTAGE_SWITCHES])("should accept %s=1 and refuse a value that is not a flag", (name) => {
    expect(() => checkEnvironment({ [name]: "1" })).not.toThrow();
    expect(() => checkEnvironment({ [name]: "maybe" })).toThrowError(`${name} must be 1/true/yes or 0/false/no`);
  });

  test("should know every variable README documents", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const documented = new Set(readme.match(/KOC_[A-Z0-9_]+/g));
    for (const name of documented) {
      if (name === "KOC_IMAGE_" || name.startsWith("KOC_IMAGE_")) continue;
      expect(Object.keys(VARIABLES), `${name} (in README) is checked by the CLI`).toContain(name);
    }
  });

  test("should have a sabotage switch for exactly the suites whose code reads one", () => {
    const read = switchesInSources();
    expect([...read.keys()].sort(), "KOC_*_SABOTAGE named in suites/ and helpers/").toEqual([...SABOTAGE_SWITCHES]);
    const suites = scanSuites(join(ROOT, "suites")).suites;
    for (const name of SABOTAGE_SWITCHES) {
      expect(suites, `${name} belongs to a suite folder`).toContain(suiteOf(name));
      expect(
        read.get(name)?.some((file) => file.startsWith(`suites/${suiteOf(name)}/`)),
        `${name} is named in suites/${suiteOf(name)}/ (${read.get(name)?.join(", ")})`,
      ).toBe(true);
    }
  });

  test("should document each sabotage switch once in README's configuration table, and no other", () => {
    expect(switchesInReadme().sort()).toEqual([...SABOTAGE_SWITCHES]);
  });
});
