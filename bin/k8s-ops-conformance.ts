#!/usr/bin/env node
/**
 * k8s-ops-conformance: run the scenario suites against a cluster, list them, clean up after them and
 * render their report. Every failure before tests start is one line on stderr and a distinct exit code
 * (see EXIT in ./args.ts); `--help` prints the usage.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { sweepManaged } from "../helpers/framework/cleanup.ts";
import { type Config, ConfigError, cleanupCommand, readConfig } from "../helpers/framework/config.ts";
import { testbedImages } from "../helpers/framework/global-setup.ts";
import { ImageError, resolveImages } from "../helpers/framework/images.ts";
import { connect, type Kube } from "../helpers/framework/kube.ts";
import { createTestNamespace, deleteNamespace } from "../helpers/framework/namespace.ts";
import {
  missingLine,
  needs,
  type Permission,
  permissionsFor,
  renderPermissionTable,
  renderRbac,
  showNeed,
} from "../helpers/framework/permissions.ts";
import { MEASUREMENTS_FILE } from "../helpers/framework/report.ts";
import { resolveSuiteImage, suiteVersion } from "../helpers/framework/suite-image.ts";
import { T, useTimeoutScale } from "../helpers/framework/timeouts.ts";
import { scanReport, showLeaks } from "../helpers/manifests/leaks.ts";
import { testbedNodeNetwork } from "../helpers/traffic/network-guard.ts";
import { hostProberRealtime, showScheduling } from "../helpers/traffic/prober.ts";
import {
  type CliOptions,
  type Command,
  checkInClusterAcceptance,
  EXIT,
  environmentFor,
  PermissionError,
  parseCommandLine,
  tagPattern,
  USAGE,
  UsageError,
  validateSelection,
} from "./args.ts";
import {
  type Baseline,
  BaselineError,
  type CanaryFindings,
  type CanarySnapshot,
  compareCanaries,
  compareMeasurements,
  compareVerdicts,
  countRegressions,
  type Measurement,
  measurementsFromJsonl,
  readBaseline,
  runnerFailure,
  selectedBy,
  showComparison,
  type Verdict,
  verdictsFromJunit,
} from "./baseline.ts";
import { CANARY_NAMESPACE, deployCanaries, removeCanaries, snapshotCanaries } from "./canaries.ts";
import { scanSuites } from "./catalog.ts";
import { checkEnvironment } from "./environment.ts";
import { forwardedEnvironment, runArgv } from "./forward.ts";
import { assertBuiltByTestbed, assertFromRegistry, showImages, usedImages } from "./images.ts";
import { BASELINE_DIR, RESULTS_DIR } from "./in-cluster.ts";
import { runInCluster } from "./in-cluster-run.ts";
import {
  type ContextResult,
  contextFolder,
  contextTable,
  kubernetesFromEnvironment,
  perContext,
  regressionsFromCompare,
  worstExit,
} from "./many.ts";
import { missingPermissions, whoAmI } from "./preflight.ts";
import { results } from "./results.ts";
import { commonFailure, countsFromJunit, summaryFromFile } from "./summary.ts";
import { bringUpTestbed, checkReachable, chooseTarget, PROJECT_ROOT, UnreachableError } from "./target.ts";
import {
  followerFiles,
  proberFiles,
  readUpgradeSteps,
  startHostProber,
  startLogFollower,
  stopHostProber,
  stopLogFollower,
  trafficFindings,
} from "./upgrade-traffic.ts";
import { chooseWorkers } from "./workers.ts";

const SUITES_DIR = join(PROJECT_ROOT, "suites");
const CLI = join(PROJECT_ROOT, "bin", "k8s-ops-conformance.ts");
const VITEST = join(PROJECT_ROOT, "node_modules", "vitest", "vitest.mjs");
const ALLURE = join(PROJECT_ROOT, "node_modules", "allure", "cli.js");

function say(line: string): void {
  console.error(`k8s-ops-conformance: ${line}`);
}

/** The target is the local test bed (it published its node network) and its API server is on loopback. */
async function testbedOnThisHost(kube: Kube): Promise<boolean> {
  const loopback = /^https?:\/\/(127\.|localhost[:/]|\[::1\])/.test(kube.server);
  return loopback && (await testbedNodeNetwork(kube)) !== undefined;
}

/** Validated configuration and a reachable cluster, or a UsageError / ConfigError / UnreachableError. */
async function prepareTarget(
  options: CliOptions,
  startTestbed: boolean,
): Promise<{ cfg: Config; kube: Kube; env: NodeJS.ProcessEnv }> {
  const env = environmentFor(options, process.env);
  const cfg = readConfig(env);
  useTimeoutScale(cfg.timeoutScale); // --timeout-scale scales the CLI's own deadlines as well as the tests'
  resolveImages({ registry: cfg.imageRegistry, overrides: cfg.imageOverrides }); // bad KOC_IMAGE_* values fail here
  const target = chooseTarget(cfg);
  if (options.kubernetes !== undefined && target.explicit) {
    throw new UsageError("--kubernetes selects the local test bed's version: it does not apply to another target");
  }
  if (!target.explicit && startTestbed) await bringUpTestbed(options.kubernetes);
  const kube = connect(target);
  const version = await checkReachable(kube.kubeConfig);
  say(`target: context "${kube.context}" at ${kube.server} (Kubernetes ${version}), run id ${cfg.runId}`);
  // The workers use exactly what was checked here.
  return { cfg, kube, env: { ...env, KOC_CONTEXT: kube.context, KOC_RUN_ID: cfg.runId } };
}

function vitestArgs(options: CliOptions, mode: "run" | "list"): string[] {
  // The serial project (disruptive files) runs after the e2e project, never beside it (vitest.config.ts).
  const args = [VITEST, mode, "--project", "e2e", "--project", "serial", ...options.suites.map((s) => `suites/${s}/`)];
  const pattern = tagPattern(options.tags);
  return pattern === undefined ? args : [...args, "--testNamePattern", pattern];
}

/** Runs vitest; Ctrl-C / SIGTERM is forwarded once, so vitest can end the tests and tear fixtures down. */
async function runVitest(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; signal?: NodeJS.Signals }> {
  // Own process group: a terminal's Ctrl-C reaches only us, and we pass it on exactly once
  // (a second SIGINT makes vitest exit at once, skipping fixture teardown and diagnostics).
  const child: ChildProcess = spawn(process.execPath, args, {
    stdio: "inherit",
    env,
    cwd: PROJECT_ROOT,
    detached: true,
  });
  let received: NodeJS.Signals | undefined;
  const forward = (signal: NodeJS.Signals): void => {
    if (received !== undefined) {
      say(`${signal} again: killing vitest now`);
      child.kill("SIGKILL");
      return;
    }
    received = signal;
    say(`${signal}: stopping the tests, then deleting what this run created (again to force)`);
    child.kill(signal);
    // vitest gets the time of a fixture teardown to stop; then it is killed so cleanup can start.
    AbortSignal.timeout(T.diagnostics + T.hook).addEventListener("abort", () => child.kill("SIGKILL"), { once: true });
  };
  process.on("SIGINT", forward);
  process.on("SIGTERM", forward);
  const code = await new Promise<number>((done) => child.on("exit", (exitCode) => done(exitCode ?? EXIT.failed)));
  process.off("SIGINT", forward);
  process.off("SIGTERM", forward);
  return received === undefined ? { code } : { code, signal: received };
}

/**
 * Deletes this run's namespaces and cluster-scoped objects; true when nothing is left. A kind this identity
 * may not list is named but does not fail the run: the run could not have created objects of it either.
 */
async function sweepRun(kube: Kube, runId: string): Promise<boolean> {
  const { deleted, remaining, unlisted, undeleted } = await sweepManaged(kube, { runId, timeout: T.cleanup });
  if (deleted.length > 0) say(`cleanup: deleted ${deleted.length} object(s) of run ${runId}: ${deleted.join(", ")}`);
  for (const kind of unlisted) say(`cleanup: could not look for ${kind}`);
  for (const object of undeleted) say(`cleanup: could not delete ${object}`);
  if (remaining.length > 0) say(`cleanup: still present after ${T.cleanup / 1000}s: ${remaining.join(", ")}`);
  return remaining.length === 0 && undeleted.length === 0;
}

/** Fails with one line (PermissionError, exit 4) when the identity may not do what the selected suites need. */
async function preflight(kube: Kube, suites: readonly string[], canaries: boolean): Promise<void> {
  const wanted = needs(permissionsFor(SUITES_DIR, suites, canaries));
  const [identity, missing] = await Promise.all([whoAmI(kube.kubeConfig), missingPermissions(kube.kubeConfig, wanted)]);
  if (missing.length > 0) throw new PermissionError(missingLine(identity, missing));
  say(`permissions: "${identity}" may do all ${wanted.length} things the selected suites need`);
}

interface Acceptance {
  previous: Baseline | undefined;
  canaries: CanarySnapshot | undefined;
  findings: CanaryFindings | undefined;
}

/** --baseline: deploy the canaries and read them; --compare: read them and compare with the baseline's. */
async function canariesBefore(options: CliOptions, cfg: Config, kube: Kube, previous?: Baseline): Promise<Acceptance> {
  const sources = { registry: cfg.imageRegistry, overrides: cfg.imageOverrides };
  const images = resolveImages({ ...sources, testbed: await testbedImages(kube) });
  if (previous !== undefined) {
    say(`compare: checking the canaries in namespace ${CANARY_NAMESPACE} against ${options.compare}`);
    if (cfg.inCluster) {
      const findings = compareCanaries(previous.canaries, await snapshotCanaries(kube, images));
      findings.notes.push(
        "availability through the upgrade: not judged, the runner is a pod of the cluster and nothing it starts outlives its Job; run --baseline and --compare from a host to judge it",
      );
      return { previous, canaries: undefined, findings };
    }
    // the probers ran since the baseline: stopped first, so the suites' own traffic is not in their records
    const [host, inCluster] = await Promise.all([
      stopHostProber(options.compare ?? ""),
      stopLogFollower(options.compare ?? ""),
    ]);
    const findings = compareCanaries(previous.canaries, await snapshotCanaries(kube, images));
    if (host === undefined) findings.notes.push("host prober: the baseline started none (not the local test bed)");
    const probers = host === undefined ? [inCluster] : [host, inCluster];
    const traffic = trafficFindings(probers, readUpgradeSteps(), options.maxFailedRequests);
    findings.notes.push(...traffic.notes);
    findings.regressions.push(...traffic.regressions);
    return { previous, canaries: undefined, findings };
  }
  say(`baseline: deploying the canaries in namespace ${CANARY_NAMESPACE}`);
  await deployCanaries(kube, images);
  return { previous, canaries: await snapshotCanaries(kube, images), findings: undefined };
}

async function writeBaseline(
  file: string,
  options: CliOptions,
  cfg: Config,
  kube: Kube,
  canaries: CanarySnapshot,
  results: RunResults,
): Promise<void> {
  const version = await kube.version.getCode();
  const baseline: Baseline = {
    format: 1,
    createdAt: new Date().toISOString(),
    context: kube.context,
    server: kube.server,
    serverVersion: version.gitVersion,
    runId: cfg.runId,
    suites: options.suites,
    tags: options.tags,
    verdicts: results.verdicts,
    canaries,
    measurements: results.measurements,
  };
  writeFileSync(file, `${JSON.stringify(baseline, null, 2)}\n`);
  const counts = `${Object.keys(results.verdicts).length} verdict(s), ${results.measurements.length} measurement(s)`;
  say(`baseline: ${counts} and the canaries' identities written to ${file}`);
  // a runner pod (run --in-cluster) ends with its Job: nothing it starts outlives it until the compare
  if (cfg.inCluster) {
    say("baseline: the runner is a pod of the cluster, no prober or log follower through the upgrade");
    return;
  }
  const follower = startLogFollower({ context: kube.context, kubeconfig: cfg.kubeconfig }, file);
  say(`baseline: log follower (pid ${follower}) keeps the canary-prober pods' records until run --compare ${file}`);
  // only toward the local test bed's own nodes: elsewhere the network guard refuses and no prober runs
  if ((await testbedNodeNetwork(kube)) === undefined) {
    say("baseline: not the local test bed, no host prober through the upgrade");
    return;
  }
  const pid = await startHostProber(kube, CANARY_NAMESPACE, file);
  say(
    `baseline: host prober (pid ${pid}, ${showScheduling(hostProberRealtime())}) probes ${CANARY_NAMESPACE}/canary-web until run --compare ${file}`,
  );
}

/** Prints and saves what changed; removes the canaries unless kept; returns the number of regressions. */
async function finishCompare(
  options: CliOptions,
  reportsDir: string,
  kube: Kube,
  previous: Baseline,
  findings: CanaryFindings,
  results: RunResults,
): Promise<number> {
  const selected = selectedBy(options);
  const changes = compareVerdicts(previous.verdicts, results.verdicts, selected);
  const measured = (previous.measurements ?? []).filter((m) => selected(m.scenario));
  const measurements = compareMeasurements(measured, results.measurements, options.drift);
  const extras = { runner: results.runnerFailure, measurements, drift: options.drift, driftFails: options.driftFails };
  const text = showComparison(findings, changes, extras);
  console.log(text);
  writeFileSync(join(reportsDir, "compare.txt"), `${text}\n`);
  const regressions = countRegressions(findings, changes, extras);
  // `regressions`: the count this compare's exit code follows (read back by run over several contexts)
  const json = { baseline: options.compare, regressions, canaries: findings, verdicts: changes, ...extras };
  writeFileSync(join(reportsDir, "compare.json"), `${JSON.stringify(json, null, 2)}\n`);
  if (results.runnerFailure !== undefined) {
    say(`compare: failed: ${results.runnerFailure}; the canaries stay in ${CANARY_NAMESPACE} for the next compare`);
  } else if (options.keepCanaries) say(`compare: canaries kept in namespace ${CANARY_NAMESPACE} (--keep-canaries)`);
  else await removeCanaries(kube);
  return regressions;
}

/** What a run left to judge: verdicts from junit.xml, measurements, and why they cannot be judged (if so). */
interface RunResults {
  verdicts: Record<string, Verdict>;
  measurements: Measurement[];
  runnerFailure: string | undefined;
}

function readResults(reportsDir: string, code: number): RunResults {
  const junit = join(reportsDir, "junit.xml");
  const measured = join(reportsDir, MEASUREMENTS_FILE);
  const verdicts = existsSync(junit) ? verdictsFromJunit(readFileSync(junit, "utf8")) : {};
  const measurements = existsSync(measured) ? measurementsFromJsonl(readFileSync(measured, "utf8")) : [];
  const scenarios = Object.keys(verdicts).length;
  return { verdicts, measurements, runnerFailure: runnerFailure({ code, junitWritten: existsSync(junit), scenarios }) };
}

/** After the suites: writes the baseline, or finishes the compare and returns its number of regressions. */
async function acceptanceAfter(
  options: CliOptions,
  cfg: Config,
  kube: Kube,
  reportsDir: string,
  acceptance: Acceptance,
  results: RunResults,
): Promise<number | undefined> {
  if (options.baseline !== undefined && acceptance.canaries) {
    if (results.runnerFailure !== undefined) {
      say(`baseline: not written: ${results.runnerFailure}`);
      return 1;
    }
    await writeBaseline(options.baseline, options, cfg, kube, acceptance.canaries, results);
  }
  if (acceptance.previous === undefined || acceptance.findings === undefined) return undefined;
  return finishCompare(options, reportsDir, kube, acceptance.previous, acceptance.findings, results);
}

/** A compare runs what the baseline ran, unless told otherwise. */
function selectionFor(given: CliOptions, previous: Baseline | undefined): CliOptions {
  if (previous === undefined || given.suites.length > 0 || given.tags.length > 0) return given;
  return { ...given, suites: previous.suites, tags: previous.tags };
}

/**
 * One namespace made and its default ServiceAccount awaited before any test: when no namespace becomes
 * usable (e.g. the controller manager is down), the run says so once instead of failing every test alike.
 */
async function namespaceProbe(kube: Kube, runId: string): Promise<void> {
  let name: string | undefined;
  try {
    name = await createTestNamespace(kube, "setup-check", runId, "k8s-ops-conformance setup check");
  } catch (error) {
    const why = (error as Error).message.split("\n").slice(0, 2).join(";").replace(/\s+/g, " ");
    throw new UnreachableError(
      `no test namespace became usable, so no test could run (is kube-controller-manager running?): ${why}`,
    );
  } finally {
    if (name !== undefined) await deleteNamespace(kube, name);
  }
}

/** vitest, the run-end sweep and the report's Secret scan. */
async function runSuites(
  options: CliOptions,
  cfg: Config,
  kube: Kube,
  env: NodeJS.ProcessEnv,
): Promise<{ result: Awaited<ReturnType<typeof runVitest>>; clean: boolean; leaks: number }> {
  // The Secret values the workers learn while applying, for the report scan; private, gone after the run.
  const learnedDir = mkdtempSync(join(tmpdir(), "koc-learned-secrets-"));
  try {
    const result = await runVitest(vitestArgs(options, "run"), { ...env, KOC_LEARNED_SECRETS_DIR: learnedDir });
    const clean = await sweepRun(kube, cfg.runId);
    const leaks = scanForSecrets(resolve(PROJECT_ROOT, cfg.reportsDir), learnedDir);
    return { result, clean, leaks };
  } finally {
    rmSync(learnedDir, { recursive: true, force: true });
  }
}

/**
 * With KOC_IMAGE_REGISTRY: every image the run uses must come from the mirror; on the local test bed, every one
 * must be one it built (UsageError, exit 2, otherwise).
 */
async function imagePreflight(options: CliOptions, cfg: Config, kube: Kube, canaries: boolean): Promise<void> {
  const testbed = await testbedImages(kube);
  if (cfg.imageRegistry === undefined && testbed === undefined) return;
  const selection = { ...options, available: scanSuites(SUITES_DIR).suites, canaries };
  // The mirror outranks the test bed's ConfigMap (helpers/framework/images.ts): only overrides can escape it.
  const sources = { testbed, registry: cfg.imageRegistry, overrides: cfg.imageOverrides };
  const lines = usedImages(PROJECT_ROOT, selection, sources);
  assertFromRegistry(lines, cfg.imageRegistry);
  if (testbed !== undefined) assertBuiltByTestbed(lines, testbed);
  const from = cfg.imageRegistry ?? "the test bed's own builds";
  say(`images: all ${lines.length} images the run uses come from ${from}`);
}

/** The run's count line, after the one failure every test shared, if they did. */
function printSummary(junit: string, startedAt: number): void {
  const shared = existsSync(junit) ? commonFailure(readFileSync(junit, "utf8")) : undefined;
  if (shared !== undefined) say(`every test that ran failed the same way, most likely the environment: ${shared}`);
  console.log(summaryFromFile(junit, startedAt) ?? "e2e: no test result was written (reports/junit.xml missing)");
}

/** Refuses --in-cluster with --baseline/--compare where the acceptance needs this host (args.ts rules). */
async function inClusterAcceptance(options: CliOptions, kube: Kube): Promise<void> {
  const compare = options.compare;
  const hostProber =
    compare !== undefined && (existsSync(proberFiles(compare).pid) || existsSync(followerFiles(compare).pid));
  checkInClusterAcceptance(options, { testbed: (await testbedNodeNetwork(kube)) !== undefined, hostProber });
}

async function run(given: CliOptions): Promise<number> {
  const previous = given.compare === undefined ? undefined : readBaseline(given.compare);
  const options = selectionFor(given, previous);
  validateSelection(options, scanSuites(SUITES_DIR));
  const { cfg, kube, env } = await prepareTarget(options, options.clusterUp);
  const withCanaries = options.baseline !== undefined || previous !== undefined;
  await imagePreflight(options, cfg, kube, withCanaries);
  const workers = chooseWorkers({
    given: env.KOC_MAX_WORKERS,
    cores: availableParallelism(),
    testbedHere: await testbedOnThisHost(kube),
  });
  say(`workers: ${workers.workers} test files at once (${workers.why})`);
  env.KOC_MAX_WORKERS = String(workers.workers);
  await preflight(kube, options.suites, withCanaries);
  if (options.inCluster && withCanaries) await inClusterAcceptance(options, kube);
  if (options.inCluster) return runInside(options, cfg, kube, workers.workers);
  await namespaceProbe(kube, cfg.runId);
  const acceptance = withCanaries ? await canariesBefore(options, cfg, kube, previous) : undefined;
  const startedAt = Date.now();
  const reportsDir = resolve(PROJECT_ROOT, cfg.reportsDir);
  clearResults(reportsDir);
  const { result, clean, leaks } = await runSuites(options, cfg, kube, env);
  const junit = join(reportsDir, "junit.xml");
  printSummary(junit, startedAt);
  if (result.signal) return result.signal === "SIGINT" ? EXIT.interrupted : EXIT.terminated;
  const results = readResults(reportsDir, result.code);
  const regressions = acceptance && (await acceptanceAfter(options, cfg, kube, reportsDir, acceptance, results));
  if (!clean) {
    const command = cleanupCommand({ context: kube.context, kubeconfig: cfg.kubeconfig });
    say(`the run left objects behind (listed above); remove them with: ${command}`);
  }
  // A compare judges change, not state: scenarios that failed in the baseline too do not fail it. A run whose
  // runner failed before writing results is a regression of its own (runnerFailure), never a pass.
  const failed = regressions === undefined ? result.code !== 0 : regressions > 0;
  return failed || leaks > 0 || !clean ? EXIT.failed : EXIT.passed;
}

/** What the identity starting `run --in-cluster` needs beyond what it grants the runner (bin/in-cluster.ts). */
const LAUNCHER: readonly Permission[] = [
  ...["namespaces", "clusterroles.rbac.authorization.k8s.io", "clusterrolebindings.rbac.authorization.k8s.io"].map(
    (resource) => ({ resource, verbs: ["create", "delete"], cluster: true, scenarios: ["in-cluster/runner"] }),
  ),
  ...[
    "serviceaccounts",
    "configmaps",
    "roles.rbac.authorization.k8s.io",
    "rolebindings.rbac.authorization.k8s.io",
    "jobs.batch",
  ].map((resource) => ({ resource, verbs: ["create", "delete"], scenarios: ["in-cluster/runner"] })),
  { resource: "pods/log", verbs: ["get"], scenarios: ["in-cluster/progress"] },
  { resource: "pods/exec", verbs: ["create", "get"], scenarios: ["in-cluster/copy results"] },
];

/** `run --in-cluster`: the same run as a Job in the cluster; its results copied here and rendered as usual. */
async function runInside(options: CliOptions, cfg: Config, kube: Kube, workers: number): Promise<number> {
  const granted = permissionsFor(
    SUITES_DIR,
    options.suites,
    options.baseline !== undefined || options.compare !== undefined,
  );
  const [identity, missing] = await Promise.all([
    whoAmI(kube.kubeConfig),
    missingPermissions(kube.kubeConfig, needs(LAUNCHER)),
  ]);
  if (missing.length > 0) throw new PermissionError(missingLine(identity, missing));
  const reportsDir = resolve(PROJECT_ROOT, cfg.reportsDir);
  const image = resolveSuiteImage(suiteVersion(PROJECT_ROOT), {
    registry: cfg.imageRegistry,
    overrides: cfg.imageOverrides,
  });
  if (suiteVersion(PROJECT_ROOT).dirty && image.source === "default") {
    say(`in-cluster: this work tree has uncommitted changes; ${image.ref} holds the commit, not them`);
  }
  const args = runArgv({
    ...options,
    context: undefined,
    kubeconfig: undefined,
    kubernetes: undefined,
    clusterUp: false,
    inCluster: false,
    runId: cfg.runId,
    reportsDir: RESULTS_DIR,
    baseline: options.baseline === undefined ? undefined : `${RESULTS_DIR}/baseline.json`,
    compare: options.compare === undefined ? undefined : `${BASELINE_DIR}/baseline.json`,
  });
  const spec = {
    runId: cfg.runId,
    image: image.ref,
    args,
    env: { ...forwardedEnvironment(process.env), KOC_MAX_WORKERS: String(workers) },
    permissions: granted,
    baseline: options.compare === undefined ? undefined : readFileSync(options.compare, "utf8"),
    gracePeriodSeconds: Math.ceil((T.diagnostics + T.hook + T.cleanup) / 1000) + 30,
  };
  clearResults(reportsDir);
  const outcome = await runInCluster({ kube, spec, reportsDir, say });
  if (!outcome.copied) {
    await sweepRun(kube, cfg.runId); // what the runner could not delete itself
    return outcome.code;
  }
  if (options.baseline !== undefined && existsSync(join(reportsDir, "baseline.json"))) {
    copyFileSync(join(reportsDir, "baseline.json"), options.baseline);
    say(`baseline: written to ${options.baseline}`);
  }
  // A runner that stopped before its tests (exit 2, 3, 4) wrote no results: its own lines above say why.
  if (existsSync(join(reportsDir, "allure-results"))) await report({ ...options, reportsDir, history: undefined });
  printSummary(join(reportsDir, "junit.xml"), 0);
  return outcome.code;
}

/** `run --context a --context b`: each context in turn, its reports in <reports-dir>/<context>/, then one table. */
async function runEach(given: CliOptions): Promise<number> {
  validateSelection(given, scanSuites(SUITES_DIR));
  const root = resolve(PROJECT_ROOT, given.reportsDir ?? process.env.KOC_REPORTS_DIR ?? "reports");
  const results: ContextResult[] = [];
  for (const context of given.contexts) {
    const reportsDir = join(root, contextFolder(context));
    const per = (file: string | undefined): string | undefined => file && perContext(file, context);
    const argv = runArgv({ ...given, context, reportsDir, baseline: per(given.baseline), compare: per(given.compare) });
    say(`context ${context} (${results.length + 1} of ${given.contexts.length}): reports in ${reportsDir}`);
    const started = Date.now();
    const { code } = await runVitest([CLI, ...argv], process.env);
    const read = (name: string): string | undefined =>
      existsSync(join(reportsDir, name)) ? readFileSync(join(reportsDir, name), "utf8") : undefined;
    const junit = read("junit.xml");
    const compare = given.compare === undefined ? undefined : read("compare.json");
    results.push({
      context,
      kubernetes: kubernetesFromEnvironment(read("allure-results/environment.properties") ?? ""),
      counts: junit === undefined ? undefined : countsFromJunit(junit),
      wallMs: Date.now() - started,
      regressions: compare === undefined ? undefined : regressionsFromCompare(compare),
      exitCode: code,
    });
    if (code === EXIT.interrupted || code === EXIT.terminated) break;
  }
  const table = contextTable(results, given.compare !== undefined);
  console.log(table);
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, "contexts.txt"), `${table}\n`);
  const worst = worstExit(results.map((r) => r.exitCode));
  say(
    `${results.length} of ${given.contexts.length} context(s) run; exit ${worst}, the worst of theirs (table in ${join(root, "contexts.txt")})`,
  );
  return worst;
}

/** `images`: every image the selected run would use, one line each with its source; exit 2 when a mirror is bypassed. */
async function images(options: CliOptions): Promise<number> {
  const catalog = scanSuites(SUITES_DIR);
  validateSelection(options, catalog);
  const cfg = readConfig(environmentFor(options, process.env));
  let testbed: Record<string, string> | undefined;
  if (options.context !== undefined || options.kubeconfig !== undefined) {
    testbed = await testbedImages((await prepareTarget(options, false)).kube);
  } else if (cfg.imageRegistry === undefined) {
    say("images: no --context/--kubeconfig, so the test bed's ConfigMap of locally built images was not read");
  }
  const selection = { ...options, available: catalog.suites };
  const lines = usedImages(PROJECT_ROOT, selection, {
    testbed,
    registry: cfg.imageRegistry,
    overrides: cfg.imageOverrides,
  });
  for (const line of showImages(lines)) console.log(line);
  assertFromRegistry(lines, cfg.imageRegistry);
  if (testbed !== undefined) assertBuiltByTestbed(lines, testbed);
  return EXIT.passed;
}

/**
 * The run-level proof that no Secret value reached the report: every value the workers applied (and every
 * literal one in manifests/) is searched for, plain and base64, in what the run wrote. Returns the number
 * of leaks (named, never shown).
 */
function scanForSecrets(reportsDir: string, learnedDir: string): number {
  const scan = scanReport(reportsDir, learnedDir);
  const looked = `${scan.values} Secret value(s), ${scan.learned} of them learned at apply time, in ${scan.files} file(s) of ${reportsDir}`;
  if (scan.leaks.length === 0) say(`report scan: none of ${looked}`);
  else
    say(
      `report scan: looked for ${looked}; found (fix the redaction before sharing the report):\n${showLeaks(scan.leaks)}`,
    );
  return scan.leaks.length;
}

/** A report shows one run: the previous run's results, artifacts and JUnit file go before this one starts. */
function clearResults(reportsDir: string): void {
  for (const name of ["allure-results", "artifacts", "junit.xml", MEASUREMENTS_FILE]) {
    rmSync(join(reportsDir, name), { recursive: true, force: true });
  }
}

async function list(options: CliOptions): Promise<number> {
  validateSelection(options, scanSuites(SUITES_DIR));
  const result = await runVitest(vitestArgs(options, "list"), { ...process.env, KOC_LIST_ONLY: "1" });
  return result.code === 0 ? EXIT.passed : EXIT.failed;
}

async function cleanup(options: CliOptions): Promise<number> {
  const { kube } = await prepareTarget(options, false);
  const olderThanMs = options.olderThanMinutes * 60_000;
  const { deleted, remaining, unlisted, undeleted } = await sweepManaged(kube, { timeout: T.cleanup, olderThanMs });
  for (const kind of unlisted) say(`cleanup: error: could not list ${kind}`);
  for (const object of undeleted) say(`cleanup: error: could not delete ${object}`);
  if (deleted.length > 0) say(`cleanup: deleted ${deleted.join(", ")}`);
  else if (unlisted.length === 0 && undeleted.length === 0) say("cleanup: nothing to delete");
  if (remaining.length > 0) say(`cleanup: still present: ${remaining.join(", ")}`);
  return remaining.length === 0 && unlisted.length === 0 && undeleted.length === 0 ? EXIT.passed : EXIT.failed;
}

async function report(options: CliOptions): Promise<number> {
  const reportsDir = resolve(PROJECT_ROOT, options.reportsDir ?? process.env.KOC_REPORTS_DIR ?? "reports");
  const results = join(reportsDir, "allure-results");
  if (!existsSync(results)) throw new UsageError(`no results in ${results}; run the suites first (npm run e2e -- run)`);
  const output = join(reportsDir, "allure-report");
  // The history lives beside the report while Allure appends this run, then travels inside it.
  const history = join(reportsDir, "history.jsonl");
  rmSync(history, { force: true });
  if (options.history !== undefined) {
    const previous = join(resolve(options.history), "history.jsonl");
    if (existsSync(previous)) copyFileSync(previous, history);
    else say(`report: no history.jsonl in ${options.history}; this report starts the history`);
  }
  const env = options.history === undefined ? process.env : { ...process.env, KOC_ALLURE_HISTORY: history };
  const result = await runNode([ALLURE, "generate", results, "--output", output, "--name", "k8s-ops-conformance"], env);
  if (result !== 0) return EXIT.failed;
  if (existsSync(history)) copyFileSync(history, join(output, "history.jsonl"));
  say(`report: ${join(output, "index.html")}`);
  return EXIT.passed;
}

const RBAC_FILE = join(PROJECT_ROOT, "manifests", "rbac", "rbac.yaml");
const PERMISSIONS_DOC = join(PROJECT_ROOT, "docs", "permissions.md");
const TABLE_START = "<!-- permissions table: generated by npm run e2e -- permissions --write -->";
const TABLE_END = "<!-- end of permissions table -->";

/** Lists what the selected suites need; --write regenerates manifests/rbac/rbac.yaml and docs/permissions.md. */
function permissions(options: CliOptions): number {
  validateSelection(options, scanSuites(SUITES_DIR));
  const wanted = permissionsFor(SUITES_DIR, options.suites);
  if (!options.write) {
    for (const need of needs(wanted)) console.log(`${showNeed(need).padEnd(48)} ${need.scenarios.join(", ")}`);
    return EXIT.passed;
  }
  if (options.suites.length > 0) throw new UsageError("--write covers every suite; leave out --suite");
  writeFileSync(RBAC_FILE, renderRbac(wanted));
  const doc = readFileSync(PERMISSIONS_DOC, "utf8");
  const start = doc.indexOf(TABLE_START);
  const end = doc.indexOf(TABLE_END);
  if (start < 0 || end < start)
    throw new UsageError(`${PERMISSIONS_DOC} lacks the markers ${TABLE_START} ... ${TABLE_END}`);
  const table = `${TABLE_START}\n\n${renderPermissionTable(wanted)}\n`;
  writeFileSync(PERMISSIONS_DOC, doc.slice(0, start) + table + doc.slice(end));
  say(`permissions: wrote ${RBAC_FILE} and the table in ${PERMISSIONS_DOC}`);
  return EXIT.passed;
}

async function runNode(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const child = spawn(process.execPath, args, { stdio: "inherit", cwd: PROJECT_ROOT, env });
  return new Promise((done) => child.on("exit", (code) => done(code ?? EXIT.failed)));
}

async function main(argv: readonly string[]): Promise<number> {
  let command: Command;
  try {
    command = parseCommandLine(argv);
    // Every KOC_* variable, with the flags that override them, is checked before anything runs.
    if (command.name !== "help") checkEnvironment(environmentFor(command.options, process.env));
    switch (command.name) {
      case "help":
        console.log(USAGE);
        return EXIT.passed;
      case "run":
        return command.options.contexts.length > 1 ? await runEach(command.options) : await run(command.options);
      case "list":
        return await list(command.options);
      case "cleanup":
        return await cleanup(command.options);
      case "report":
        return await report(command.options);
      case "permissions":
        return permissions(command.options);
      case "images":
        return await images(command.options);
      case "results":
        return await results(command.options);
    }
  } catch (error) {
    if (
      error instanceof UsageError ||
      error instanceof ConfigError ||
      error instanceof ImageError ||
      error instanceof BaselineError
    ) {
      say(`error: ${error.message}`);
      return EXIT.usage;
    }
    if (error instanceof PermissionError) {
      say(`error: ${error.message}`);
      return EXIT.forbidden;
    }
    if (error instanceof UnreachableError) {
      say(`error: ${error.message}`);
      return EXIT.unreachable;
    }
    throw error;
  }
}

process.exitCode = await main(process.argv.slice(2));
// Open sockets (keep-alive, watches) must not hold the process once the answer is known.
process.exit();
