/**
 * Runs once per e2e run, in vitest's main process: connects, prints the banner (context, server version,
 * nodes, run id), writes it as the Allure environment, resolves the image table once and hands it to the
 * workers. Teardown sweeps what this run created (the CLI sweeps again after vitest exits, which also
 * covers an interrupted run).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { sweepManaged } from "./cleanup.ts";
import { clusterFacts } from "./cluster-facts.ts";
import { banner, config } from "./config.ts";
import { type ImageTable, resolveImages, TESTBED_IMAGES_CONFIGMAP } from "./images.ts";
import { connect, isNotFound, type Kube } from "./kube.ts";
import { T } from "./timeouts.ts";

/** The test bed's image references, or undefined when its ConfigMap does not exist. */
export async function testbedImages(kube: Kube): Promise<Record<string, string> | undefined> {
  try {
    return (await kube.core.readNamespacedConfigMap(TESTBED_IMAGES_CONFIGMAP)).data ?? {};
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

function writeAllureEnvironment(resultsDir: string, entries: Record<string, string>): void {
  mkdirSync(resultsDir, { recursive: true });
  const escapeValue = (text: string): string => text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
  const lines = Object.entries(entries).map(([key, value]) => `${key.replace(/[ =:]/g, "_")}=${escapeValue(value)}`);
  writeFileSync(join(resultsDir, "environment.properties"), `${lines.join("\n")}\n`);
}

/** What a run inside the cluster (`run --in-cluster`) does differently from one outside it: the report says so. */
export const IN_CLUSTER_DIFFERENCES =
  "a pod of this cluster (run --in-cluster). Differs from a run outside: NodePort checks from outside the cluster are " +
  "skipped (no host outside it); the zero-downtime NodePort prober runs in the prober pod instead of on a host; " +
  "node clocks are measured against the runner pod's node";

interface RunSetup {
  images: ImageTable;
  /** Sweeps what the run created. */
  teardown: () => Promise<void>;
}

// The e2e and serial projects both list this file, and vitest calls it once per project (in this one
// process): the run is prepared once, the banner printed once, and the sweep runs once, at the end.
const run = globalThis as { kocRunSetup?: Promise<RunSetup> };

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (process.env.KOC_LIST_ONLY) {
    // `k8s-ops-conformance list` only collects test names: no cluster needed.
    project.provide("images", resolveImages({}));
    return async () => {};
  }
  const first = run.kocRunSetup === undefined;
  run.kocRunSetup ??= prepareRun();
  const { images, teardown } = await run.kocRunSetup;
  project.provide("images", images);
  return first ? teardown : async () => {};
}

async function prepareRun(): Promise<RunSetup> {
  const cfg = config();
  const kube = connect(cfg);
  const [version, nodes, fromTestbed] = await Promise.all([
    kube.version.getCode(),
    kube.core.listNode(),
    testbedImages(kube),
  ]);
  const images: ImageTable = resolveImages({
    testbed: fromTestbed,
    registry: cfg.imageRegistry,
    overrides: cfg.imageOverrides,
  });
  const nodeNames = nodes.items.map((n) => n.metadata?.name ?? "?");
  const facts = await clusterFacts(kube, nodes.items, join(import.meta.dirname, "..", ".."));
  console.log(
    banner({
      context: kube.context,
      server: kube.server,
      serverVersion: version.gitVersion,
      nodes: nodeNames,
      runId: cfg.runId,
      timeoutScale: cfg.timeoutScale,
    }),
  );
  for (const [key, value] of Object.entries(facts)) console.log(`  ${`${key}:`.padEnd(15)} ${value}`);
  console.log(
    `  images:         ${fromTestbed ? "test bed ConfigMap + " : ""}pinned defaults${cfg.imageRegistry ? ` via ${cfg.imageRegistry}` : ""}`,
  );
  if (cfg.inCluster) console.log(`  runner:         ${IN_CLUSTER_DIFFERENCES}`);
  writeAllureEnvironment(join(cfg.reportsDir, "allure-results"), {
    context: kube.context,
    server: kube.server,
    kubernetesVersion: version.gitVersion,
    nodes: `${nodeNames.length}: ${nodeNames.join(", ")}`,
    runId: cfg.runId,
    timeoutScale: String(cfg.timeoutScale),
    runner: cfg.inCluster ? IN_CLUSTER_DIFFERENCES : "outside the cluster, on the host that started the run",
    ...facts,
    ...Object.fromEntries(Object.entries(images).map(([key, ref]) => [`image.${key}`, ref])),
  });
  const teardown = async (): Promise<void> => {
    const { remaining, undeleted } = await sweepManaged(kube, { runId: cfg.runId, timeout: T.cleanup });
    const left = [...undeleted, ...remaining];
    if (left.length > 0) console.warn(`cleanup: still present after the run: ${left.join(", ")}`);
  };
  return { images, teardown };
}
