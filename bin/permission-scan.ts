/**
 * What the code actually asks of the API server, read from the sources, so that a permission the scenarios
 * need cannot be missing from `suites/<suite>/permissions.yaml` (or from HARNESS, CANARIES in
 * helpers/framework/permissions.ts) and turn into a 403 after the preflight passed. Used by
 * permission-scan.test.ts.
 *
 * From an entry file (a scenario, the global setup, the canaries) it follows what is used: every top-level
 * declaration the file refers to, in its own module or one it imports (relative imports, re-exports
 * followed), and what those refer to in turn; a helper module's unused functions do not count. In what is
 * reached it finds:
 *
 *   - calls of the typed clients of helpers/framework/kube.ts (`kube.core.listNamespacedPod(...)`): the
 *     method name says the verb, the kind and the subresource (clientMethod: METHOD_VERBS, KINDS,
 *     SUBRESOURCES); a call made only for some manifests is counted when they make it (CONDITIONAL);
 *   - `kube.exec.exec(...)`: create and get on pods/exec (a WebSocket upgrade is a GET);
 *   - `watchObjects(kube, "/apis/apps/v1/.../replicasets", ...)`: watch on the path's resource;
 *   - the generic client (`kube.objects.patch/list/delete`) and kubectl, whose kinds are arguments: each
 *     call site has an entry in DYNAMIC saying what it needs; server-side apply (manifests/apply.ts) needs
 *     create and patch on every kind of the manifests the reached code names (`"smoke/nginx-service"`), and
 *     delete on the cluster-scoped ones (apply registers their deletion).
 *
 * Anything it cannot read (an unknown method or kind, a watch path that is not a literal, an API client or
 * kubectl call made elsewhere) is reported, never skipped. Namespaces: a call naming a fixed namespace
 * (`{ namespace: "kube-system" }`, or a constant listed in FIXED_NAMESPACES) needs the permission in that
 * namespace; every other call needs it cluster-wide (the tests' namespaces have random names).
 *
 * Not seen: the generic client under another name than `kube` (`k.objects.patch`), and code reached only
 * through values the scan does not follow (a function stored in an object and called elsewhere is followed
 * only if the object's declaration is used).
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";
import { DESCRIBED_KINDS, KUBECTL_DESCRIBED_KINDS } from "../helpers/framework/diagnostics.ts";
import type { Permission } from "../helpers/framework/permissions.ts";
import { CLUSTER_SCOPED_KINDS } from "../helpers/manifests/template.ts";

export interface ApiNeed {
  /** As permissions.yaml spells it: `<plural>[.<group>][/<subresource>]`. */
  resource: string;
  verb: string;
  /** Only in this namespace; undefined: any namespace (cluster-wide). */
  namespace?: string | undefined;
  /** `helpers/observe/rollout.ts:238`: the call that needs it. */
  at: string;
}

export interface ScanResult {
  needs: ApiNeed[];
  /** Calls the scan cannot map to permissions, with where they are. */
  unknown: string[];
  /** Manifest paths (under manifests/) the reached code names. */
  manifests: string[];
}

/** Kinds by name: their resource as permissions.yaml spells it, and whether they are cluster-scoped. */
export const KINDS: Readonly<Record<string, { resource: string; cluster?: true }>> = {
  Pod: { resource: "pods" },
  Service: { resource: "services" },
  ServiceAccount: { resource: "serviceaccounts" },
  ConfigMap: { resource: "configmaps" },
  Secret: { resource: "secrets" },
  Event: { resource: "events" },
  PersistentVolumeClaim: { resource: "persistentvolumeclaims" },
  Namespace: { resource: "namespaces", cluster: true },
  Node: { resource: "nodes", cluster: true },
  PersistentVolume: { resource: "persistentvolumes", cluster: true },
  Deployment: { resource: "deployments.apps" },
  ReplicaSet: { resource: "replicasets.apps" },
  StatefulSet: { resource: "statefulsets.apps" },
  PodDisruptionBudget: { resource: "poddisruptionbudgets.policy" },
  DaemonSet: { resource: "daemonsets.apps" },
  Job: { resource: "jobs.batch" },
  EndpointSlice: { resource: "endpointslices.discovery.k8s.io" },
  StorageClass: { resource: "storageclasses.storage.k8s.io", cluster: true },
  Role: { resource: "roles.rbac.authorization.k8s.io" },
  RoleBinding: { resource: "rolebindings.rbac.authorization.k8s.io" },
  ClusterRole: { resource: "clusterroles.rbac.authorization.k8s.io", cluster: true },
  ClusterRoleBinding: { resource: "clusterrolebindings.rbac.authorization.k8s.io", cluster: true },
  PriorityClass: { resource: "priorityclasses.scheduling.k8s.io", cluster: true },
  RuntimeClass: { resource: "runtimeclasses.node.k8s.io", cluster: true },
  IngressClass: { resource: "ingressclasses.networking.k8s.io", cluster: true },
  ValidatingWebhookConfiguration: {
    resource: "validatingwebhookconfigurations.admissionregistration.k8s.io",
    cluster: true,
  },
  MutatingWebhookConfiguration: {
    resource: "mutatingwebhookconfigurations.admissionregistration.k8s.io",
    cluster: true,
  },
  CustomResourceDefinition: { resource: "customresourcedefinitions.apiextensions.k8s.io", cluster: true },
};

/** The typed clients of helpers/framework/kube.ts (`Kube`), by property name. */
const TYPED_CLIENTS = new Set(["core", "apps", "storage", "discovery", "version"]);

/** Method name prefixes of client-node's typed clients, and the RBAC verb each is. */
const METHOD_VERBS: Readonly<Record<string, string>> = {
  list: "list",
  read: "get",
  create: "create",
  patch: "patch",
  replace: "update",
  deleteCollection: "deletecollection",
  delete: "delete",
  connectGet: "get",
  connectPost: "create",
};

/** Method name suffixes that address a subresource. */
const SUBRESOURCES: Readonly<Record<string, string>> = {
  Log: "log",
  Eviction: "eviction",
  Status: "status",
  Scale: "scale",
  ProxyWithPath: "proxy",
  Proxy: "proxy",
};

/** Methods that need no permission: /version is readable by everyone (system:public-info-viewer). */
const NO_PERMISSION = new Set(["version.getCode"]);

const METHOD = new RegExp(
  `^(${Object.keys(METHOD_VERBS).join("|")})(Namespaced)?([A-Z][A-Za-z]*?)(${Object.keys(SUBRESOURCES).join("|")})?(ForAllNamespaces)?$`,
);

/**
 * `listNamespacedPod` → list pods; `readNamespacedPodLog` → get pods/log; `connectGetNodeProxyWithPath` → get
 * nodes/proxy. Undefined when the method or its kind is not known (the scan reports it); null when the
 * call needs no permission.
 */
export function clientMethod(client: string, method: string): { resource: string; verb: string } | undefined | null {
  if (NO_PERMISSION.has(`${client}.${method}`)) return null;
  if (client === "exec" && method === "exec") return { resource: "pods/exec", verb: "create" };
  const m = METHOD.exec(method);
  if (!m || !TYPED_CLIENTS.has(client)) return undefined;
  const [, prefix = "", , kind = "", suffix] = m;
  const known = KINDS[kind];
  const verb = METHOD_VERBS[prefix];
  if (known === undefined || verb === undefined) return undefined;
  return { resource: suffix ? `${known.resource}/${SUBRESOURCES[suffix]}` : known.resource, verb };
}

/** `/apis/apps/v1/namespaces/${ns}/replicasets` → replicasets.apps; `/api/v1/namespaces/x/pods` → pods. */
export function watchedResource(path: string): string | undefined {
  const m = /^\/(?:api\/v1|apis\/([a-z0-9.-]+)\/[a-z0-9]+)\/(?:.*\/)?([a-z]+)$/.exec(path);
  if (!m) return undefined;
  const [, group, plural = ""] = m;
  return group ? `${plural}.${group}` : plural;
}

/**
 * Constants that name an object in a fixed namespace (`{ namespace: "kube-public", name: ... }`): a call
 * passing one needs the permission only there. permission-scan.test.ts checks them against the constants.
 */
export const FIXED_NAMESPACES: Readonly<Record<string, string>> = {
  TESTBED_IMAGES_CONFIGMAP: "kube-public",
  TESTBED_INFO: "kube-public",
  TESTBED_CONFIGMAP: "kube-public",
};

/** What a call site of the generic client or of kubectl needs, given the kinds of the manifests the reached code names. */
type DynamicNeeds = (manifestKinds: readonly string[]) => Array<{ kind: string; verbs: string[] }>;

/**
 * The call sites whose kinds are arguments, by `<file>#<what>` (`objects.patch`, `kubectl`). A new one is
 * reported by the scan until it has an entry here.
 */
export const DYNAMIC: Readonly<Record<string, DynamicNeeds>> = {
  // Server-side apply of the manifests (create or patch); cluster-scoped objects get a registered delete.
  "helpers/manifests/apply.ts#objects.patch": (kinds) => kinds.map((kind) => ({ kind, verbs: ["create", "patch"] })),
  "helpers/manifests/apply.ts#objects.delete": (kinds) =>
    kinds.filter((kind) => KINDS[kind]?.cluster).map((kind) => ({ kind, verbs: ["delete"] })),
  // The keep-on-failure label on the test's namespace.
  "helpers/framework/fixtures.ts#objects.patch": () => [{ kind: "Namespace", verbs: ["patch"] }],
  // cordon / uncordon.
  "helpers/manifests/nodes.ts#objects.patch": () => [{ kind: "Node", verbs: ["patch"] }],
  // Our own describe when kubectl is missing (DESCRIBED_KINDS), and kubectl describe (KUBECTL_DESCRIBED_KINDS),
  // which reads the objects and the events about them.
  "helpers/framework/diagnostics.ts#objects.list": () => describedKinds().map((kind) => ({ kind, verbs: ["list"] })),
  "helpers/framework/diagnostics.ts#kubectl": () => [
    ...kubectlDescribedKinds().map((kind) => ({ kind, verbs: ["get", "list"] })),
    { kind: "Event", verbs: ["list"] },
  ],
  // The run-end sweep lists every kind it sweeps (SWEPT_KINDS); it deletes the run's namespaces and the
  // cluster-scoped objects the run's suites created, whose delete those suites have (see apply.ts above).
  "helpers/framework/cleanup.ts#objects.list": () =>
    ["Namespace", ...sweptClusterKinds()].map((kind) => ({ kind, verbs: ["list"] })),
  "helpers/framework/cleanup.ts#objects.delete": () => [{ kind: "Namespace", verbs: ["delete"] }],
};

const describedKinds = (): string[] => DESCRIBED_KINDS.map(([, kind]) => kind);
const sweptClusterKinds = (): string[] => CLUSTER_SCOPED_KINDS.map(({ kind }) => kind);

/** kubectl's resource names (`pods`, `pvc`) as kinds; an unknown one stays as it is and is reported as a kind. */
function kubectlDescribedKinds(): string[] {
  const aliases: Record<string, string> = { pvc: "PersistentVolumeClaim" };
  return KUBECTL_DESCRIBED_KINDS.split(",").map(
    (name) =>
      aliases[name] ?? Object.entries(KINDS).find(([, { resource }]) => resource.split(".")[0] === name)?.[0] ?? name,
  );
}

/** Functions whose second argument is a manifest path (helpers/manifests/apply.ts). */
const MANIFEST_LOADERS = new Set(["apply", "loadManifests"]);

/**
 * Calls made only for some manifests, by `<file>#<client>.<method>`: whether the manifests the reached code
 * names (their text) make them happen.
 */
export const CONDITIONAL: Readonly<Record<string, (manifests: readonly string[]) => boolean>> = {
  // apply() reads the Secrets a pod spec names in env (secretKeyRef, envFrom secretRef) and it does not apply
  // itself, to teach their values to the redactor.
  "helpers/manifests/apply.ts#core.readNamespacedSecret": (manifests) =>
    manifests.some((text) => /\b(secretKeyRef|secretRef):/.test(text)),
};

/** Functions that start a program: one whose name mentions kubectl talks to the API server. */
const PROCESS_STARTERS = new Set(["execa", "execaSync", "spawn", "spawnSync", "execFile", "execFileSync"]);

/** Where a file may construct API clients itself (the scan knows what the clients it makes can do). */
const CLIENT_FACTORIES = new Set(["helpers/framework/kube.ts", "helpers/observe/watch.ts"]);

/** A top-level name in a module file. */
interface Use {
  file: string;
  name: string;
}

interface Module {
  file: string;
  source: ts.SourceFile;
  /** Local name → the module and name it is imported from. */
  imports: Map<string, Use>;
  /** Exported name → the module and name it re-exports. */
  reexports: Map<string, Use>;
  /** Top-level declarations by name. */
  declarations: Map<string, ts.Node>;
  /** Top-level statements that declare nothing (they run on import). */
  effects: ts.Node[];
}

/** The absolute path of a relative import; undefined for a package. */
function relativeTarget(file: string, specifier: ts.Expression | undefined): string | undefined {
  return specifier && ts.isStringLiteral(specifier) && specifier.text.startsWith(".")
    ? resolve(dirname(file), specifier.text)
    : undefined;
}

function addImports(module: Module, statement: ts.ImportDeclaration): void {
  const from = relativeTarget(module.file, statement.moduleSpecifier);
  const clause = statement.importClause;
  if (from === undefined || clause === undefined || clause.isTypeOnly) return;
  if (clause.name) module.imports.set(clause.name.text, { file: from, name: "default" });
  const bindings = clause.namedBindings;
  if (bindings && ts.isNamespaceImport(bindings)) module.imports.set(bindings.name.text, { file: from, name: "*" });
  else if (bindings) {
    for (const element of bindings.elements.filter((e) => !e.isTypeOnly)) {
      module.imports.set(element.name.text, { file: from, name: (element.propertyName ?? element.name).text });
    }
  }
}

function addReexports(module: Module, statement: ts.ExportDeclaration): void {
  const from = relativeTarget(module.file, statement.moduleSpecifier);
  const clause = statement.exportClause;
  if (from === undefined || statement.isTypeOnly || clause === undefined || !ts.isNamedExports(clause)) return;
  for (const element of clause.elements) {
    module.reexports.set(element.name.text, { file: from, name: (element.propertyName ?? element.name).text });
  }
}

/** Adds what `statement` declares; false for a statement that does something when the module loads. */
function addDeclarations(module: Module, statement: ts.Statement): boolean {
  if (ts.isFunctionDeclaration(statement) || ts.isClassDeclaration(statement)) {
    if (statement.name) module.declarations.set(statement.name.text, statement);
    return true;
  }
  if (ts.isVariableStatement(statement)) {
    for (const declaration of statement.declarationList.declarations) {
      for (const name of boundNames(declaration.name)) module.declarations.set(name, declaration);
    }
    return true;
  }
  return ts.isInterfaceDeclaration(statement) || ts.isTypeAliasDeclaration(statement) || ts.isEmptyStatement(statement);
}

function loadModule(file: string): Module {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
  const module: Module = {
    file,
    source,
    imports: new Map(),
    reexports: new Map(),
    declarations: new Map(),
    effects: [],
  };
  for (const statement of source.statements) {
    if (ts.isImportDeclaration(statement)) addImports(module, statement);
    else if (ts.isExportDeclaration(statement)) addReexports(module, statement);
    else if (!addDeclarations(module, statement)) module.effects.push(statement);
  }
  return module;
}

function boundNames(name: ts.BindingName): string[] {
  if (ts.isIdentifier(name)) return [name.text];
  return name.elements.flatMap((element) => (ts.isOmittedExpression(element) ? [] : boundNames(element.name)));
}

/** An identifier that is a property name (`x.name`, `{ name: ... }`), not a reference to a declaration. */
function isPropertyName(node: ts.Identifier): boolean {
  const parent = node.parent;
  return (
    (ts.isPropertyAccessExpression(parent) && parent.name === node) ||
    (ts.isPropertyAssignment(parent) && parent.name === node) ||
    (ts.isMethodDeclaration(parent) && parent.name === node) ||
    (ts.isPropertyDeclaration(parent) && parent.name === node)
  );
}

/** `a.b.c` of a property access chain ending in identifiers, e.g. ["ns", "kube", "core", "readNamespacedPod"]. */
function accessChain(node: ts.Expression): string[] {
  if (ts.isIdentifier(node)) return [node.text];
  if (ts.isPropertyAccessExpression(node)) return [...accessChain(node.expression), node.name.text];
  return ["?"];
}

/** Text of a string literal, or of a template literal's parts outside `${...}` (`${base}` becomes `*`). */
function literalText(node: ts.Node): string | undefined {
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return node.text;
  if (ts.isTemplateExpression(node)) {
    return node.head.text + node.templateSpans.map((span) => `*${span.literal.text}`).join("");
  }
  return undefined;
}

/** The namespace one property of a call's argument object fixes: `namespace: "x"` or `...TESTBED_INFO`. */
function namespaceOf(property: ts.ObjectLiteralElementLike): string | undefined {
  if (ts.isSpreadAssignment(property)) {
    return ts.isIdentifier(property.expression) ? FIXED_NAMESPACES[property.expression.text] : undefined;
  }
  const named = ts.isPropertyAssignment(property) && ts.isIdentifier(property.name) ? property : undefined;
  return named?.name.getText() === "namespace" && ts.isStringLiteral(named.initializer)
    ? named.initializer.text
    : undefined;
}

/** The namespace a call's first argument fixes: `{ namespace: "kube-system" }`, or a FIXED_NAMESPACES constant. */
function fixedNamespace(call: ts.CallExpression): string | undefined {
  const [first] = call.arguments;
  if (first !== undefined && ts.isIdentifier(first)) return FIXED_NAMESPACES[first.text];
  if (first === undefined || !ts.isObjectLiteralExpression(first)) return undefined;
  return first.properties.map(namespaceOf).find((namespace) => namespace !== undefined);
}

/** The YAML files under a manifest path: the file, or every one in the folder and below. */
function manifestFiles(manifestsDir: string, path: string): string[] {
  const full = join(manifestsDir, path);
  if (!statSync(full).isDirectory()) return [full];
  return readdirSync(full, { recursive: true, encoding: "utf8" })
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => join(full, f));
}

/** The top-level `kind:` of every document under a manifest path. */
export function manifestKinds(manifestsDir: string, path: string): string[] {
  return manifestFiles(manifestsDir, path).flatMap((file) =>
    [...readFileSync(file, "utf8").matchAll(/^kind:\s*(\w+)/gm)].map((m) => m[1] ?? ""),
  );
}

/**
 * The manifest path a literal names: `area/behaviour[/file.yaml]` anywhere (constants too), a bare folder
 * name (`canary`) only as the path argument of apply().
 */
function manifestPath(manifestsDir: string, literal: ts.Node, text: string): string | undefined {
  const parent = literal.parent;
  const loaderArgument =
    ts.isCallExpression(parent) &&
    parent.arguments[1] === literal &&
    ts.isIdentifier(parent.expression) &&
    MANIFEST_LOADERS.has(parent.expression.text);
  const path = text.split("*")[0]?.replace(/\/$/, "") ?? "";
  if (!loaderArgument && !path.includes("/")) return undefined;
  if (!/^[a-z0-9][a-z0-9./-]*$/.test(path)) return undefined;
  return existsSync(join(manifestsDir, path)) ? path : undefined;
}

/** What one top-level declaration or statement does, read once per process. */
interface Facts {
  /** The top-level names it refers to. */
  uses: Use[];
  /** Typed client calls, exec and watches; `condition` names a CONDITIONAL entry. */
  needs: Array<ApiNeed & { condition?: string }>;
  /** Call sites whose kinds are arguments (DYNAMIC keys). */
  dynamic: Array<{ key: string; at: string }>;
  manifests: string[];
  unknown: string[];
}

const FACTS = new WeakMap<ts.Node, Facts>();

/** Reads the facts of one top-level node of `module` (file names relative to root). */
function factsOf(root: string, module: Module, top: ts.Node): Facts {
  const cached = FACTS.get(top);
  if (cached) return cached;
  const file = relative(root, module.file);
  const facts: Facts = { uses: [], needs: [], dynamic: [], manifests: [], unknown: [] };
  const at = (node: ts.Node): string =>
    `${file}:${module.source.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;
  const visit = (node: ts.Node): void => {
    if (ts.isIdentifier(node)) referenceFacts(facts, module, node);
    const text = literalText(node);
    const path = text === undefined ? undefined : manifestPath(join(root, "manifests"), node, text);
    if (path) facts.manifests.push(path);
    if (ts.isCallExpression(node)) callFacts(facts, file, node, at(node));
    if (ts.isNewExpression(node) && ts.isIdentifier(node.expression) && STREAM_CLIENTS.has(node.expression.text)) {
      if (!CLIENT_FACTORIES.has(file)) {
        facts.unknown.push(`${at(node)}: new ${node.expression.text}(...) outside kube.ts and watch.ts`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(top);
  FACTS.set(top, facts);
  return facts;
}

/** An identifier naming an import or a top-level declaration of its module is a use of it. */
function referenceFacts(facts: Facts, module: Module, node: ts.Identifier): void {
  if (isPropertyName(node)) return;
  const imported = module.imports.get(node.text);
  if (imported) facts.uses.push(imported);
  else if (module.declarations.has(node.text)) facts.uses.push({ file: module.file, name: node.text });
}

/** client-node classes that talk to the API server over their own connections. */
const STREAM_CLIENTS = new Set(["Watch", "Exec", "Log", "Attach", "PortForward"]);

/** Adds what one call asks of the API server. */
function callFacts(facts: Facts, file: string, call: ts.CallExpression, at: string): void {
  const chain = accessChain(call.expression);
  const method = chain.at(-1) ?? "";
  const client = chain.at(-2) ?? "";
  const onKube = chain.at(-3) === "kube";
  if (method === "makeApiClient" && !CLIENT_FACTORIES.has(file)) {
    facts.unknown.push(`${at}: an API client made outside helpers/framework/kube.ts`);
  }
  if ((TYPED_CLIENTS.has(client) && (onKube || METHOD.test(method))) || (client === "exec" && onKube)) {
    typedCallFacts(facts, `${file}#${client}.${method}`, call, at);
  }
  if (client === "objects" && onKube) facts.dynamic.push({ key: `${file}#objects.${method}`, at });
  if (chain.length === 1 && method === "watchObjects") watchFacts(facts, call, at);
  const [program] = call.arguments;
  if (PROCESS_STARTERS.has(method) && program && /kubectl/i.test(program.getText())) {
    facts.dynamic.push({ key: `${file}#kubectl`, at });
  }
}

/** `watchObjects(kube, "<API path>", ...)`: watch on the path's resource. */
function watchFacts(facts: Facts, call: ts.CallExpression, at: string): void {
  const path = call.arguments[1] && literalText(call.arguments[1]);
  const resource = path === undefined ? undefined : watchedResource(path);
  if (resource === undefined) facts.unknown.push(`${at}: watchObjects with a path that is not a literal API path`);
  else facts.needs.push({ resource, verb: "watch", at });
}

/** A call of a typed client (`key`: `<file>#<client>.<method>`). */
function typedCallFacts(facts: Facts, key: string, call: ts.CallExpression, at: string): void {
  const [client = "", method = ""] = key.split("#")[1]?.split(".") ?? [];
  const mapped = clientMethod(client, method);
  if (mapped === undefined) {
    facts.unknown.push(`${at}: ${client}.${method} (add its kind to KINDS or its verb to METHOD_VERBS)`);
    return;
  }
  if (mapped === null) return;
  const common = { namespace: fixedNamespace(call), at, ...(CONDITIONAL[key] ? { condition: key } : {}) };
  facts.needs.push({ ...mapped, ...common });
  if (mapped.resource === "pods/exec") facts.needs.push({ ...mapped, verb: "get", ...common });
}

/** What the generic client and kubectl call sites need, given the kinds of the manifests in reach. */
function dynamicNeeds(sites: ReadonlyArray<{ key: string; at: string }>, kinds: readonly string[]): ScanResult {
  const result: ScanResult = { needs: [], unknown: [], manifests: [] };
  for (const { key, at } of sites) {
    const dynamic = DYNAMIC[key];
    if (dynamic === undefined) {
      result.unknown.push(`${at}: ${key.split("#")[1]} with kinds given as arguments: add "${key}" to DYNAMIC`);
      continue;
    }
    for (const { kind, verbs } of dynamic(kinds)) {
      const known = KINDS[kind];
      if (known === undefined) result.unknown.push(`${at}: kind ${kind} is not in KINDS`);
      else for (const verb of verbs) result.needs.push({ resource: known.resource, verb, at });
    }
  }
  return result;
}

/** Parsed modules, shared by the scans of one process (the sources do not change while it runs). */
const PARSED = new Map<string, Module>();

class Scan {
  readonly #root: string;
  /** Modules loaded by this scan: what they do on import is queued once. */
  readonly #loaded = new Set<string>();
  readonly #used = new Set<string>();
  readonly #queue: Array<{ module: Module; node: ts.Node }> = [];

  constructor(root: string) {
    this.#root = root;
  }

  #module(file: string): Module | undefined {
    if (!existsSync(file)) return undefined;
    const module = PARSED.get(file) ?? loadModule(file);
    PARSED.set(file, module);
    if (!this.#loaded.has(file)) {
      this.#loaded.add(file);
      for (const effect of module.effects) this.#queue.push({ module, node: effect });
    }
    return module;
  }

  #use({ file, name }: Use): void {
    const key = `${file}#${name}`;
    if (this.#used.has(key)) return;
    this.#used.add(key);
    const module = this.#module(file);
    if (module === undefined) return;
    const declarations = name === "*" ? [...module.declarations.values()] : [module.declarations.get(name)];
    for (const node of declarations) if (node) this.#queue.push({ module, node });
    const reexport = module.reexports.get(name);
    if (reexport) this.#use(reexport);
  }

  /** Everything `file` declares or re-exports is used (a scenario file, the global setup). */
  entry(file: string): void {
    const module = this.#module(resolve(this.#root, file));
    if (module === undefined) throw new Error(`no such file: ${file}`);
    for (const name of module.declarations.keys()) this.#use({ file: module.file, name });
    for (const from of module.reexports.values()) this.#use(from);
  }

  run(): ScanResult {
    const reached: Facts[] = [];
    for (let item = this.#queue.shift(); item !== undefined; item = this.#queue.shift()) {
      const facts = factsOf(this.#root, item.module, item.node);
      reached.push(facts);
      for (const use of facts.uses) this.#use(use);
    }
    const manifests = [...new Set(reached.flatMap((f) => f.manifests))].sort();
    const manifestsDir = join(this.#root, "manifests");
    const texts = manifests.flatMap((p) => manifestFiles(manifestsDir, p)).map((f) => readFileSync(f, "utf8"));
    const kinds = [...new Set(manifests.flatMap((path) => manifestKinds(manifestsDir, path)))];
    const dynamic = dynamicNeeds(
      reached.flatMap((f) => f.dynamic),
      kinds,
    );
    const needs = reached
      .flatMap((f) => f.needs)
      .filter(({ condition }) => condition === undefined || CONDITIONAL[condition]?.(texts))
      .map(({ condition: _, ...need }): ApiNeed => need);
    return {
      needs: [...needs, ...dynamic.needs],
      unknown: [...reached.flatMap((f) => f.unknown), ...dynamic.unknown],
      manifests,
    };
  }
}

/** Scans what the entry files (relative to root) and everything they use ask of the API server. */
export function scanApiCalls(root: string, entries: readonly string[]): ScanResult {
  const scan = new Scan(root);
  for (const entry of entries) scan.entry(entry);
  return scan.run();
}

/** The needs no permission covers: same resource and verb, cluster-wide or in the need's namespace. */
export function uncovered(needs: readonly ApiNeed[], permissions: readonly Permission[]): ApiNeed[] {
  return needs.filter(
    (need) =>
      !permissions.some(
        (p) =>
          p.resource === need.resource &&
          p.verbs.includes(need.verb) &&
          (p.namespace === undefined || p.namespace === need.namespace),
      ),
  );
}

/** `watch deployments.apps (helpers/observe/rollout.ts:252)`, one per resource and verb, first call named. */
export function showNeeds(needs: readonly ApiNeed[]): string[] {
  const first = new Map<string, ApiNeed>();
  for (const need of needs) {
    const key = `${need.verb} ${need.resource}${need.namespace ? ` in namespace ${need.namespace}` : ""}`;
    if (!first.has(key)) first.set(key, need);
  }
  return [...first].map(([key, need]) => `${key} (${need.at})`);
}
