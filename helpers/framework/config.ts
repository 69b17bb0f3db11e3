/**
 * The run's configuration: read from KOC_* environment variables once, validated, frozen.
 *
 * The CLI validates flags and environment, then hands the result to vitest through the same KOC_* variables,
 * so tests and the CLI read one format. Reading is lazy (`config()`), so importing a helper never fails on
 * configuration; the first use does, with a ConfigError that says what to fix.
 */
import { randomBytes } from "node:crypto";

/** The kind test bed's kubeconfig context: the default target, so a run never lands on whatever is current. */
export const TESTBED_CONTEXT = "kind-k8s-ops-conformance";
/** Label on everything the suite creates. */
export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
export const MANAGED_BY_VALUE = "k8s-ops-conformance";
/** Label carrying the run id, so one run's objects can be swept without touching another's. */
export const RUN_ID_LABEL = "k8s-ops-conformance/run-id";
/** Label on a namespace kept after a failure (KOC_KEEP_NAMESPACE_ON_FAILURE): the run-end sweep leaves it. */
export const KEPT_LABEL = "k8s-ops-conformance/kept";

/** A configuration value that cannot work; the CLI maps it to exit code 2. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

export interface Config {
  /** Explicit kubeconfig path (KOC_KUBECONFIG); undefined means KUBECONFIG or ~/.kube/config. */
  readonly kubeconfig: string | undefined;
  /** The kubeconfig context to use; never empty (defaults to the test bed context). */
  readonly context: string;
  /** Whether the context was chosen by the user (KOC_CONTEXT) rather than defaulted. */
  readonly contextExplicit: boolean;
  readonly runId: string;
  readonly timeoutScale: number;
  /** Registry that replaces the registry of every default image (air-gapped clusters). */
  readonly imageRegistry: string | undefined;
  /** The runner is a pod of the cluster under test (KOC_IN_CLUSTER, set by `run --in-cluster` in its Job). */
  readonly inCluster: boolean;
  /** Per-image overrides from KOC_IMAGE_<KEY> (key in UPPER_SNAKE_CASE, e.g. KOC_IMAGE_NGINX_NEXT). */
  readonly imageOverrides: Readonly<Record<string, string>>;
  readonly keepNamespaceOnFailure: boolean;
  readonly reportsDir: string;
  /** KOC_SMOKE_SABOTAGE: the smoke scenario's client pod gets a resolver that answers nothing, to show a failure. */
  readonly smokeSabotage: boolean;
  /**
   * KOC_MAX_FAILED_REQUEST_RATIO: the share of requests a zero-downtime check may lose (default 0, strict).
   * For real clusters whose network drops the odd packet; the report still lists every failed request.
   */
  readonly maxFailedRequestRatio: number;
  /**
   * KOC_DISRUPTIVE (`--disruptive`): run `@disruptive` tests (cordon, node changes) on a cluster that is not
   * the local test bed. On the test bed they run anyway (helpers/framework/disruptive.ts).
   */
  readonly disruptive: boolean;
  /** KOC_RWX_STORAGE_CLASS (`--rwx-storage-class`): the StorageClass the ReadWriteMany scenario uses. */
  readonly rwxStorageClass: string | undefined;
}

// Label values: at most 63 characters, alphanumeric at both ends, '-', '_' and '.' inside.
const LABEL_VALUE = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
// Run ids also appear in namespace names' neighbourhood and file names: keep them lowercase DNS-ish.
const RUN_ID = /^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$/;

/** A fresh run id: UTC time to the second plus 4 random hex characters, e.g. `20250301-142501-a3f9`. */
export function newRunId(now: Date = new Date()): string {
  const iso = now.toISOString(); // 2025-03-01T14:25:01.123Z
  const stamp = `${iso.slice(0, 10).replaceAll("-", "")}-${iso.slice(11, 19).replaceAll(":", "")}`;
  return `${stamp}-${randomBytes(2).toString("hex")}`;
}

export function parseBoolean(name: string, raw: string | undefined): boolean {
  if (raw === undefined) return false;
  const value = raw.trim().toLowerCase();
  if (["", "0", "false", "no", "off"].includes(value)) return false;
  if (["1", "true", "yes", "on"].includes(value)) return true;
  throw new ConfigError(`${name} must be 1/true/yes or 0/false/no, got "${raw}"`);
}

export function validateRunId(runId: string): string {
  if (!RUN_ID.test(runId) || !LABEL_VALUE.test(runId)) {
    throw new ConfigError(
      `KOC_RUN_ID must be 1-32 lowercase letters, digits or '-', starting and ending with a letter or digit, got "${runId}"`,
    );
  }
  return runId;
}

/** Registry host with an optional path prefix, e.g. `mirror.example.com:5000/dockerhub`. */
export function validateRegistry(raw: string): string {
  const registry = raw.trim().replace(/\/+$/, "");
  if (!/^[a-z0-9.-]+(:[0-9]+)?(\/[a-z0-9._-]+)*$/i.test(registry)) {
    throw new ConfigError(`KOC_IMAGE_REGISTRY must look like "registry.example.com[:port][/path]", got "${raw}"`);
  }
  return registry;
}

/** Collects KOC_IMAGE_<KEY> variables, keyed by the raw upper-case suffix (mapped to table keys by images.ts). */
export function imageOverridesFrom(env: NodeJS.ProcessEnv): Record<string, string> {
  const overrides: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith("KOC_IMAGE_") || name === "KOC_IMAGE_REGISTRY" || value === undefined || value === "")
      continue;
    overrides[name.slice("KOC_IMAGE_".length)] = value.trim();
  }
  return overrides;
}

const MAX_TIMEOUT_SCALE = 20;

/** Parses KOC_TIMEOUT_SCALE (default 1); throws a ConfigError with what to fix on a bad value. */
export function parseTimeoutScale(raw: string | undefined): number {
  if (raw === undefined || raw.trim() === "") return 1;
  const scale = Number(raw);
  if (!Number.isFinite(scale) || scale <= 0 || scale > MAX_TIMEOUT_SCALE) {
    throw new ConfigError(
      `KOC_TIMEOUT_SCALE must be a number > 0 and <= ${MAX_TIMEOUT_SCALE} (e.g. 2.5), got "${raw}"`,
    );
  }
  return scale;
}

export function parseRatio(name: string, raw: string | undefined): number {
  if (raw === undefined || raw.trim() === "") return 0;
  const ratio = Number(raw);
  if (!Number.isFinite(ratio) || ratio < 0 || ratio >= 1) {
    throw new ConfigError(`${name} must be a number from 0 up to (not including) 1, e.g. 0.01, got "${raw}"`);
  }
  return ratio;
}

/** A StorageClass name is a DNS subdomain: lowercase letters, digits, '-' and '.', at most 253 characters. */
export function validateStorageClassName(name: string, raw: string | undefined): string | undefined {
  const value = raw?.trim() ?? "";
  if (value === "") return undefined;
  if (value.length > 253 || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(value)) {
    throw new ConfigError(`${name} must be a StorageClass name (lowercase letters, digits, '-', '.'), got "${raw}"`);
  }
  return value;
}

/** Reads and validates the configuration from an environment (pure: pass any object in tests). */
export function readConfig(env: NodeJS.ProcessEnv): Config {
  const timeoutScale = parseTimeoutScale(env.KOC_TIMEOUT_SCALE);
  const context = env.KOC_CONTEXT?.trim() ?? "";
  const registry = env.KOC_IMAGE_REGISTRY?.trim() ?? "";
  return Object.freeze({
    kubeconfig: env.KOC_KUBECONFIG?.trim() || undefined,
    context: context || TESTBED_CONTEXT,
    contextExplicit: context !== "",
    runId: validateRunId(env.KOC_RUN_ID?.trim() || newRunId()),
    timeoutScale,
    imageRegistry: registry === "" ? undefined : validateRegistry(registry),
    imageOverrides: Object.freeze(imageOverridesFrom(env)),
    inCluster: parseBoolean("KOC_IN_CLUSTER", env.KOC_IN_CLUSTER),
    keepNamespaceOnFailure: parseBoolean("KOC_KEEP_NAMESPACE_ON_FAILURE", env.KOC_KEEP_NAMESPACE_ON_FAILURE),
    reportsDir: env.KOC_REPORTS_DIR?.trim() || "reports",
    smokeSabotage: parseBoolean("KOC_SMOKE_SABOTAGE", env.KOC_SMOKE_SABOTAGE),
    maxFailedRequestRatio: parseRatio("KOC_MAX_FAILED_REQUEST_RATIO", env.KOC_MAX_FAILED_REQUEST_RATIO),
    disruptive: parseBoolean("KOC_DISRUPTIVE", env.KOC_DISRUPTIVE),
    rwxStorageClass: validateStorageClassName("KOC_RWX_STORAGE_CLASS", env.KOC_RWX_STORAGE_CLASS),
  });
}

let cached: Config | undefined;

/**
 * This process's configuration, read on first use. Inside vitest the CLI has already validated it;
 * when vitest is started directly, a missing KOC_RUN_ID gets a fresh one, which is written back to
 * process.env so every worker and the global setup agree on it.
 */
export function config(): Config {
  if (cached === undefined) {
    cached = readConfig(process.env);
    process.env.KOC_RUN_ID = cached.runId;
  }
  return cached;
}

/**
 * The selector for everything this suite ever created, or for one run's objects except the namespaces
 * kept on failure (those stay until `k8s-ops-conformance cleanup`).
 */
export function managedSelector(runId?: string): string {
  const base = `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`;
  return runId === undefined ? base : `${base},${RUN_ID_LABEL}=${runId},!${KEPT_LABEL}`;
}

/** The command that removes what runs left on the cluster a run used (same context, same kubeconfig file). */
export function cleanupCommand(target: { context: string; kubeconfig?: string | undefined }): string {
  const kubeconfig = target.kubeconfig === undefined ? "" : ` --kubeconfig ${target.kubeconfig}`;
  return `npm run cleanup -- --context ${target.context}${kubeconfig}`;
}

/** Labels put on every object a run creates. */
export function runLabels(runId: string): Record<string, string> {
  return { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [RUN_ID_LABEL]: runId };
}

export interface BannerFacts {
  context: string;
  server: string;
  serverVersion: string;
  nodes: readonly string[];
  runId: string;
  timeoutScale: number;
}

/** The lines printed at the start of a run and stored as the Allure environment. */
export function banner(facts: BannerFacts): string {
  return [
    "k8s-ops-conformance",
    `  context:        ${facts.context}`,
    `  server:         ${facts.server} (Kubernetes ${facts.serverVersion})`,
    `  nodes (${facts.nodes.length}):      ${facts.nodes.join(", ")}`,
    `  run id:         ${facts.runId}`,
    `  timeout scale:  ${facts.timeoutScale}`,
  ].join("\n");
}
