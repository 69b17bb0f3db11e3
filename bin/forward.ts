/**
 * A `run` command line rebuilt from its options, for the runs this one starts: one per context
 * (`run --context a --context b`) and the one inside the cluster (`run --in-cluster`). Pure.
 */
import { type CliOptions, COMPARE_DEFAULTS } from "./args.ts";

/** The options a run is started with; what is left undefined or false is not passed. */
export type RunFlags = Omit<CliOptions, "contexts" | "canaries" | "olderThanMinutes" | "write" | "history">;

/** `run` and its flags, in a fixed order. */
export function runArgv(o: RunFlags): string[] {
  const args = ["run"];
  const value = (flag: string, v: string | undefined): void => {
    if (v !== undefined) args.push(flag, v);
  };
  const on = (flag: string, v: boolean | undefined): void => {
    if (v) args.push(flag);
  };
  value("--context", o.context);
  value("--kubeconfig", o.kubeconfig);
  for (const suite of o.suites) args.push("--suite", suite);
  for (const tag of o.tags) args.push("--tag", tag);
  on("--no-cluster-up", !o.clusterUp);
  value("--kubernetes", o.kubernetes);
  on("--keep-namespace-on-failure", o.keepNamespaceOnFailure);
  value("--timeout-scale", o.timeoutScale);
  value("--run-id", o.runId);
  value("--reports-dir", o.reportsDir);
  on("--disruptive", o.disruptive);
  value("--rwx-storage-class", o.rwxStorageClass);
  value("--baseline", o.baseline);
  value("--compare", o.compare);
  on("--keep-canaries", o.keepCanaries);
  // the compare's limits apply to --compare only (a usage error otherwise); defaults left out
  if (o.compare !== undefined) {
    if (o.maxFailedRequests !== COMPARE_DEFAULTS.maxFailedRequests)
      value("--max-failed-requests", String(o.maxFailedRequests));
    if (o.drift !== COMPARE_DEFAULTS.drift) value("--drift", String(o.drift));
    on("--drift-fails", o.driftFails);
  }
  on("--in-cluster", o.inCluster);
  return args;
}

/**
 * KOC_* variables that describe this machine, not the run: never handed to a run inside the cluster (the
 * target, the reports folder, the test bed and its cache, the CLI's own private ones).
 */
const LOCAL_ONLY = new Set([
  "KOC_CONTEXT",
  "KOC_KUBECONFIG",
  "KOC_REPORTS_DIR",
  "KOC_RUN_ID",
  "KOC_MAX_WORKERS",
  "KOC_KUBERNETES",
  "KOC_CACHE_DIR",
  "KOC_UPGRADE_STEPS",
  "KOC_KUBECTL",
  "KOC_TESTBED_NAME",
  "KOC_TESTBED_IMAGES",
  "KOC_ALLURE_HISTORY",
  "KOC_LIST_ONLY",
  "KOC_LEARNED_SECRETS_DIR",
  "KOC_IN_CLUSTER",
]);

/** The KOC_* variables a run inside the cluster gets from this one's environment (sorted, empty ones left out). */
export function forwardedEnvironment(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env)
      .filter(([name, v]) => name.startsWith("KOC_") && !LOCAL_ONLY.has(name) && v !== undefined && v.trim() !== "")
      .sort(([a], [b]) => a.localeCompare(b)) as Array<[string, string]>,
  );
}
