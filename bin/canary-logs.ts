#!/usr/bin/env node
/**
 * The in-cluster canary prober's log follower: a detached process that `run --baseline FILE` starts
 * (bin/upgrade-traffic.ts startLogFollower) and `run --compare FILE` stops. It keeps the records of every
 * canary-prober pod (manifests/canary/40-prober.yaml: probe-loop.mjs writing to stdout) on this host, so a
 * pod's records outlive the pod when a drain deletes it.
 *
 *   node bin/canary-logs.ts --context NAME [--kubeconfig FILE] --out FILE.incluster.records --stop-file FILE.incluster.stop
 *
 * Every second it lists the pods labelled app=canary-prober in koc-canary: a list rather than a watch, since
 * it only has to fail while the API server restarts during `kubeadm upgrade apply` and succeed again after,
 * with no resourceVersion to carry across. For each new pod it
 *   - measures the pod's clock once it runs (probe-loop.mjs --clock over exec, helpers/traffic/clocks.ts),
 *     and again when stopped, so the compare can place its records on this host's clock;
 *   - follows its container log through the API (follow, timestamps) from the follower's start, appending
 *     each prober line to the records file (incluster-records.ts has the format). A stream that breaks or
 *     goes silent for STREAM_IDLE_MS is opened again with sinceTime, duplicates dropped (LogResume); one that
 *     ends (the container exited) is opened again as well, until the pod is gone, so a drained pod's last
 *     lines and its end line are kept. What broke, resumed or was lost is noted in the file.
 * When the stop file appears it measures the running pods' clocks again, ends the streams and writes its
 * end line. It never exits on an error of its own without a note: a follower that died leaves no end line,
 * which the compare reports.
 */
import { appendFileSync, existsSync } from "node:fs";
import { setTimeout as delay } from "node:timers/promises";
import { parseArgs } from "node:util";
import { DEFAULT_IMAGES } from "../helpers/framework/images.ts";
import { connect, describeApiError } from "../helpers/framework/kube.ts";
import { LogStreamError, streamContainerLog } from "../helpers/framework/log-stream.ts";
import { measureClock, type NodeClock } from "../helpers/traffic/clocks.ts";
import { POD_SCRIPT } from "../helpers/traffic/prober.ts";
import { CANARY_NAMESPACE, canaryNamespace } from "./canaries.ts";
import { clockErrorLine, clockLine, endLine, LogResume, noteLine, recordLine } from "./incluster-records.ts";

const LABEL_SELECTOR = "app=canary-prober";
const CONTAINER = "node";
/** How often the pods are listed and a stream that ended or broke is opened again. */
const EVERY_MS = 1_000;
/** A stream without a byte for this long is taken as broken: the prober writes every 100 ms. */
const STREAM_IDLE_MS = 10_000;
/** Clock measurements of a running pod before its clock is given up as unusable (ClockSkewError). */
const CLOCK_ATTEMPTS = 10;

const { values } = parseArgs({
  options: {
    context: { type: "string" },
    kubeconfig: { type: "string" },
    out: { type: "string" },
    "stop-file": { type: "string" },
  },
});
const out = values.out ?? "";
const stopFile = values["stop-file"] ?? "";
if (out === "" || stopFile === "") throw new Error("usage: canary-logs.ts --context NAME --out FILE --stop-file FILE");

const kube = connect({ kubeconfig: values.kubeconfig, context: values.context });
const ns = canaryNamespace(kube, DEFAULT_IMAGES);
const stopping = new AbortController();
/** The follower's start, to the second: records from before it (the baseline's own suites) are not judged. */
const since = new Date(Math.floor(Date.now() / 1000) * 1000).toISOString().replace(/\.\d+Z$/, "Z");

const write = (...lines: string[]): void => appendFileSync(out, lines.map((l) => `${l}\n`).join(""));
const note = (text: string): void => write(noteLine(Date.now(), text));
const message = (error: unknown): string => describeApiError(error).split("\n")[0] ?? "";

interface Followed {
  pod: string;
  node: string;
  phase: string;
  /** No longer in the list: deleted. */
  gone: boolean;
  clock: NodeClock | undefined;
  /** Why its stream broke, while it is being resumed; "" otherwise. */
  broken: string;
  done: Promise<void>;
}
const followed = new Map<string, Followed>();

const stopped = (): boolean => stopping.signal.aborted;
const pause = (): Promise<void> => delay(EVERY_MS, undefined, { signal: stopping.signal }).catch(() => undefined);
const clockOf = (f: Followed): Promise<NodeClock> =>
  measureClock(ns, f.pod, ["node", POD_SCRIPT, "--clock"], `node ${f.node} (pod ${f.pod})`);

/** Measures the pod's clock once it runs; after CLOCK_ATTEMPTS failures writes why (its records cannot be placed). */
async function measure(f: Followed): Promise<void> {
  let failed = 0;
  let why = "";
  while (!stopped() && !f.gone && failed < CLOCK_ATTEMPTS) {
    if (f.phase === "Running") {
      try {
        f.clock = await clockOf(f);
        return write(clockLine(f.pod, f.clock));
      } catch (error) {
        failed++;
        why = (error as Error).message;
      }
    }
    await pause();
  }
  if (failed >= CLOCK_ATTEMPTS) write(clockErrorLine(f.pod, why));
}

/** Appends the lines not taken before; notes a resumed stream. */
function take(f: Followed, resume: LogResume, lines: string[]): void {
  const taken = lines.map((l) => resume.accept(l)).filter((t) => t !== undefined);
  if (taken.length === 0) return;
  write(...taken.map((t) => recordLine(f.pod, t)));
  if (f.broken !== "") note(`pod ${f.pod}: log stream resumed from ${resume.sinceTime()} after: ${f.broken}`);
  f.broken = "";
}

/** One stream of the pod's log, from where the lines taken end; why it broke, or "" when the server ended it. */
async function streamOnce(f: Followed, resume: LogResume): Promise<string> {
  try {
    const source = { namespace: CANARY_NAMESPACE, pod: f.pod, container: CONTAINER };
    const options = { sinceTime: resume.sinceTime() ?? since, idleMs: STREAM_IDLE_MS, signal: stopping.signal };
    await streamContainerLog(kube, source, options, (lines) => take(f, resume, lines));
    return "";
  } catch (error) {
    if (error instanceof LogStreamError && error.status === 404) f.gone = true;
    return message(error);
  }
}

/** Follows the pod's log until it is gone (or the follower stops), resuming after every break. */
async function follow(f: Followed): Promise<void> {
  const resume = new LogResume();
  while (!stopped() && !f.gone) {
    const why = await streamOnce(f, resume);
    // only a stream that delivered lines can break: a pod that has not started yet has no log
    const broke = why !== "" && !f.gone && !stopped() && resume.sinceTime() !== undefined;
    if (broke && f.broken === "") f.broken = why;
    // the container exited and its lines are all in: a pod that ran to its end has nothing more to say
    if (why === "" && (f.phase === "Succeeded" || f.phase === "Failed")) break;
    if (!f.gone) await pause();
  }
  if (f.broken !== "")
    note(
      `pod ${f.pod}: log stream broke (${f.broken}) and did not resume before the pod was gone or the follower stopped: its lines after ${resume.sinceTime()} are lost`,
    );
}

let listFailing = "";
async function listPods(): Promise<void> {
  try {
    const pods = (await kube.core.listNamespacedPod({ namespace: CANARY_NAMESPACE, labelSelector: LABEL_SELECTOR }))
      .items;
    if (listFailing !== "") note(`listing the canary-prober pods works again after: ${listFailing}`);
    listFailing = "";
    const names = new Set(pods.map((p) => p.metadata?.name ?? ""));
    for (const f of followed.values()) if (!names.has(f.pod)) f.gone = true;
    for (const p of pods) {
      const pod = p.metadata?.name ?? "";
      const known = followed.get(pod);
      const state = { node: p.spec?.nodeName ?? "(unscheduled)", phase: p.status?.phase ?? "Unknown" };
      if (known) Object.assign(known, state);
      else {
        const f: Followed = { pod, ...state, gone: false, clock: undefined, broken: "", done: Promise.resolve() };
        f.done = Promise.all([measure(f), follow(f)]).then(
          () => undefined,
          (error: Error) => note(`pod ${pod}: following it failed: ${error.stack ?? error}`),
        );
        followed.set(pod, f);
      }
    }
  } catch (error) {
    if (listFailing === "") listFailing = message(error);
  }
}

/** The clocks of the pods still running, measured again: the offset their records are corrected by must have held. */
async function measureAgain(): Promise<void> {
  const running = [...followed.values()].filter((f) => !f.gone && f.clock !== undefined && f.phase === "Running");
  for (const f of running) {
    try {
      write(clockLine(f.pod, await clockOf(f)));
    } catch (error) {
      note(`pod ${f.pod}: its clock could not be measured again when stopped: ${(error as Error).message}`);
    }
  }
}

try {
  note(`follower started (pid ${process.pid}), records from ${since}`);
  while (!existsSync(stopFile)) {
    await listPods();
    await delay(EVERY_MS);
  }
  if (listFailing !== "") note(`listing the canary-prober pods still fails: ${listFailing}`);
  await measureAgain();
  stopping.abort();
  await Promise.all([...followed.values()].map((f) => f.done));
  write(endLine(Date.now()));
} catch (error) {
  note(`follower failed: ${(error as Error).stack ?? error}`);
  process.exitCode = 1;
}
process.exit();
