/**
 * Command-line parsing and validation for bin/k8s-ops-conformance.ts (pure: no cluster, no process exit).
 */
import { parseArgs } from "node:util";
import { selectVersions } from "../testbed/versions.ts";

export const EXIT = {
  /** Every selected test passed (tests skipped with a reason are allowed). */
  passed: 0,
  /** At least one test failed, or the run left objects behind. */
  failed: 1,
  /** Bad command line or configuration: nothing was run. */
  usage: 2,
  /** The cluster could not be reached, or rejected our credentials. */
  unreachable: 3,
  /** The identity may not do what the selected suites need (SelfSubjectAccessReview before any test). */
  forbidden: 4,
  /** Stopped by Ctrl-C / SIGTERM (shell convention 128 + signal number), after cleanup. */
  interrupted: 130,
  terminated: 143,
} as const;

/** A problem with how the tool was called or configured; exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** The identity lacks a permission the selected suites need; exit code 4. */
export class PermissionError extends Error {
  override name = "PermissionError";
}

export const COMMANDS = ["run", "list", "cleanup", "report", "permissions", "images", "results", "help"] as const;
export type CommandName = (typeof COMMANDS)[number];

export interface CliOptions {
  /** The one context given (undefined when none, or several: then `contexts` lists them). */
  context?: string | undefined;
  /** run: every --context given, each run in turn. */
  contexts: string[];
  /** run, images: run the suites as a Job inside the cluster (the suite image). */
  inCluster: boolean;
  /** images: the canaries' images too (what --baseline and --compare deploy). */
  canaries: boolean;
  kubeconfig?: string | undefined;
  suites: string[];
  tags: string[];
  clusterUp: boolean;
  /** run: the local test bed's Kubernetes minor (testbed/versions.ts), passed to `cluster.ts up --kubernetes`. */
  kubernetes?: string | undefined;
  keepNamespaceOnFailure: boolean;
  timeoutScale?: string | undefined;
  runId?: string | undefined;
  reportsDir?: string | undefined;
  /** Run `@disruptive` tests on a cluster that is not the local test bed. */
  disruptive?: boolean | undefined;
  /** The StorageClass of the ReadWriteMany scenario (otherwise auto-detected). */
  rwxStorageClass?: string | undefined;
  /** cleanup: only objects created at least this many minutes ago (runs in progress on a shared cluster). */
  olderThanMinutes: number;
  /** report: directory of the previous report (its history.jsonl), so trends carry over. */
  history?: string | undefined;
  /** run: deploy canaries and write the baseline (verdicts, canary identities) to this file. */
  baseline?: string | undefined;
  /** run: compare with this baseline file (canaries survived, which verdicts changed); exit 1 on regression. */
  compare?: string | undefined;
  /** run --compare: leave the canaries in place afterwards. */
  keepCanaries: boolean;
  /** run --compare: failed prober requests allowed since the baseline; more are a regression. */
  maxFailedRequests: number;
  /** run --compare: a measurement drifts when now / baseline is above this factor or below its inverse. */
  drift: number;
  /** run --compare: a drift is a regression (otherwise it is reported only). */
  driftFails: boolean;
  /** permissions: rewrite manifests/rbac/rbac.yaml and the table in docs/permissions.md. */
  write: boolean;
}

export interface Command {
  name: CommandName;
  options: CliOptions;
}

const OPTIONS = {
  context: { type: "string", multiple: true },
  "in-cluster": { type: "boolean" },
  canaries: { type: "boolean" },
  kubeconfig: { type: "string" },
  suite: { type: "string", multiple: true },
  tag: { type: "string", multiple: true },
  "no-cluster-up": { type: "boolean" },
  kubernetes: { type: "string" },
  "keep-namespace-on-failure": { type: "boolean" },
  "timeout-scale": { type: "string" },
  "run-id": { type: "string" },
  "reports-dir": { type: "string" },
  "older-than": { type: "string" },
  disruptive: { type: "boolean" },
  "rwx-storage-class": { type: "string" },
  write: { type: "boolean" },
  history: { type: "string" },
  baseline: { type: "string" },
  compare: { type: "string" },
  "keep-canaries": { type: "boolean" },
  "max-failed-requests": { type: "string" },
  drift: { type: "string" },
  "drift-fails": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

type OptionName = keyof typeof OPTIONS;

/** Which options each command accepts. */
const ALLOWED: Record<CommandName, readonly OptionName[]> = {
  run: [
    "context",
    "kubeconfig",
    "suite",
    "tag",
    "no-cluster-up",
    "kubernetes",
    "keep-namespace-on-failure",
    "timeout-scale",
    "run-id",
    "reports-dir",
    "disruptive",
    "rwx-storage-class",
    "baseline",
    "compare",
    "keep-canaries",
    "max-failed-requests",
    "drift",
    "drift-fails",
    "in-cluster",
    "help",
  ],
  list: ["suite", "tag", "help"],
  cleanup: ["context", "kubeconfig", "older-than", "help"],
  report: ["reports-dir", "history", "help"],
  permissions: ["suite", "write", "help"],
  images: ["context", "kubeconfig", "suite", "in-cluster", "canaries", "help"],
  results: ["context", "kubeconfig", "reports-dir", "help"],
  help: ["help"],
};

export const USAGE = `Usage: k8s-ops-conformance <command> [options]     (or: npm run e2e -- <command> [options])

Commands:
  run        run the scenario suites against a cluster (default target: the local test bed)
  list       list the scenarios, optionally filtered by --suite/--tag
  cleanup    delete everything k8s-ops-conformance created in earlier or interrupted runs
  report     render reports/allure-results into reports/allure-report (HTML); --history DIR: the previous
             report's directory, whose history.jsonl the new report continues (trends)
  permissions  list what the selected suites may need to do (--write: regenerate manifests/rbac/ and docs)
  images     list every image a run would use (--suite, --in-cluster, --canaries), one line each with its source
  results    fetch the newest nightly result the in-cluster CronJob kept (manifests/runner/) into --reports-dir
  help       show this text

Options (run):
  --context NAME                 kubeconfig context to test (env KOC_CONTEXT); default: ${"kind-k8s-ops-conformance"};
                                 repeat it to test several clusters in turn (reports in --reports-dir/<context>/)
  --in-cluster                   run the suites as a Job inside the cluster (the suite image, npm run image);
                                 progress and results come back here; not with --baseline/--compare on the
                                 local test bed (its host prober runs here, from baseline to compare)
  --kubeconfig FILE              kubeconfig file (env KOC_KUBECONFIG); alone, its current-context is used
  --suite NAME                   only suites/NAME/ (repeatable)
  --tag TAG                      only tests whose title has @TAG (repeatable; any of them)
  --no-cluster-up                do not start the local test bed when no target is given
  --kubernetes MINOR             the local test bed's Kubernetes minor, e.g. 1.36 (env KOC_KUBERNETES);
                                 default: the newest supported (testbed/versions.ts)
  --keep-namespace-on-failure    keep a failed test's namespace (env KOC_KEEP_NAMESPACE_ON_FAILURE=1)
  --timeout-scale N              multiply every deadline by N (env KOC_TIMEOUT_SCALE)
  --run-id ID                    label value for this run's objects (env KOC_RUN_ID); default: generated
  --reports-dir DIR              where reports go (env KOC_REPORTS_DIR); default: reports
  --disruptive                   also run @disruptive tests (cordon a node, ...) on a cluster that is not the
                                 local test bed (env KOC_DISRUPTIVE=1); on the test bed they always run
  --rwx-storage-class NAME       StorageClass for the ReadWriteMany scenario (env KOC_RWX_STORAGE_CLASS);
                                 default: one the cluster declares shared (see README), else skipped
  --baseline FILE                before an upgrade: deploy canaries (namespace koc-canary), run, write FILE
  --compare FILE                 after it: check the canaries, run, show changed verdicts; exit 1 on regression
                                 (with several contexts, write {context} in the --baseline/--compare FILE)
  --keep-canaries                with --compare: leave the canaries in place (for a later compare)
  --max-failed-requests N        with --compare: failed prober requests allowed since the baseline, all probers together; default 0
  --drift F                      with --compare: flag a measurement whose now/baseline factor is above F or
                                 below 1/F (F > 1); default 2
  --drift-fails                  with --compare: a flagged drift is a regression (otherwise reported only)

Options (cleanup): --context, --kubeconfig as for run (no test bed start), and
  --older-than MINUTES           only what was created at least MINUTES ago (leave runs in progress alone)

Exit codes: 0 passed (skips allowed), 1 a test failed, 2 usage or configuration error,
            3 cluster unreachable or unauthorised, 4 the identity lacks a permission the suites need,
            130/143 interrupted (after cleanup).`;

type Parsed = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>;

/** The command named by the positionals, with the options it accepts; throws UsageError otherwise. */
function commandName(parsed: Parsed): CommandName {
  const [first, ...extra] = parsed.positionals;
  const name = (first ?? (parsed.values.help ? "help" : undefined)) as CommandName | undefined;
  if (name === undefined) throw new UsageError(`missing command; one of: ${COMMANDS.join(", ")}`);
  if (!COMMANDS.includes(name)) throw new UsageError(`unknown command "${name}"; one of: ${COMMANDS.join(", ")}`);
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"; options start with --, see --help`);
  const notAllowed = (Object.keys(parsed.values) as OptionName[]).find((option) => !ALLOWED[name].includes(option));
  if (notAllowed) throw new UsageError(`--${notAllowed} does not apply to "${name}"; see --help`);
  return name;
}

function checkAcceptanceOptions(v: Parsed["values"]): void {
  if (v.baseline !== undefined && v.compare !== undefined) {
    throw new UsageError(
      "--baseline and --compare exclude each other: take the baseline before the upgrade, compare after",
    );
  }
  for (const option of ["keep-canaries", "max-failed-requests", "drift", "drift-fails"] as const) {
    if (v[option] !== undefined && v.compare === undefined)
      throw new UsageError(`--${option} applies to --compare only`);
  }
}

/** The defaults of --max-failed-requests and --drift. */
export const COMPARE_DEFAULTS = { maxFailedRequests: 0, drift: 2 } as const;

/** --max-failed-requests and --drift, checked; defaults 0 and 2. */
function compareLimits(v: Parsed["values"]): { maxFailedRequests: number; drift: number } {
  const raw = v["max-failed-requests"];
  const maxFailedRequests = Number(raw ?? COMPARE_DEFAULTS.maxFailedRequests);
  if ((raw !== undefined && raw.trim() === "") || !Number.isInteger(maxFailedRequests) || maxFailedRequests < 0) {
    throw new UsageError(`--max-failed-requests needs a whole number >= 0, got "${raw}"`);
  }
  const drift = Number(v.drift ?? COMPARE_DEFAULTS.drift);
  if ((v.drift !== undefined && v.drift.trim() === "") || !Number.isFinite(drift) || drift <= 1) {
    throw new UsageError(`--drift needs a factor > 1 (e.g. 2: twice or half the baseline's value), got "${v.drift}"`);
  }
  return { maxFailedRequests, drift };
}

/** --kubernetes picks the local test bed's minor: a supported one, and only when the test bed is started. */
function checkKubernetesOption(v: Parsed["values"]): void {
  if (v.kubernetes === undefined) return;
  if (v.context !== undefined || v.kubeconfig !== undefined || v["no-cluster-up"]) {
    throw new UsageError(
      "--kubernetes selects the local test bed's version: it does not apply with --context, --kubeconfig or --no-cluster-up",
    );
  }
  try {
    selectVersions(v.kubernetes);
  } catch (e) {
    throw new UsageError(`--kubernetes: ${(e as Error).message}`);
  }
}

/** Several contexts: each gets its own reports folder and, when comparing, its own baseline file. */
function checkContexts(contexts: readonly string[], v: Parsed["values"]): void {
  if (contexts.length < 2) return;
  for (const option of ["baseline", "compare"] as const) {
    const file = v[option];
    if (file !== undefined && !file.includes("{context}")) {
      throw new UsageError(
        `--${option} with several contexts needs one file per context: write {context} in it, e.g. before-{context}.json`,
      );
    }
  }
}

/** Options given without a value (`--context ""`). */
function checkValues(v: Parsed["values"]): void {
  for (const context of v.context ?? []) if (context.trim() === "") throw new UsageError("--context needs a value");
  for (const option of [
    "kubernetes",
    "kubeconfig",
    "timeout-scale",
    "run-id",
    "reports-dir",
    "rwx-storage-class",
    "baseline",
    "compare",
    "history",
  ] as const) {
    if (v[option] !== undefined && v[option].trim() === "") throw new UsageError(`--${option} needs a value`);
  }
}

function cliOptions(v: Parsed["values"]): CliOptions {
  checkValues(v);
  const olderThan = Number(v["older-than"] ?? 0);
  if (!Number.isFinite(olderThan) || olderThan < 0) {
    throw new UsageError(`--older-than needs a number of minutes >= 0, got "${v["older-than"]}"`);
  }
  checkAcceptanceOptions(v);
  const { maxFailedRequests, drift } = compareLimits(v);
  checkKubernetesOption(v);
  const contexts = [...new Set(v.context ?? [])];
  checkContexts(contexts, v);
  return {
    context: contexts.length === 1 ? contexts[0] : undefined,
    contexts,
    inCluster: v["in-cluster"] ?? false,
    canaries: v.canaries ?? false,
    kubeconfig: v.kubeconfig,
    suites: v.suite ?? [],
    tags: (v.tag ?? []).map((t) => t.replace(/^@/, "")),
    clusterUp: !v["no-cluster-up"],
    kubernetes: v.kubernetes,
    keepNamespaceOnFailure: v["keep-namespace-on-failure"] ?? false,
    timeoutScale: v["timeout-scale"],
    runId: v["run-id"],
    reportsDir: v["reports-dir"],
    disruptive: v.disruptive,
    rwxStorageClass: v["rwx-storage-class"],
    olderThanMinutes: olderThan,
    write: v.write ?? false,
    baseline: v.baseline,
    compare: v.compare,
    keepCanaries: v["keep-canaries"] ?? false,
    maxFailedRequests,
    drift,
    driftFails: v["drift-fails"] ?? false,
    history: v.history,
  };
}

/** What the --in-cluster rule below needs to know of the target, learnt once it is reachable. */
export interface AcceptanceTarget {
  /** It is the local test bed (it publishes its node network: helpers/traffic/network-guard.ts). */
  testbed: boolean;
  /** With --compare FILE: FILE.prober.pid exists, a host prober the baseline started runs on this host. */
  hostProber: boolean;
}

/**
 * `run --in-cluster` with --baseline or --compare: the upgrade's host prober (bin/upgrade-traffic.ts) runs on
 * this host from the end of the baseline to the start of the compare, outside any Job, and a runner pod has
 * no host outside the cluster to probe from. So on the local test bed, and for a baseline whose host prober
 * runs here, the acceptance runs from here: UsageError. Elsewhere no host prober runs, in or out of the cluster.
 */
export function checkInClusterAcceptance(
  options: Pick<CliOptions, "inCluster" | "baseline" | "compare">,
  target: AcceptanceTarget,
): void {
  const flag = options.baseline !== undefined ? "--baseline" : options.compare !== undefined ? "--compare" : undefined;
  if (!options.inCluster || flag === undefined) return;
  if (target.hostProber) {
    throw new UsageError(
      `--in-cluster cannot stop the host prober and log follower the baseline started here (${options.compare}.prober.pid, .incluster.pid): run --compare without --in-cluster`,
    );
  }
  if (target.testbed) {
    throw new UsageError(
      `--in-cluster with ${flag} does not apply to the local test bed: its host prober watches the upgrade from this host; leave out --in-cluster`,
    );
  }
}

/** Parses argv (without node and script); throws UsageError with one line saying what to fix. */
export function parseCommandLine(argv: readonly string[]): Command {
  let parsed: Parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`${(error as Error).message.split("\n")[0]}; see --help`);
  }
  const name = commandName(parsed);
  const options = cliOptions(parsed.values);
  if (options.contexts.length > 1 && name !== "run") throw new UsageError(`"${name}" takes one --context`);
  return { name: parsed.values.help ? "help" : name, options };
}

/** Checks --suite and --tag against what exists, so a typo is an error rather than a run of nothing. */
export function validateSelection(options: CliOptions, available: { suites: string[]; tags: string[] }): void {
  for (const suite of options.suites) {
    if (!available.suites.includes(suite)) {
      throw new UsageError(
        `no suite "${suite}" (suites/${suite}/); available: ${available.suites.join(", ") || "none"}`,
      );
    }
  }
  for (const tag of options.tags) {
    if (!/^[a-z0-9][\w-]*$/i.test(tag)) throw new UsageError(`--tag "${tag}" is not a tag; write e.g. --tag smoke`);
    if (!available.tags.includes(tag)) {
      throw new UsageError(
        `no test title carries @${tag}; tags in use: ${available.tags.map((t) => `@${t}`).join(", ") || "none"}`,
      );
    }
  }
}

/** The vitest -t pattern matching any of the tags as a whole word in a test's full name. */
export function tagPattern(tags: readonly string[]): string | undefined {
  if (tags.length === 0) return undefined;
  return `@(${tags.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|")})(?![\\w-])`;
}

/** The KOC_* environment handed to vitest: flags win over the environment they were given. */
export function environmentFor(options: CliOptions, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const set = (value: string | undefined, fallback: string | undefined): string | undefined => value ?? fallback;
  const merged: NodeJS.ProcessEnv = {
    ...env,
    KOC_CONTEXT: set(options.context, env.KOC_CONTEXT),
    KOC_KUBECONFIG: set(options.kubeconfig, env.KOC_KUBECONFIG),
    KOC_TIMEOUT_SCALE: set(options.timeoutScale, env.KOC_TIMEOUT_SCALE),
    KOC_RUN_ID: set(options.runId, env.KOC_RUN_ID),
    KOC_REPORTS_DIR: set(options.reportsDir, env.KOC_REPORTS_DIR),
    KOC_KEEP_NAMESPACE_ON_FAILURE: options.keepNamespaceOnFailure ? "1" : env.KOC_KEEP_NAMESPACE_ON_FAILURE,
    KOC_DISRUPTIVE: options.disruptive ? "1" : env.KOC_DISRUPTIVE,
    KOC_RWX_STORAGE_CLASS: set(options.rwxStorageClass, env.KOC_RWX_STORAGE_CLASS),
  };
  // A child process would see an undefined value as the text "undefined".
  return Object.fromEntries(Object.entries(merged).filter(([, value]) => value !== undefined));
}
