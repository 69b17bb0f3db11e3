#!/usr/bin/env node
/**
 * k8s-ops-conformance: run the scenario suites against a cluster, list them, clean up after them and
 * render their report. Every failure before tests start is one line on stderr and a distinct exit code
 * (see EXIT in ./args.ts); `--help` prints the usage.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { sweepManaged } from "../helpers/framework/cleanup.ts";
import { type Config, ConfigError, cleanupCommand, readConfig } from "../helpers/framework/config.ts";
import { ImageError, resolveImages } from "../helpers/framework/images.ts";
import { connect, type Kube } from "../helpers/framework/kube.ts";
import { T, useTimeoutScale } from "../helpers/framework/timeouts.ts";
import { scanReport, showLeaks } from "../helpers/manifests/leaks.ts";
import {
  type CliOptions,
  type Command,
  EXIT,
  environmentFor,
  parseCommandLine,
  tagPattern,
  USAGE,
  UsageError,
  validateSelection,
} from "./args.ts";
import { scanSuites } from "./catalog.ts";
import { checkEnvironment } from "./environment.ts";
import { summaryFromFile } from "./summary.ts";
import { bringUpTestbed, checkReachable, chooseTarget, PROJECT_ROOT, UnreachableError } from "./target.ts";

const SUITES_DIR = join(PROJECT_ROOT, "suites");
const VITEST = join(PROJECT_ROOT, "node_modules", "vitest", "vitest.mjs");
const ALLURE = join(PROJECT_ROOT, "node_modules", "allure", "cli.js");

function say(line: string): void {
  console.error(`k8s-ops-conformance: ${line}`);
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
  if (!target.explicit && startTestbed) await bringUpTestbed();
  const kube = connect(target);
  const version = await checkReachable(kube.kubeConfig);
  say(`target: context "${kube.context}" at ${kube.server} (Kubernetes ${version}), run id ${cfg.runId}`);
  // The workers use exactly what was checked here.
  return { cfg, kube, env: { ...env, KOC_CONTEXT: kube.context, KOC_RUN_ID: cfg.runId } };
}

function vitestArgs(options: CliOptions, mode: "run" | "list"): string[] {
  const args = [VITEST, mode, "--project", "e2e", ...options.suites.map((s) => `suites/${s}/`)];
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

async function run(options: CliOptions): Promise<number> {
  validateSelection(options, scanSuites(SUITES_DIR));
  const { cfg, kube, env } = await prepareTarget(options, options.clusterUp);
  const startedAt = Date.now();
  clearResults(resolve(PROJECT_ROOT, cfg.reportsDir));
  // The Secret values the workers learn while applying, for the report scan; private, gone after the run.
  const learnedDir = mkdtempSync(join(tmpdir(), "koc-learned-secrets-"));
  let leaks: number;
  let result: Awaited<ReturnType<typeof runVitest>>;
  let clean: boolean;
  try {
    result = await runVitest(vitestArgs(options, "run"), { ...env, KOC_LEARNED_SECRETS_DIR: learnedDir });
    clean = await sweepRun(kube, cfg.runId);
    leaks = scanForSecrets(resolve(PROJECT_ROOT, cfg.reportsDir), learnedDir);
  } finally {
    rmSync(learnedDir, { recursive: true, force: true });
  }
  const summary = summaryFromFile(join(resolve(PROJECT_ROOT, cfg.reportsDir), "junit.xml"), startedAt);
  console.log(summary ?? "e2e: no test result was written (reports/junit.xml missing)");
  if (result.signal) return result.signal === "SIGINT" ? EXIT.interrupted : EXIT.terminated;
  if (result.code !== 0) return EXIT.failed;
  if (leaks > 0) return EXIT.failed;
  if (!clean) {
    const command = cleanupCommand({ context: kube.context, kubeconfig: cfg.kubeconfig });
    say(`tests passed, but the run left objects behind (listed above); remove them with: ${command}`);
    return EXIT.failed;
  }
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
  for (const name of ["allure-results", "artifacts", "junit.xml"]) {
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
  const result = await runNode([ALLURE, "generate", results, "--output", output, "--name", "k8s-ops-conformance"]);
  if (result !== 0) return EXIT.failed;
  say(`report: ${join(output, "index.html")}`);
  return EXIT.passed;
}

async function runNode(args: string[]): Promise<number> {
  const child = spawn(process.execPath, args, { stdio: "inherit", cwd: PROJECT_ROOT });
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
        return await run(command.options);
      case "list":
        return await list(command.options);
      case "cleanup":
        return await cleanup(command.options);
      case "report":
        return await report(command.options);
    }
  } catch (error) {
    if (error instanceof UsageError || error instanceof ConfigError || error instanceof ImageError) {
      say(`error: ${error.message}`);
      return EXIT.usage;
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
