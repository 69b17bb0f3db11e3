/**
 * The permission scan: its reading of client-node method names and watch paths, what it follows and what
 * it reports, and then this repository: every API call a scenario (or the global setup, or the canaries)
 * can make is covered by the permissions declared for it, so the preflight cannot pass and the run then 403.
 *
 * On purpose: with production-app's permissions.yaml as it was (no watch on deployments.apps and
 * replicasets.apps), "should declare every permission each scenario's API calls need" failed naming
 * `production-app/production-app: watch replicasets.apps (helpers/observe/rollout.ts:243)` and the same for
 * deployments; with HARNESS lacking list on configmaps and secrets it named diagnostics.ts for every
 * scenario; with `recommended-combination` taken out of the probes suite's services entry it named that
 * scenario's apply of its Service. With the "only what is used" rule removed (every declaration of an
 * imported module followed), the fixture test "should follow only what an entry uses" failed; with the
 * CONDITIONAL entry for apply's Secret read renamed, the Secret test failed and so did the repository test
 * (get secrets for scenarios whose manifests reference no Secret).
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { TESTBED_INFO } from "../helpers/framework/disruptive.ts";
import { TESTBED_IMAGES_CONFIGMAP } from "../helpers/framework/images.ts";
import {
  CANARIES,
  CLUSTER_SCOPED_RESOURCES,
  HARNESS,
  type Permission,
  permissionsFor,
} from "../helpers/framework/permissions.ts";
import { CLUSTER_SCOPED_KINDS } from "../helpers/manifests/template.ts";
import { TESTBED_CONFIGMAP } from "../helpers/traffic/network-guard.ts";
import {
  type ApiNeed,
  clientMethod,
  FIXED_NAMESPACES,
  KINDS,
  scanApiCalls,
  showNeeds,
  uncovered,
  watchedResource,
} from "./permission-scan.ts";

const ROOT = join(import.meta.dirname, "..");
const SUITES = join(ROOT, "suites");

describe("permission scan: names", () => {
  test.each([
    ["core", "listNamespacedPod", { resource: "pods", verb: "list" }],
    ["core", "readNamespacedPodLog", { resource: "pods/log", verb: "get" }],
    ["core", "createNamespacedPodEviction", { resource: "pods/eviction", verb: "create" }],
    ["core", "listPodForAllNamespaces", { resource: "pods", verb: "list" }],
    ["core", "readNamespacedServiceAccount", { resource: "serviceaccounts", verb: "get" }],
    ["core", "replaceNamespacedConfigMap", { resource: "configmaps", verb: "update" }],
    ["core", "connectGetNodeProxyWithPath", { resource: "nodes/proxy", verb: "get" }],
    ["core", "deletePersistentVolume", { resource: "persistentvolumes", verb: "delete" }],
    ["apps", "patchNamespacedDeployment", { resource: "deployments.apps", verb: "patch" }],
    ["storage", "listStorageClass", { resource: "storageclasses.storage.k8s.io", verb: "list" }],
    ["discovery", "listNamespacedEndpointSlice", { resource: "endpointslices.discovery.k8s.io", verb: "list" }],
    ["exec", "exec", { resource: "pods/exec", verb: "create" }],
  ])("should read %s.%s as the permission it needs", (client, method, expected) => {
    expect(clientMethod(client, method)).toEqual(expected);
  });

  test("should know /version needs no permission, and say when it cannot read a method", () => {
    expect(clientMethod("version", "getCode")).toBeNull();
    expect(clientMethod("core", "listNamespacedWidget")).toBeUndefined();
    expect(clientMethod("core", "frobnicateNamespacedPod")).toBeUndefined();
    expect(clientMethod("objects", "patch")).toBeUndefined();
  });

  test.each([
    ["/api/v1/*/pods", "pods"],
    ["/api/v1/namespaces/*/pods", "pods"],
    ["/apis/apps/v1/*/replicasets", "replicasets.apps"],
    ["/apis/apps/v1/namespaces/*/deployments", "deployments.apps"],
    ["/apis/discovery.k8s.io/v1/namespaces/*/endpointslices", "endpointslices.discovery.k8s.io"],
  ])("should read the watch path %s as %s", (path, resource) => {
    expect(watchedResource(path)).toBe(resource);
  });

  test("should not guess a resource from a path that is not an API path", () => {
    expect(watchedResource("*")).toBeUndefined();
    expect(watchedResource("/healthz")).toBeUndefined();
  });

  test("should name the cluster-scoped kinds of the sweep as permissions.ts does", () => {
    for (const { kind } of CLUSTER_SCOPED_KINDS) {
      expect(KINDS[kind]?.cluster, `${kind} is cluster-scoped in KINDS`).toBe(true);
      expect(CLUSTER_SCOPED_RESOURCES, `${kind} in CLUSTER_SCOPED_RESOURCES`).toContain(KINDS[kind]?.resource);
    }
  });

  test("should know the namespace of each constant in FIXED_NAMESPACES", () => {
    const constants: Record<string, { namespace: string }> = {
      TESTBED_IMAGES_CONFIGMAP,
      TESTBED_INFO,
      TESTBED_CONFIGMAP,
    };
    expect(Object.keys(FIXED_NAMESPACES).sort()).toEqual(Object.keys(constants).sort());
    for (const [name, namespace] of Object.entries(FIXED_NAMESPACES)) {
      expect(constants[name]?.namespace, name).toBe(namespace);
    }
  });
});

describe("permission scan: what it follows", () => {
  const root = mkdtempSync(join(tmpdir(), "koc-permission-scan-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const write = (path: string, text: string): void => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  };
  write(
    "helpers/manifests/apply.ts",
    `export async function apply(ns, path) { await learn(ns); return applyObject(ns, path); }
     export async function applyObject(ns, object) { return ns.kube.objects.patch(object); }
     async function learn(ns) { return ns.kube.core.readNamespacedSecret({ name: "s", namespace: ns.name }); }`,
  );
  write(
    "helpers/observe/rollout.ts",
    `import { watchObjects } from "./watch.ts";
     export function watchRollout(ns) {
       return watchObjects(ns.kube, \`/apis/apps/v1/namespaces/\${ns.name}/replicasets\`, {}, () => ns.kube.apps.listNamespacedReplicaSet({ namespace: ns.name }));
     }
     export function restart(ns) { return ns.kube.apps.patchNamespacedDeployment({ name: "web", namespace: ns.name }); }`,
  );
  write("helpers/observe/watch.ts", "export function watchObjects() {}");
  write("helpers/observe/index.ts", `export { watchRollout, restart } from "./rollout.ts";`);
  write("manifests/demo/app/deployment.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n");
  write("manifests/demo/app/pv.yaml", "apiVersion: v1\nkind: PersistentVolume\nmetadata:\n  name: x\n");
  write(
    "suites/demo/watching.e2e.test.ts",
    `import { apply } from "../../helpers/manifests/apply.ts";
     import { watchRollout } from "../../helpers/observe/index.ts";
     import type { restart } from "../../helpers/observe/rollout.ts";
     test("x", async ({ ns }) => { await apply(ns, "demo/app"); watchRollout(ns); });`,
  );
  write(
    "manifests/demo/env/pod.yaml",
    "kind: Pod\nspec:\n  containers:\n    - env:\n        - valueFrom:\n            secretKeyRef: { name: s, key: k }\n",
  );
  write(
    "suites/demo/env.e2e.test.ts",
    `import { apply } from "../../helpers/manifests/apply.ts";
     test("x", async ({ ns }) => { await apply(ns, "demo/env"); });`,
  );
  write(
    "suites/demo/unreadable.e2e.test.ts",
    `import { watchObjects } from "../../helpers/observe/watch.ts";
     import { execa } from "execa";
     const path = "/api/v1/pods";
     watchObjects(kube, path, {}, () => undefined);
     kube.core.readNamespacedWidget({ name: "w" });
     kube.core.readNamespacedConfigMap({ namespace: "kube-system", name: "x" });
     execa(kubectl, ["get", "pods"]);
     const exec = new Exec(kc);`,
  );

  const show = (needs: readonly ApiNeed[]): string[] =>
    needs.map((n) => `${n.verb} ${n.resource}${n.namespace ? ` in ${n.namespace}` : ""}`).sort();

  test("should follow only what an entry uses, through re-exports, and apply the manifests it names", () => {
    const result = scanApiCalls(root, ["suites/demo/watching.e2e.test.ts"]);
    expect(result.unknown).toEqual([]);
    expect(result.manifests).toEqual(["demo/app"]);
    expect(show(result.needs)).toEqual([
      "create deployments.apps",
      "create persistentvolumes",
      "list replicasets.apps",
      "patch deployments.apps",
      "patch persistentvolumes",
      "watch replicasets.apps",
    ]);
    // patchNamespacedDeployment (restart) is imported as a type only and never called: not needed
    expect(result.needs.filter((n) => n.at.startsWith("helpers/observe/rollout.ts:5"))).toEqual([]);
  });

  test("should count apply's read of referenced Secrets only where a manifest references one", () => {
    expect(show(scanApiCalls(root, ["suites/demo/env.e2e.test.ts"]).needs)).toEqual([
      "create pods",
      "get secrets",
      "patch pods",
    ]);
    expect(show(scanApiCalls(root, ["suites/demo/watching.e2e.test.ts"]).needs)).not.toContain("get secrets");
  });

  test("should report every call it cannot read instead of skipping it", () => {
    const result = scanApiCalls(root, ["suites/demo/unreadable.e2e.test.ts"]);
    expect(result.unknown).toEqual([
      "suites/demo/unreadable.e2e.test.ts:4: watchObjects with a path that is not a literal API path",
      "suites/demo/unreadable.e2e.test.ts:5: core.readNamespacedWidget (add its kind to KINDS or its verb to METHOD_VERBS)",
      "suites/demo/unreadable.e2e.test.ts:8: new Exec(...) outside kube.ts and watch.ts",
      'suites/demo/unreadable.e2e.test.ts:7: kubectl with kinds given as arguments: add "suites/demo/unreadable.e2e.test.ts#kubectl" to DYNAMIC',
    ]);
    expect(show(result.needs)).toEqual(["get configmaps in kube-system"]);
  });

  test("should count a permission in one namespace only for a call in that namespace", () => {
    const need = (namespace?: string): ApiNeed => ({ resource: "configmaps", verb: "get", namespace, at: "x.ts:1" });
    const inKubePublic: Permission = {
      resource: "configmaps",
      verbs: ["get"],
      scenarios: [],
      namespace: "kube-public",
    };
    const everywhere: Permission = { resource: "configmaps", verbs: ["get", "list"], scenarios: [] };
    expect(uncovered([need(), need("kube-public")], [inKubePublic])).toEqual([need()]);
    expect(uncovered([need(), need("kube-public")], [everywhere])).toEqual([]);
    expect(uncovered([{ ...need(), verb: "watch" }], [everywhere])).toHaveLength(1);
  });
});

describe("permission scan: this repository", () => {
  /** [suite, scenario, file] of every scenario file. */
  const scenarios = readdirSync(SUITES).flatMap((suite) =>
    readdirSync(join(SUITES, suite))
      .filter((file) => file.endsWith(".e2e.test.ts"))
      .map((file) => [suite, file.replace(/(\.disruptive)?\.e2e\.test\.ts$/, ""), `suites/${suite}/${file}`] as const),
  );

  test("should find the scenarios", () => {
    expect(scenarios.length).toBeGreaterThan(20);
  });

  test("should declare every permission each scenario's API calls need", () => {
    const problems: string[] = [];
    for (const [suite, scenario, file] of scenarios) {
      // What the preflight checks for the suite, narrowed to the entries that name this scenario.
      const declared = permissionsFor(SUITES, [suite], false).filter((p) =>
        p.scenarios.some((s) => s.startsWith("harness/") || s === `${suite}/${scenario}`),
      );
      const { needs, unknown } = scanApiCalls(ROOT, [file]);
      expect(needs.length, `API calls found for ${file}`).toBeGreaterThan(5);
      problems.push(...unknown.map((u) => `${suite}/${scenario}: cannot read ${u}`));
      problems.push(...showNeeds(uncovered(needs, declared)).map((n) => `${suite}/${scenario}: ${n}`));
    }
    expect(problems).toEqual([]);
  }, 30_000); // about 2 s, more on a loaded machine

  test("should cover what the global setup and the canaries ask with HARNESS and CANARIES", () => {
    const setup = scanApiCalls(ROOT, ["helpers/framework/global-setup.ts"]);
    expect(setup.unknown).toEqual([]);
    expect(setup.needs.length).toBeGreaterThan(3);
    expect(showNeeds(uncovered(setup.needs, HARNESS))).toEqual([]);

    const canaries = scanApiCalls(ROOT, ["bin/canaries.ts"]);
    expect(canaries.unknown).toEqual([]);
    expect(canaries.manifests).toEqual(["canary"]);
    expect(showNeeds(uncovered(canaries.needs, [...HARNESS, ...CANARIES]))).toEqual([]);
  });

  test("should find production-app's watches of its Deployment and ReplicaSets", () => {
    const { needs } = scanApiCalls(ROOT, ["suites/production-app/production-app.e2e.test.ts"]);
    const watches = new Set(needs.filter((n) => n.verb === "watch").map((n) => n.resource));
    expect([...watches].sort()).toEqual(["deployments.apps", "pods", "replicasets.apps"]);
  });
});
