/**
 * `run --in-cluster`, the part that talks to the cluster: create the runner (bin/in-cluster.ts), follow its
 * log printing one line per finished scenario, copy its results through the API when it says it finished
 * (exec + tar, as `kubectl cp`), and delete everything it created, also after Ctrl-C / SIGTERM.
 */
import { spawn } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Writable } from "node:stream";
import type { KubernetesObject, V1Pod, V1Status } from "@kubernetes/client-node";
import { isNotFound, type Kube } from "../helpers/framework/kube.ts";
import { streamContainerLog } from "../helpers/framework/log-stream.ts";
import { formatDuration, POLL, T } from "../helpers/framework/timeouts.ts";
import { EXIT, UsageError } from "./args.ts";
import {
  DONE_FILE,
  FINISHED_MARKER,
  finishedCode,
  progressLine,
  RESULTS_DIR,
  RUNNER_CONTAINER,
  RUNNER_LABEL,
  type RunnerSpec,
  runnerManifests,
  runnerName,
} from "./in-cluster.ts";

export interface InClusterOutcome {
  /** The inner run's exit code, or 130/143 when interrupted here. */
  code: number;
  /** The results are in the local reports folder. */
  copied: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

/** Image pull failures that will not heal by waiting: the suite image is not where the reference says. */
const PULL_FAILURES = new Set(["ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"]);

function runnerState(pod: V1Pod | undefined): { running: boolean; exited?: number; problem?: string } {
  const status = pod?.status?.containerStatuses?.[0];
  const waiting = status?.state?.waiting;
  if (waiting?.reason && PULL_FAILURES.has(waiting.reason)) {
    return { running: false, problem: `${waiting.reason}: ${waiting.message ?? ""}`.trim() };
  }
  const terminated = status?.state?.terminated;
  if (terminated) return { running: false, exited: terminated.exitCode };
  return { running: status?.state?.running !== undefined };
}

async function runnerPod(kube: Kube, name: string): Promise<V1Pod | undefined> {
  const pods = await kube.core.listNamespacedPod({ namespace: name, labelSelector: `job-name=${name}` });
  return pods.items[0];
}

/** Waits for the runner's container to start (or end); UsageError when its image cannot be pulled. */
async function waitForRunner(kube: Kube, name: string, stop: AbortSignal): Promise<string | undefined> {
  const deadline = Date.now() + T.podStart;
  for (;;) {
    const pod = await runnerPod(kube, name);
    const state = runnerState(pod);
    if (state.problem !== undefined) {
      throw new UsageError(
        `the suite image cannot be pulled (${state.problem}); build and load it with npm run image, or name one with KOC_IMAGE_SUITE`,
      );
    }
    if (pod?.metadata?.name && (state.running || state.exited !== undefined)) return pod.metadata.name;
    if (stop.aborted) return undefined;
    if (Date.now() > deadline) {
      const phase = pod?.status?.phase ?? "no pod";
      throw new Error(`the runner ${name} did not start within ${formatDuration(T.podStart)} (${phase})`);
    }
    await sleep(POLL.slow);
  }
}

/** A log line's RFC 3339 timestamp with 9 fraction digits, so that timestamps compare as text. */
export function sortableStamp(stamp: string): string {
  const match = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(stamp);
  return match ? `${match[1]}.${(match[2] ?? "").padEnd(9, "0")}Z` : stamp;
}

/** Splits `<timestamp> <text>` as the API returns lines with timestamps. */
function stamped(raw: string): { stamp: string; line: string } {
  const space = raw.indexOf(" ");
  return space > 0
    ? { stamp: sortableStamp(raw.slice(0, space)), line: raw.slice(space + 1) }
    : { stamp: "", line: raw };
}

/** A runner log without a byte for this long is opened again (a scenario can run for minutes without a line). */
const RUNNER_LOG_IDLE_MS = 120_000;

/** One line of the runner's log: kept in runner.log, shown when it is progress; the exit code when it is the last. */
function takeLine(raw: string, seen: { since: string | undefined }, logFile: string): number | undefined {
  const { stamp, line } = stamped(raw);
  if (seen.since !== undefined && stamp !== "" && stamp <= seen.since) return undefined; // seen before a reconnect
  seen.since = stamp || seen.since;
  appendFileSync(logFile, `${line}\n`);
  const shown = progressLine(line);
  if (shown !== undefined) console.log(`  ${shown}`);
  return finishedCode(line);
}

/**
 * One follow of the runner's log, until it prints FINISHED_MARKER (its code), the stream ends or breaks, or
 * `stop`. Why a stream broke goes to runner.log; the caller follows again from the last line seen.
 */
async function followOnce(
  kube: Kube,
  where: { name: string; pod: string; logFile: string },
  seen: { since: string | undefined },
  stop: AbortSignal,
): Promise<number | undefined> {
  const finishedHere = new AbortController();
  let finished: number | undefined;
  const take = (lines: string[]): void => {
    for (const raw of lines) {
      if (finished !== undefined) return;
      finished = takeLine(raw, seen, where.logFile);
      if (finished !== undefined) finishedHere.abort(); // the results are copied next; the stream is done
    }
  };
  const source = { namespace: where.name, pod: where.pod, container: RUNNER_CONTAINER };
  const sinceTime = seen.since?.replace(/\.\d+Z$/, "Z"); // the API takes whole seconds; lines seen are skipped
  const signal = AbortSignal.any([stop, finishedHere.signal]);
  try {
    await streamContainerLog(kube, source, { sinceTime, idleMs: RUNNER_LOG_IDLE_MS, signal }, take);
  } catch (error) {
    if (finished === undefined && !stop.aborted) {
      appendFileSync(
        where.logFile,
        `koc-launcher: the log stream broke (${(error as Error).message}); following again\n`,
      );
    }
  }
  return finished;
}

/**
 * Follows the runner's log until it prints FINISHED_MARKER (its code) or its container ends (undefined);
 * every line goes to runner.log, the progress lines to the console. A dropped stream is followed again from
 * the last timestamp seen.
 */
async function followRunner(
  kube: Kube,
  name: string,
  pod: string,
  logFile: string,
  stop: AbortSignal,
): Promise<number | undefined> {
  const seen = { since: undefined as string | undefined };
  for (;;) {
    const finished = await followOnce(kube, { name, pod, logFile }, seen, stop);
    if (finished !== undefined) return finished;
    if (stop.aborted) return undefined;
    if (runnerState(await runnerPod(kube, name)).exited !== undefined) return undefined;
    await sleep(POLL.slow);
  }
}

/** Runs a command in the runner's container; stdout goes to `stdout`. Resolves with the exec status. */
async function execRunner(
  kube: Kube,
  name: string,
  pod: string,
  command: string[],
  stdout: Writable | null,
): Promise<V1Status> {
  return new Promise<V1Status>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${command.join(" ")} in ${name}/${pod}: no answer within ${formatDuration(T.cleanup)}`)),
      T.cleanup,
    );
    kube.exec
      .exec(name, pod, RUNNER_CONTAINER, command, stdout, process.stderr, null, false, (status) => {
        clearTimeout(timer);
        resolve(status);
      })
      .then((ws) => ws.on("error", (error: Error) => reject(error)))
      .catch(reject);
  });
}

/** Copies RESULTS_DIR of the runner into `reportsDir` (tar over the exec stream), then tells the runner it may end. */
async function copyResults(kube: Kube, name: string, pod: string, reportsDir: string): Promise<void> {
  mkdirSync(reportsDir, { recursive: true });
  const tar = spawn("tar", ["-x", "-f", "-", "-C", reportsDir], { stdio: ["pipe", "inherit", "inherit"] });
  const extracted = new Promise<number>((done) => tar.on("exit", (code) => done(code ?? 1)));
  const status = await execRunner(kube, name, pod, ["tar", "-c", "-f", "-", "-C", RESULTS_DIR, "."], tar.stdin);
  tar.stdin.end();
  const code = await extracted;
  if (status.status !== "Success" || code !== 0) {
    throw new Error(
      `copying ${RESULTS_DIR} from ${name}/${pod} failed: ${status.message ?? status.status}; tar exited ${code}`,
    );
  }
  await execRunner(kube, name, pod, ["touch", DONE_FILE], null);
}

const KIND_ORDER = [
  "Job",
  "ConfigMap",
  "RoleBinding",
  "Role",
  "ClusterRoleBinding",
  "ClusterRole",
  "ServiceAccount",
  "Namespace",
];

/** Deletes what runnerManifests made, the Job first (its pod gets its grace period), and waits until the pod is gone. */
async function deleteRunner(
  kube: Kube,
  objects: readonly KubernetesObject[],
  gracePeriodSeconds: number,
): Promise<string[]> {
  const left: string[] = [];
  const ordered = [...objects].sort((a, b) => KIND_ORDER.indexOf(a.kind ?? "") - KIND_ORDER.indexOf(b.kind ?? ""));
  for (const object of ordered) {
    try {
      await kube.objects.delete(object, undefined, undefined, gracePeriodSeconds, undefined, "Foreground");
    } catch (error) {
      if (!isNotFound(error)) left.push(`${object.kind} ${object.metadata?.name}`);
    }
    if (object.kind === "Job") await waitPodGone(kube, object.metadata?.name ?? "", gracePeriodSeconds);
  }
  return left;
}

async function waitPodGone(kube: Kube, name: string, gracePeriodSeconds: number): Promise<void> {
  const deadline = Date.now() + gracePeriodSeconds * 1000 + T.delete;
  while (Date.now() < deadline) {
    const pods = await kube.core
      .listNamespacedPod({ namespace: name, labelSelector: `${RUNNER_LABEL}=${name}` })
      .catch(() => undefined);
    if (pods === undefined || pods.items.length === 0) return;
    await sleep(POLL.slow);
  }
}

/** Waits for the runner, follows it and copies its results; the outcome when it was not interrupted. */
async function supervise(
  kube: Kube,
  name: string,
  reportsDir: string,
  stop: AbortSignal,
  say: (line: string) => void,
): Promise<InClusterOutcome> {
  const pod = await waitForRunner(kube, name, stop);
  if (pod === undefined) return { code: EXIT.failed, copied: false };
  const finished = await followRunner(kube, name, pod, join(reportsDir, "runner.log"), stop);
  if (stop.aborted) return { code: EXIT.failed, copied: false };
  if (finished !== undefined) {
    await copyResults(kube, name, pod, reportsDir);
    say(`in-cluster: results copied into ${reportsDir}`);
    return { code: finished, copied: true };
  }
  const exited = runnerState(await runnerPod(kube, name)).exited;
  say(`in-cluster: the runner ended without "${FINISHED_MARKER}" (exit ${exited ?? "?"}); no results to copy`);
  return { code: exited !== undefined && exited !== 0 ? exited : EXIT.failed, copied: false };
}

export interface InClusterContext {
  kube: Kube;
  spec: RunnerSpec;
  reportsDir: string;
  say: (line: string) => void;
}

/**
 * Creates the runner, follows it, copies its results into reportsDir and deletes the runner. Ctrl-C / SIGTERM
 * deletes the runner's pod (which stops its tests and cleans up within its grace period) and the rest.
 */
export async function runInCluster({ kube, spec, reportsDir, say }: InClusterContext): Promise<InClusterOutcome> {
  const name = runnerName(spec.runId);
  const objects = runnerManifests(spec) as KubernetesObject[];
  const stop = new AbortController();
  let signal: NodeJS.Signals | undefined;
  const onSignal = (s: NodeJS.Signals): void => {
    if (signal !== undefined) return;
    signal = s;
    say(`${s}: stopping the runner in ${name} (it deletes what its tests created), then deleting it`);
    stop.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const logFile = join(reportsDir, "runner.log");
  mkdirSync(reportsDir, { recursive: true });
  let outcome: InClusterOutcome = { code: EXIT.failed, copied: false };
  try {
    for (const object of objects) await kube.objects.create(object);
    say(`in-cluster: Job ${name}/${name} runs ${spec.image}; full log in ${logFile}`);
    outcome = await supervise(kube, name, reportsDir, stop.signal, say);
  } finally {
    const left = await deleteRunner(kube, objects, spec.gracePeriodSeconds);
    if (left.length > 0)
      say(`in-cluster: could not delete ${left.join(", ")}; kubectl delete them (label ${RUNNER_LABEL}=${name})`);
    else say(`in-cluster: deleted namespace ${name} and the runner's roles`);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  if (signal !== undefined) outcome = { code: signal === "SIGINT" ? EXIT.interrupted : EXIT.terminated, copied: false };
  if (!existsSync(join(reportsDir, "junit.xml"))) say("in-cluster: no junit.xml came back");
  return outcome;
}
