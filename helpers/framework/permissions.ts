/**
 * What the suite may do to a cluster, per suite: the data behind manifests/rbac/clusterrole.yaml,
 * docs/permissions.md and the CLI's preflight (one SelfSubjectAccessReview per verb before any test runs).
 *
 * The harness's needs (namespaces, diagnostics, the test bed's ConfigMaps) are listed here; each suite lists
 * its own in `suites/<suite>/permissions.yaml` (bin/permission-scan.test.ts checks both against the API calls
 * the code makes):
 *
 *   - resource: pods/exec            # <plural>[.<group>][/<subresource>]; "deployments.apps", "nodes"
 *     verbs: [create, get]            # get too: exec is an HTTP GET upgraded to a WebSocket
 *     scenarios: [nginx-service]      # the files (suites/<suite>/<scenario>.e2e.test.ts) that need it
 *     cluster: true                   # optional: cluster-scoped resource
 *     namespace: kube-public          # optional: only in this namespace (a Role there, not the ClusterRole)
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";

export interface Permission {
  /** `<plural>[.<group>][/<subresource>]`, e.g. `deployments.apps`, `pods/exec`. */
  resource: string;
  verbs: string[];
  /** `<suite>/<scenario>` (or `harness/<what>`) of each user of this permission. */
  scenarios: string[];
  cluster?: boolean;
  namespace?: string;
}

export interface ResourceName {
  group: string;
  resource: string;
  subresource: string | undefined;
}

/** `deployments.apps` → {group: "apps", resource: "deployments"}; `pods/exec` → {group: "", resource: "pods", subresource: "exec"}. */
export function parseResource(name: string): ResourceName {
  const [main = "", subresource] = name.split("/");
  const dot = main.indexOf(".");
  return {
    group: dot < 0 ? "" : main.slice(dot + 1),
    resource: dot < 0 ? main : main.slice(0, dot),
    subresource: subresource || undefined,
  };
}

/** Plural names of the cluster-scoped kinds the sweep lists (a unit test keeps them in step with the template's). */
export const CLUSTER_SCOPED_RESOURCES = [
  "persistentvolumes",
  "storageclasses.storage.k8s.io",
  "clusterroles.rbac.authorization.k8s.io",
  "clusterrolebindings.rbac.authorization.k8s.io",
  "priorityclasses.scheduling.k8s.io",
  "runtimeclasses.node.k8s.io",
  "ingressclasses.networking.k8s.io",
  "validatingwebhookconfigurations.admissionregistration.k8s.io",
  "mutatingwebhookconfigurations.admissionregistration.k8s.io",
  "customresourcedefinitions.apiextensions.k8s.io",
];

/** What every run needs, whatever suites are selected. */
export const HARNESS: readonly Permission[] = [
  {
    resource: "namespaces",
    verbs: ["create", "get", "list", "patch", "delete"],
    cluster: true,
    scenarios: ["harness/test namespaces, keep-on-failure label, cleanup"],
  },
  { resource: "serviceaccounts", verbs: ["get"], scenarios: ["harness/wait for the default ServiceAccount"] },
  { resource: "nodes", verbs: ["get", "list"], cluster: true, scenarios: ["harness/banner, diagnostics, node access"] },
  { resource: "events", verbs: ["list"], scenarios: ["harness/diagnostics"] },
  {
    resource: "storageclasses.storage.k8s.io",
    verbs: ["list"],
    cluster: true,
    scenarios: ["harness/report: storage classes"],
  },
  { resource: "pods", verbs: ["get", "list", "watch"], scenarios: ["harness/diagnostics, waits"] },
  { resource: "pods/log", verbs: ["get"], scenarios: ["harness/diagnostics"] },
  ...["deployments.apps", "replicasets.apps", "statefulsets.apps", "daemonsets.apps", "jobs.batch"].map((resource) => ({
    resource,
    verbs: ["get", "list"],
    scenarios: ["harness/diagnostics (describe); DaemonSets of kube-system name the pod network"],
  })),
  ...["services", "persistentvolumeclaims", "endpointslices.discovery.k8s.io"].map((resource) => ({
    resource,
    verbs: ["get", "list"],
    scenarios: ["harness/diagnostics (describe)"],
  })),
  // Our own describe, when kubectl is missing, lists ConfigMaps too (never Secrets).
  { resource: "configmaps", verbs: ["list"], scenarios: ["harness/diagnostics (describe without kubectl)"] },
  // The run-end sweep looks for its cluster-scoped objects by label (manifests/template.ts CLUSTER_SCOPED_KINDS).
  ...CLUSTER_SCOPED_RESOURCES.map((resource) => ({
    resource,
    verbs: ["list"],
    cluster: true,
    scenarios: ["harness/cleanup sweep"],
  })),
  {
    resource: "configmaps",
    verbs: ["get"],
    namespace: "kube-public",
    scenarios: ["harness/test bed image list and node network"],
  },
];

/** What `run --baseline` / `--compare` add: the canaries in koc-canary (bin/canaries.ts). */
export const CANARIES: readonly Permission[] = [
  ...["configmaps", "secrets", "services", "deployments.apps", "statefulsets.apps", "poddisruptionbudgets.policy"].map(
    (resource) => ({
      resource,
      verbs: ["create", "patch", "get"],
      scenarios: ["canaries/deploy and compare"],
    }),
  ),
  { resource: "pods/exec", verbs: ["create", "get"], scenarios: ["canaries/checksums and serving"] },
  { resource: "replicasets.apps", verbs: ["list"], scenarios: ["canaries/serving ReplicaSet"] },
];

function isStringList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === "string" && v !== "");
}

/** Parses a suite's permissions.yaml; throws with the file and entry when an entry is malformed. */
export function parseSuitePermissions(
  suite: string,
  text: string,
  file = `suites/${suite}/permissions.yaml`,
): Permission[] {
  const data: unknown = parse(text) ?? [];
  if (!Array.isArray(data)) throw new Error(`${file}: expected a list of permissions`);
  return data.map((entry: Record<string, unknown>, i) => {
    const where = `${file} entry ${i + 1}`;
    if (typeof entry?.resource !== "string" || entry.resource === "") throw new Error(`${where}: resource missing`);
    if (!isStringList(entry.verbs) || entry.verbs.length === 0) throw new Error(`${where}: verbs must be a list`);
    if (!isStringList(entry.scenarios) || entry.scenarios.length === 0) {
      throw new Error(`${where}: scenarios must name the files that need ${entry.resource}`);
    }
    return {
      resource: entry.resource,
      verbs: entry.verbs,
      scenarios: entry.scenarios.map((s) => `${suite}/${s}`),
      ...(entry.cluster === true ? { cluster: true } : {}),
      ...(typeof entry.namespace === "string" ? { namespace: entry.namespace } : {}),
    };
  });
}

/**
 * The harness's permissions plus those of the given suites (all suites with a permissions.yaml when empty),
 * and the canaries' when asked (always in the RBAC manifest).
 */
export function permissionsFor(suitesDir: string, suites: readonly string[] = [], canaries = true): Permission[] {
  const chosen =
    suites.length > 0
      ? suites
      : readdirSync(suitesDir).filter((s) => existsSync(join(suitesDir, s, "permissions.yaml")));
  const perSuite = [...chosen].sort().flatMap((suite) => {
    const file = join(suitesDir, suite, "permissions.yaml");
    return existsSync(file) ? parseSuitePermissions(suite, readFileSync(file, "utf8")) : [];
  });
  return [...HARNESS, ...(canaries ? CANARIES : []), ...perSuite];
}

/** One (resource, verb, namespace) the preflight asks about, with everything that needs it. */
export interface Need {
  resource: string;
  verb: string;
  namespace: string | undefined;
  scenarios: string[];
}

/** Flattens permissions into one need per resource, verb and namespace, in first-mention order. */
export function needs(permissions: readonly Permission[]): Need[] {
  const byKey = new Map<string, Need>();
  for (const p of permissions) {
    for (const verb of p.verbs) {
      const key = `${p.resource} ${verb} ${p.namespace ?? ""}`;
      const need = byKey.get(key) ?? { resource: p.resource, verb, namespace: p.namespace, scenarios: [] };
      for (const s of p.scenarios) if (!need.scenarios.includes(s)) need.scenarios.push(s);
      byKey.set(key, need);
    }
  }
  return [...byKey.values()];
}

/** `create pods/exec` or `get configmaps in kube-public`. */
export function showNeed(need: Pick<Need, "resource" | "verb" | "namespace">): string {
  return `${need.verb} ${need.resource}${need.namespace ? ` in namespace ${need.namespace}` : ""}`;
}

/** The one line the CLI prints when the identity lacks permissions. */
export function missingLine(identity: string, missing: readonly Need[]): string {
  const [first] = missing;
  if (first === undefined) return `identity "${identity}" has every permission the selected suites need`;
  const users = first.scenarios.slice(0, 3).join(", ") + (first.scenarios.length > 3 ? ", ..." : "");
  const more = missing.length > 1 ? ` (and ${missing.length - 1} more: npm run e2e -- permissions lists them)` : "";
  return `identity "${identity}" may not ${showNeed(first)}, needed by ${users}${more}; grant manifests/rbac/ or deselect with --suite`;
}

interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

/** RBAC rules for the given permissions: one rule per API group and verb set, resources sorted. */
export function rbacRules(permissions: readonly Permission[]): PolicyRule[] {
  const verbsOf = new Map<string, Set<string>>(); // "group\tresource[/sub]" -> verbs
  for (const p of permissions) {
    const { group, resource, subresource } = parseResource(p.resource);
    const key = `${group}\t${resource}${subresource ? `/${subresource}` : ""}`;
    const verbs = verbsOf.get(key) ?? new Set<string>();
    for (const v of p.verbs) verbs.add(v);
    verbsOf.set(key, verbs);
  }
  const rules = new Map<string, PolicyRule>();
  for (const [key, verbSet] of [...verbsOf.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const [group = "", resource = ""] = key.split("\t");
    const verbs = [...verbSet].sort();
    const ruleKey = `${group}\t${verbs.join(",")}`;
    const rule = rules.get(ruleKey) ?? { apiGroups: [group], resources: [], verbs };
    rule.resources.push(resource);
    rules.set(ruleKey, rule);
  }
  return [...rules.values()].sort(
    (a, b) =>
      (a.apiGroups[0] ?? "").localeCompare(b.apiGroups[0] ?? "") || a.verbs.join().localeCompare(b.verbs.join()),
  );
}

export const RBAC_NAME = "k8s-ops-conformance";
export const RBAC_NAMESPACE = "k8s-ops-conformance";

/** manifests/rbac/rbac.yaml: ServiceAccount, ClusterRole + binding, and a Role + binding per extra namespace. */
export function renderRbac(permissions: readonly Permission[]): string {
  const labels = { "app.kubernetes.io/name": RBAC_NAME };
  const subject = { kind: "ServiceAccount", name: RBAC_NAME, namespace: RBAC_NAMESPACE };
  const docs: object[] = [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: RBAC_NAMESPACE, labels } },
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: RBAC_NAME, namespace: RBAC_NAMESPACE, labels } },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: RBAC_NAME, labels },
      rules: rbacRules(permissions.filter((p) => p.namespace === undefined)),
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: RBAC_NAME, labels },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: RBAC_NAME },
      subjects: [subject],
    },
  ];
  const namespaces = [...new Set(permissions.flatMap((p) => (p.namespace ? [p.namespace] : [])))].sort();
  for (const namespace of namespaces) {
    docs.push(
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "Role",
        metadata: { name: RBAC_NAME, namespace, labels },
        rules: rbacRules(permissions.filter((p) => p.namespace === namespace)),
      },
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: { name: RBAC_NAME, namespace, labels },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: RBAC_NAME },
        subjects: [subject],
      },
    );
  }
  const header =
    "# Least-privilege identity for k8s-ops-conformance: exactly what the harness and every suite need.\n" +
    "# Generated from suites/*/permissions.yaml and helpers/framework/permissions.ts by\n" +
    "# `npm run e2e -- permissions --write`; docs/permissions.md says which scenario needs what.\n";
  return header + docs.map((d) => `---\n${stringify(d)}`).join("");
}

/** The table of docs/permissions.md: one row per resource, verb set and scope, with the scenarios. */
export function renderPermissionTable(permissions: readonly Permission[]): string {
  const rows = needs(permissions);
  const grouped = new Map<string, { resource: string; scope: string; verbs: string[]; scenarios: string[] }>();
  for (const n of rows) {
    const scenarios = n.scenarios.join(", ");
    const p = permissions.find((x) => x.resource === n.resource && x.namespace === n.namespace);
    const scope = n.namespace ? `namespace ${n.namespace}` : p?.cluster ? "cluster" : "test namespaces";
    const key = `${n.resource}\t${scope}\t${scenarios}`;
    const row = grouped.get(key) ?? { resource: n.resource, scope, verbs: [], scenarios: n.scenarios };
    row.verbs.push(n.verb);
    grouped.set(key, row);
  }
  const lines = ["| resource | verbs | scope | needed by |", "| --- | --- | --- | --- |"];
  for (const row of grouped.values()) {
    lines.push(`| \`${row.resource}\` | ${row.verbs.join(", ")} | ${row.scope} | ${row.scenarios.join(", ")} |`);
  }
  return `${lines.join("\n")}\n`;
}
