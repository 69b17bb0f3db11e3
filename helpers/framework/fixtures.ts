/**
 * The suite's `test`: vitest's, plus two fixtures. Import `test` and `expect` from here, never from vitest.
 *
 *   kube  (per worker)  clients for the configured context (helpers/framework/kube.ts)
 *   ns    (per test)    a fresh namespace `koc-<scenario>-<random>` (helpers/framework/namespace.ts TestNamespace);
 *                       first it applies the @disruptive rule (helpers/framework/disruptive.ts): skip or run
 *
 * After each test that uses `ns`: if it failed, diagnostics are collected and attached BEFORE anything is
 * deleted; then deferred undo steps run (LIFO) and the namespace is deleted, unless it failed and
 * KOC_KEEP_NAMESPACE_ON_FAILURE is set. Errors of failed tests are scrubbed of Secret values.
 */
import { join, relative, resolve } from "node:path";
import type { KubernetesObject } from "@kubernetes/client-node";
import * as allure from "allure-js-commons";
import { inject, test as vitestTest } from "vitest";
import { cleanupCommand, config, KEPT_LABEL } from "./config.ts";
import { collectDiagnostics, safeFileName, saveArtifacts } from "./diagnostics.ts";
import { disruptiveVerdict, isTestbed } from "./disruptive.ts";
import type { ImageTable } from "./images.ts";
import { connect, type Kube } from "./kube.ts";
import {
  CleanupStack,
  createTestNamespace,
  DEFAULT_POD_SECURITY,
  deleteNamespace,
  type PodSecurityLevel,
  scenarioFromFile,
  type TestNamespace,
} from "./namespace.ts";
import { podSecuritySkipReason, privilegedNamespaceRefusal } from "./pod-security.ts";
import { redactor } from "./redact.ts";
import { log, step, titleTags } from "./report.ts";
import { T } from "./timeouts.ts";
import { withDeadline } from "./wait.ts";

export { describe, expect } from "vitest";

declare module "vitest" {
  /** Values the global setup (helpers/framework/global-setup.ts) hands to every worker. */
  export interface ProvidedContext {
    images: ImageTable;
  }
}

const SUITES_DIR = resolve(import.meta.dirname, "..", "..", "suites");

interface TaskLike {
  name: string;
  suite?: TaskLike | undefined;
}

/** `Smoke: nginx Service > should answer`: the describe blocks and the test title, as in JUnit and the console. */
export function testTitle(task: TaskLike): string {
  const names: string[] = [];
  // The chain ends at the file's own suite (it has a filepath); its name is the file, not a title.
  for (let t: TaskLike | undefined = task; t !== undefined && !("filepath" in t); t = t.suite) names.unshift(t.name);
  return names.join(" > ");
}

/** `reports/artifacts/smoke/nginx-service/<test>/` for a test in suites/smoke/nginx-service.e2e.test.ts. */
export function artifactDir(reportsDir: string, testFile: string, title: string): string {
  const file = relative(SUITES_DIR, testFile).replace(/(\.disruptive)?\.e2e\.test\.ts$/, "");
  return join(reportsDir, "artifacts", file, safeFileName(title));
}

async function keepNamespace(kube: Kube, name: string): Promise<void> {
  const patch: KubernetesObject = {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name, labels: { [KEPT_LABEL]: "true" } },
  };
  await kube.objects.patch(
    patch,
    undefined,
    undefined,
    "k8s-ops-conformance-keep",
    true,
    "application/merge-patch+json",
  );
  const command = cleanupCommand({ context: kube.context, kubeconfig: config().kubeconfig });
  log(`namespace ${name} kept for inspection (KOC_KEEP_NAMESPACE_ON_FAILURE); remove with: ${command}`);
}

/** What happens to a test's namespace once the test has ended (the `ns` fixture's teardown). */
export interface AfterTest {
  failed: boolean;
  keepOnFailure: boolean;
  /** Collects and saves the failure diagnostics; must not throw (a failure to collect is logged). */
  diagnose: () => Promise<void>;
  undo: CleanupStack;
  keep: () => Promise<void>;
  remove: () => Promise<void>;
}

/**
 * A failed test's diagnostics first, while everything is still there; then the undo steps, last
 * registered first; then the namespace is kept (failed, and asked to) or deleted. Undo failures are thrown
 * last, after the namespace was dealt with.
 */
export async function afterTest(steps: AfterTest): Promise<void> {
  if (steps.failed) await steps.diagnose();
  const undoFailures = await steps.undo.run();
  if (steps.failed && steps.keepOnFailure) await steps.keep();
  else await steps.remove();
  if (undoFailures.length > 0) throw new Error(`cleanup after the test failed:\n  ${undoFailures.join("\n  ")}`);
}

// Each test file is its own module instance (vitest isolates files), so this holds the file's declaration.
let fileLevel: PodSecurityLevel = DEFAULT_POD_SECURITY;

/**
 * Declares the lowest Pod Security level this file's scenarios need; its test namespaces get exactly that.
 * One line at the top of a scenario file: `podSecurity("baseline");`. Without it: DEFAULT_POD_SECURITY.
 */
export function podSecurity(level: PodSecurityLevel): void {
  fileLevel = level;
}

/**
 * The test's skip for helpers (TestNamespace.skip): while the body runs it ends the test as skipped; once the
 * body has ended (teardown, undo steps) vitest would still turn the finished test into a skip, hiding a failure,
 * so it throws an error instead.
 */
export function skipWhileRunning(skip: (note?: string) => never, ended: () => boolean): (reason: string) => never {
  return (reason) => {
    if (ended()) throw new Error(`refused to skip after the test's body ended (it would hide the result): ${reason}`);
    return skip(reason);
  };
}

export const test = vitestTest
  .extend("kube", { scope: "worker" }, async (): Promise<Kube> => connect(config()))
  .extend("ns", async ({ kube, task, signal, skip, onTestFailed }, { onCleanup }): Promise<TestNamespace> => {
    const cfg = config();
    const title = testTitle(task);
    const verdict = disruptiveVerdict({
      title: task.name,
      file: task.file.filepath,
      testbed: await isTestbed(kube),
      allowed: cfg.disruptive,
      context: kube.context,
    });
    if (!verdict.run) {
      log(`skipped: ${verdict.reason}`);
      skip(verdict.reason);
    }
    const level = fileLevel;
    const name = await createTestNamespace(kube, scenarioFromFile(task.file.filepath), cfg.runId, title, level).catch(
      (error: unknown) => {
        // a cluster that forbids the privileged level: the scenario cannot run here, which is a skip
        const refusal = privilegedNamespaceRefusal(level, error);
        if (refusal === undefined) throw error;
        const reason = podSecuritySkipReason(`namespace labelled pod-security.kubernetes.io/enforce=${level}`, refusal);
        log(`skipped: ${reason}`);
        return skip(reason);
      },
    );
    let ended = false;
    const undo = new CleanupStack();
    await allure.tags(...titleTags(task.name));
    // Runs after every fixture teardown: the last chance to take Secret values out of the failure.
    onTestFailed(({ task: failed }) => {
      for (const error of failed.result?.errors ?? []) redactor.scrubError(error);
    });
    onCleanup(() => {
      ended = true;
      const dir = artifactDir(cfg.reportsDir, task.file.filepath, title);
      return afterTest({
        failed: task.result?.state === "fail",
        keepOnFailure: cfg.keepNamespaceOnFailure,
        diagnose: () =>
          step(`diagnostics of ${name}, taken after the failure (also in ${dir})`, () =>
            withDeadline(`diagnostics for ${name}`, T.diagnostics, collectDiagnostics(kube, name))
              .then((artifacts) => saveArtifacts(artifacts, dir))
              .catch((error: Error) => log(`could not collect diagnostics for ${name}: ${error.message}`)),
          ),
        undo,
        keep: () => keepNamespace(kube, name),
        remove: () => deleteNamespace(kube, name),
      });
    });
    return {
      name,
      kube,
      images: inject("images"),
      runId: cfg.runId,
      scenario: `${relative(resolve(SUITES_DIR, ".."), task.file.filepath)} > ${title}`,
      signal,
      defer: (description, step) => undo.push(description, step),
      podSecurity: level,
      skip: skipWhileRunning(skip, () => ended),
    };
  });

export type { TestNamespace } from "./namespace.ts";
