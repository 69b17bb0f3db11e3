/**
 * One namespace per test: `koc-<scenario>-<random>`, labelled with the run id, deleted afterwards.
 *
 * The name is made here rather than with generateName: if the create call fails half-way we still know
 * which name to look for and delete (k8s test/e2e/framework/util.go CreateTestingNS does the same).
 */
import { randomBytes } from "node:crypto";
import type { V1Namespace } from "@kubernetes/client-node";
import { runLabels } from "./config.ts";
import type { ImageTable } from "./images.ts";
import { isNotFound, type Kube, statusCode } from "./kube.ts";
import { T } from "./timeouts.ts";
import { waitFor } from "./wait.ts";

const PREFIX = "koc-";
const SUFFIX_LENGTH = 5;
const MAX_NAME = 63;
/** Annotation holding the full test name, so `kubectl get ns -o yaml` says which test a namespace belongs to. */
export const TEST_ANNOTATION = "k8s-ops-conformance/test";

/** `suites/workloads/rolling-update.e2e.test.ts` → `rolling-update`. */
export function scenarioFromFile(file: string): string {
  const base = file.split(/[\\/]/).pop() ?? file;
  return base.replace(/(\.disruptive)?\.e2e\.test\.ts$/, "").replace(/\.test\.ts$/, "");
}

/** `koc-<scenario>-<random>`: lowercase DNS label, at most 63 characters. */
export function namespaceName(scenario: string, random: string = randomSuffix()): string {
  const room = MAX_NAME - PREFIX.length - 1 - random.length;
  const slug = scenario
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/-+/g, "-")
    .slice(0, room)
    .replace(/^-+|-+$/g, "");
  return `${PREFIX}${slug || "test"}-${random}`;
}

function randomSuffix(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  return [...randomBytes(SUFFIX_LENGTH)].map((b) => alphabet[b % alphabet.length]).join("");
}

/** The namespace object: run labels plus Pod Security labels set explicitly. */
export function namespaceManifest(name: string, runId: string, testName: string): V1Namespace {
  // Pod Security "privileged": this suite checks operational behaviour (hostPath, probes, OOM, node
  // placement), not admission policy, and some scenarios need host access. Setting the level explicitly
  // means a cluster-wide default (often "restricted" on hardened clusters) cannot reject test pods
  // half-way through a scenario with a confusing FailedCreate event.
  const podSecurity = Object.fromEntries(
    ["enforce", "audit", "warn"].map((mode) => [`pod-security.kubernetes.io/${mode}`, "privileged"]),
  );
  return {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name,
      labels: { ...runLabels(runId), ...podSecurity },
      annotations: { [TEST_ANNOTATION]: testName.slice(0, 1000) },
    },
  };
}

/** Creates the namespace and waits until its default ServiceAccount exists (pods need it). */
export async function createTestNamespace(
  kube: Kube,
  scenario: string,
  runId: string,
  testName: string,
): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const name = namespaceName(scenario);
    try {
      await kube.core.createNamespace({ body: namespaceManifest(name, runId, testName) });
    } catch (error) {
      if (statusCode(error) === 409 && attempt < 3) continue; // name taken: draw another
      throw error;
    }
    await waitFor(
      `ServiceAccount ${name}/default exists`,
      { observe: () => kube.core.readNamespacedServiceAccount({ name: "default", namespace: name }), ok: () => true },
      T.namespaceReady,
    );
    return name;
  }
}

/** Asks for the namespace to be deleted (background propagation) without waiting for it to go. */
export async function deleteNamespace(kube: Kube, name: string): Promise<void> {
  try {
    await kube.core.deleteNamespace({ name, propagationPolicy: "Background" });
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

/** The test's handle on its namespace: what helpers need to act on the cluster for this test. */
export interface TestNamespace {
  readonly name: string;
  readonly kube: Kube;
  readonly images: ImageTable;
  readonly runId: string;
  /** Aborted when the test times out or the run is cancelled; pass it to long waits as `{ signal }`. */
  readonly signal: AbortSignal;
  /** Registers an undo step, run last-in-first-out after the test and before the namespace is deleted. */
  defer(description: string, undo: () => Promise<void>): void;
}

/** Undo steps in last-in-first-out order; every step runs even when an earlier one fails. */
export class CleanupStack {
  #steps: Array<{ description: string; undo: () => Promise<void> }> = [];

  push(description: string, undo: () => Promise<void>): void {
    this.#steps.push({ description, undo });
  }

  /** Runs and forgets every step; returns one line per failed step. */
  async run(): Promise<string[]> {
    const failures: string[] = [];
    for (let next = this.#steps.pop(); next !== undefined; next = this.#steps.pop()) {
      try {
        await next.undo();
      } catch (error) {
        failures.push(`${next.description}: ${(error as Error).message}`);
      }
    }
    return failures;
  }
}
