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

/**
 * Pod Security Standards levels, lowest privilege first. A scenario declares the lowest its workloads need
 * (fixtures.ts podSecurity()): `restricted` when they run as non-root with every capability dropped,
 * `baseline` for ordinary root images, `privileged` only for host access (hostPath, hostNetwork, node checks).
 */
export const POD_SECURITY_LEVELS = ["restricted", "baseline", "privileged"] as const;
export type PodSecurityLevel = (typeof POD_SECURITY_LEVELS)[number];
/** The level of a scenario that declares none: what every namespace had before levels were declared. */
export const DEFAULT_POD_SECURITY: PodSecurityLevel = "privileged";

/** enforce, audit and warn set to one level, explicitly, so a cluster-wide default cannot surprise a test. */
export function podSecurityLabels(level: PodSecurityLevel): Record<string, string> {
  return Object.fromEntries(["enforce", "audit", "warn"].map((mode) => [`pod-security.kubernetes.io/${mode}`, level]));
}

/** The namespace object: run labels plus Pod Security labels set explicitly. */
export function namespaceManifest(
  name: string,
  runId: string,
  testName: string,
  level: PodSecurityLevel = DEFAULT_POD_SECURITY,
): V1Namespace {
  return {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name,
      labels: { ...runLabels(runId), ...podSecurityLabels(level) },
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
  level: PodSecurityLevel = DEFAULT_POD_SECURITY,
): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const name = namespaceName(scenario);
    try {
      await kube.core.createNamespace({ body: namespaceManifest(name, runId, testName, level) });
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
  /** `<file> > <describe> > <test>`, the key of the test's JUnit verdict; absent outside a test. */
  readonly scenario?: string;
  /** Aborted when the test times out or the run is cancelled; pass it to long waits as `{ signal }`. */
  readonly signal: AbortSignal;
  /** Registers an undo step, run last-in-first-out after the test and before the namespace is deleted. */
  defer(description: string, undo: () => Promise<void>): void;
  /** The Pod Security level the namespace is labelled with (the file's podSecurity()); absent outside a test. */
  readonly podSecurity?: PodSecurityLevel;
  /**
   * Ends the test as skipped with `reason` while its body runs (the test's own skip); after the body, a skip
   * would hide the result, so it throws instead. Absent outside a test (e.g. the canaries' namespace).
   */
  readonly skip?: (reason: string) => never;
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
