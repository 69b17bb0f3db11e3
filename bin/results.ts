/**
 * `results --context X`: the newest result the nightly CronJob (manifests/runner/nightly.yaml) kept in the
 * cluster, unpacked into --reports-dir and rendered.
 *
 * Where results are kept: in the log of each finished nightly pod. The runner ends its log with the results
 * folder as a gzip'd tar in base64 between RESULTS_BEGIN and RESULTS_END (which carries the run's exit code);
 * the CronJob's successfulJobsHistoryLimit / failedJobsHistoryLimit keep the last N Jobs and with them their
 * pods and logs. No volume is involved (the storage under test may be what broke), and reading needs only
 * `get pods/log`. Limit: the API serves only the kubelet's current log file (containerLogMaxSize, 10 MiB by
 * default), so the runner leaves the failure artifacts out when the block would pass RESULTS_MAX_BYTES.
 */
import { spawn } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import type { V1Pod } from "@kubernetes/client-node";
import { readConfig } from "../helpers/framework/config.ts";
import { connect } from "../helpers/framework/kube.ts";
import { RBAC_NAMESPACE } from "../helpers/framework/permissions.ts";
import { type CliOptions, EXIT, environmentFor, UsageError } from "./args.ts";
import { checkReachable, chooseTarget, PROJECT_ROOT } from "./target.ts";

export const NIGHTLY_LABEL = "app.kubernetes.io/component=nightly";
export const RESULTS_BEGIN = "koc-results-begin";
export const RESULTS_END = "koc-results-end";

export interface ResultsBlock {
  /** The gzip'd tar of the results folder. */
  archive: Buffer;
  exitCode: number;
}

/** The results block at the end of a nightly pod's log, or undefined when the log has none (complete). */
export function resultsBlock(log: string): ResultsBlock | undefined {
  const lines = log.split("\n").map((l) => l.trim());
  const begin = lines.lastIndexOf(RESULTS_BEGIN);
  if (begin < 0) return undefined;
  const endAt = lines.findIndex((l, i) => i > begin && l.startsWith(`${RESULTS_END} `));
  if (endAt < 0) return undefined;
  const exitCode = Number(lines[endAt]?.slice(RESULTS_END.length + 1));
  if (!Number.isInteger(exitCode)) return undefined;
  return { archive: Buffer.from(lines.slice(begin + 1, endAt).join(""), "base64"), exitCode };
}

/** The newest finished nightly pod (by start time), or undefined. */
export function newestFinished(pods: readonly V1Pod[]): V1Pod | undefined {
  const finished = pods.filter((p) => p.status?.phase === "Succeeded" || p.status?.phase === "Failed");
  const start = (p: V1Pod): number => new Date(p.status?.startTime ?? 0).getTime();
  return [...finished].sort((a, b) => start(b) - start(a))[0];
}

export async function results(options: CliOptions): Promise<number> {
  const cfg = readConfig(environmentFor(options, process.env));
  if (!cfg.contextExplicit && cfg.kubeconfig === undefined) {
    throw new UsageError("results: name the cluster whose nightly runs to read with --context (or --kubeconfig)");
  }
  const kube = connect(chooseTarget(cfg));
  await checkReachable(kube.kubeConfig);
  const pods = await kube.core.listNamespacedPod({ namespace: RBAC_NAMESPACE, labelSelector: NIGHTLY_LABEL });
  const pod = newestFinished(pods.items);
  if (pod?.metadata?.name === undefined) {
    throw new UsageError(
      `no finished nightly run in namespace ${RBAC_NAMESPACE} (label ${NIGHTLY_LABEL}); see manifests/runner/`,
    );
  }
  const log = await kube.core.readNamespacedPodLog({ namespace: RBAC_NAMESPACE, name: pod.metadata.name });
  const block = resultsBlock(log);
  if (block === undefined) {
    console.error(
      `k8s-ops-conformance: results: the log of ${pod.metadata.name} ends without its results (cut short?)`,
    );
    return EXIT.failed;
  }
  const reportsDir = resolve(PROJECT_ROOT, cfg.reportsDir);
  for (const name of ["allure-results", "artifacts", "junit.xml"])
    rmSync(resolve(reportsDir, name), { recursive: true, force: true });
  mkdirSync(reportsDir, { recursive: true });
  const tar = spawn("tar", ["-x", "-z", "-f", "-", "-C", reportsDir], { stdio: ["pipe", "inherit", "inherit"] });
  tar.stdin.end(block.archive);
  const code = await new Promise<number>((done) => tar.on("exit", (c) => done(c ?? 1)));
  if (code !== 0) throw new Error(`results: unpacking the results of ${pod.metadata.name} failed (tar exited ${code})`);
  console.error(
    `k8s-ops-conformance: results: ${pod.metadata.name} (started ${pod.status?.startTime?.toISOString?.() ?? pod.status?.startTime}, exit ${block.exitCode}) unpacked into ${reportsDir}; render with npm run report -- --reports-dir ${reportsDir}`,
  );
  return block.exitCode;
}
