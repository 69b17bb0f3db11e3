import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, test } from "vitest";
import { CLUSTER_SCOPED_KINDS } from "../manifests/template.ts";
import {
  CLUSTER_SCOPED_RESOURCES,
  missingLine,
  needs,
  type Permission,
  parseResource,
  parseSuitePermissions,
  permissionsFor,
  rbacRules,
  renderPermissionTable,
  renderRbac,
} from "./permissions.ts";

const ROOT = resolve(import.meta.dirname, "..", "..");

describe("parseResource", () => {
  test("should split group and subresource", () => {
    expect(parseResource("deployments.apps")).toEqual({
      group: "apps",
      resource: "deployments",
      subresource: undefined,
    });
    expect(parseResource("pods/exec")).toEqual({ group: "", resource: "pods", subresource: "exec" });
    expect(parseResource("endpointslices.discovery.k8s.io")).toMatchObject({ group: "discovery.k8s.io" });
  });
});

describe("parseSuitePermissions", () => {
  test("should prefix scenarios with the suite", () => {
    const parsed = parseSuitePermissions(
      "smoke",
      "- resource: pods\n  verbs: [create]\n  scenarios: [nginx-service]\n",
    );
    expect(parsed).toEqual([{ resource: "pods", verbs: ["create"], scenarios: ["smoke/nginx-service"] }]);
  });

  test("should refuse an entry without scenarios, naming the file and entry", () => {
    expect(() => parseSuitePermissions("smoke", "- resource: pods\n  verbs: [create]\n")).toThrow(
      "suites/smoke/permissions.yaml entry 1: scenarios must name the files that need pods",
    );
  });
});

describe("needs and rules", () => {
  const permissions: Permission[] = [
    { resource: "pods", verbs: ["get", "list"], scenarios: ["harness/x"] },
    { resource: "pods", verbs: ["create", "get"], scenarios: ["smoke/a"] },
    { resource: "pods/exec", verbs: ["create", "get"], scenarios: ["smoke/a"] },
    { resource: "configmaps", verbs: ["get"], namespace: "kube-public", scenarios: ["harness/y"] },
  ];

  test("should ask once per resource, verb and namespace, remembering every scenario", () => {
    const flat = needs(permissions);
    expect(flat.map((n) => `${n.verb} ${n.resource}`)).toEqual([
      "get pods",
      "list pods",
      "create pods",
      "create pods/exec",
      "get pods/exec",
      "get configmaps",
    ]);
    expect(flat[0]?.scenarios).toEqual(["harness/x", "smoke/a"]);
  });

  test("should merge verbs of one resource into one rule", () => {
    expect(rbacRules(permissions.filter((p) => !p.namespace))).toEqual([
      { apiGroups: [""], resources: ["pods/exec"], verbs: ["create", "get"] },
      { apiGroups: [""], resources: ["pods"], verbs: ["create", "get", "list"] },
    ]);
  });

  test("should name the identity, the first missing permission and its scenarios in one line", () => {
    const line = missingLine("system:serviceaccount:a:b", needs(permissions).slice(3));
    expect(line).toBe(
      'identity "system:serviceaccount:a:b" may not create pods/exec, needed by smoke/a (and 2 more: npm run e2e -- permissions lists them); grant manifests/rbac/ or deselect with --suite',
    );
    expect(line).not.toContain("\n");
  });
});

describe("the sweep's kinds", () => {
  test("should be listable for every cluster-scoped kind the template knows", () => {
    const groups = CLUSTER_SCOPED_KINDS.map(({ apiVersion }) =>
      apiVersion.includes("/") ? apiVersion.split("/")[0] : "",
    );
    const listed = CLUSTER_SCOPED_RESOURCES.map((r) => parseResource(r).group);
    expect(listed).toEqual(groups);
  });
});

describe("the committed RBAC manifest and permissions table", () => {
  const all = permissionsFor(join(ROOT, "suites"));

  test("should match the suites' permissions (regenerate with npm run e2e -- permissions --write)", () => {
    expect(readFileSync(join(ROOT, "manifests", "rbac", "rbac.yaml"), "utf8")).toBe(renderRbac(all));
    // The formatter pads markdown tables: compare cells, not padding.
    const cells = (text: string): string => text.replace(/ *\| */g, "|").replace(/-{3,}/g, "---");
    expect(cells(readFileSync(join(ROOT, "docs", "permissions.md"), "utf8"))).toContain(
      cells(renderPermissionTable(all)),
    );
  });
});
