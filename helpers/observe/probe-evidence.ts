/**
 * Probes observed from outside: restart counts of a named container (monotonic, as upstream's
 * runLivenessTest checks them), the window in which a failing probe must restart a container, and the
 * probe events (Unhealthy, Killing) the kubelet records (read with observe/events.ts), and how many failures
 * those events show before the kill (failuresBeforeKill).
 *
 *   const window = restartWindow(probeTiming(pod, "app", "livenessProbe"), { failingFromS: 8 });
 *   await waitFor("container app restarted", restartsOf(ns, "liveness", "app", (n) => n >= 1), window.latestS * 1000);
 */
import type { CoreV1Event, V1ContainerStatus, V1Pod, V1Probe } from "@kubernetes/client-node";
import { ConfigError, parseBoolean } from "../framework/config.ts";
import { statusCode } from "../framework/kube.ts";
import type { TestNamespace } from "../framework/namespace.ts";
import { BOUNDS, formatDuration, T } from "../framework/timeouts.ts";
import type { Check } from "../framework/wait.ts";
import { showPod } from "./conditions.ts";
import {
  compareStamps,
  type EventWanted,
  fromKubelet,
  type Occurrences,
  occurrences,
  type Stamp,
  showStamp,
  stampOf,
} from "./events.ts";

/** The settings that decide when a probe gives up, in seconds (API defaults filled in). */
export interface ProbeTiming {
  initialDelaySeconds: number;
  periodSeconds: number;
  failureThreshold: number;
  timeoutSeconds: number;
}

export type ProbeKind = "livenessProbe" | "readinessProbe" | "startupProbe";

/** The API server's defaults for unset fields (core/v1 Probe). */
export function timingOf(probe: V1Probe): ProbeTiming {
  return {
    initialDelaySeconds: probe.initialDelaySeconds ?? 0,
    periodSeconds: probe.periodSeconds ?? 10,
    failureThreshold: probe.failureThreshold ?? 3,
    timeoutSeconds: probe.timeoutSeconds ?? 1,
  };
}

/** The timing of `kind` on `container` of `pod` as the server stored it; throws naming what is missing. */
export function probeTiming(pod: V1Pod, container: string, kind: ProbeKind): ProbeTiming {
  const spec = pod.spec?.containers.find((c) => c.name === container);
  const probe = spec?.[kind];
  if (probe === undefined) {
    throw new Error(`pod ${pod.metadata?.name} has no ${kind} on container "${container}"`);
  }
  return timingOf(probe);
}

/** Seconds for the kubelet and the runtime on top of what the probe settings say: BOUNDS.kubeletAllowance. */
export const KUBELET_ALLOWANCE_S = BOUNDS.kubeletAllowance / 1000;

export interface RestartWindow {
  /** Earliest kill, in seconds after the reference (the container's start unless told), minus 1 s of timestamp resolution. */
  earliestS: number;
  /** Latest kill the settings allow, in seconds after the reference, allowance included. */
  latestS: number;
  /** How latestS was computed, for reports and failure messages. */
  explain: string;
}

/**
 * When a probe that starts failing `failingFromS` seconds after the container started (0: from the start)
 * kills the container. Failing begins at max(initialDelay, failingFrom); the first failing probe runs within
 * one period of that, the kubelet kills after `failureThreshold` consecutive failures, each taking at most
 * `timeoutSeconds`: latest = start + failureThreshold × period + timeout + allowance.
 */
export function restartWindow(
  t: ProbeTiming,
  options: { failingFromS?: number; allowanceS?: number; reference?: string } = {},
): RestartWindow {
  const from = Math.max(t.initialDelaySeconds, options.failingFromS ?? 0);
  const allowance = options.allowanceS ?? KUBELET_ALLOWANCE_S;
  const latestS = from + t.failureThreshold * t.periodSeconds + t.timeoutSeconds + allowance;
  const earliestS = Math.max(0, from + (t.failureThreshold - 1) * t.periodSeconds - 1);
  const start = options.failingFromS === undefined ? `initialDelay ${t.initialDelaySeconds}s` : `failing from ${from}s`;
  return {
    earliestS,
    latestS,
    explain:
      `${start} + failureThreshold ${t.failureThreshold} × period ${t.periodSeconds}s + timeout ${t.timeoutSeconds}s` +
      ` + allowance ${allowance}s = ${latestS}s after ${options.reference ?? "the container started"} (earliest ${earliestS}s)`,
  };
}

/** KUBELET_ALLOWANCE_S: a verdict bound, the same whatever KOC_TIMEOUT_SCALE is. */
export function kubeletAllowanceS(): number {
  return KUBELET_ALLOWANCE_S;
}

export interface HoldWindow {
  ms: number;
  /** How the length was computed, for step names and the file headers' reasoning. */
  explain: string;
}

/**
 * How long a "must not happen" window about a probe must last to be able to see it happen: a probe acts
 * after failureThreshold consecutive results one period apart, each taking up to timeoutSeconds, and then
 * the kubelet's action and the status or EndpointSlices take T.probeVerdictMargin to show (scaled with
 * KOC_TIMEOUT_SCALE). A shorter window sees the state before the probe could have changed it.
 */
export function probeHoldWindow(t: ProbeTiming, margin: number = T.probeVerdictMargin): HoldWindow {
  const ms = (t.periodSeconds * t.failureThreshold + t.timeoutSeconds) * 1000 + margin;
  return {
    ms,
    explain:
      `period ${t.periodSeconds}s × failureThreshold ${t.failureThreshold} + timeout ${t.timeoutSeconds}s` +
      ` + margin ${formatDuration(margin)} = ${formatDuration(ms)}`,
  };
}

export function containerStatus(pod: V1Pod, container: string): V1ContainerStatus | undefined {
  return pod.status?.containerStatuses?.find((s) => s.name === container);
}

/** Seconds from `from` to `to` (Dates or RFC 3339 strings, as client-node may hand either); NaN if one is missing. */
export function secondsBetween(from: Date | string | undefined, to: Date | string | undefined): number {
  if (from === undefined || to === undefined) return Number.NaN;
  return (new Date(to).getTime() - new Date(from).getTime()) / 1000;
}

/** `restartCount=1, running since 12:00:08 (started=true, ready=false), last: Error exit 137 12:00:00–12:00:07`. */
export function showContainer(status: V1ContainerStatus | undefined): string {
  if (status === undefined) return "no status yet";
  const time = (t: Date | string | undefined): string => (t ? new Date(t).toISOString().slice(11, 19) : "?");
  const s = status.state;
  const now = s?.running
    ? `running since ${time(s.running.startedAt)}`
    : s?.waiting
      ? `waiting ${s.waiting.reason ?? ""}`
      : s?.terminated
        ? `terminated ${s.terminated.reason ?? ""} exit ${s.terminated.exitCode}`
        : "no state";
  const last = status.lastState?.terminated;
  const previous = last
    ? `, last: ${last.reason ?? "?"} exit ${last.exitCode} ${time(last.startedAt)}–${time(last.finishedAt)}`
    : "";
  return `restartCount=${status.restartCount}, ${now} (started=${status.started}, ready=${status.ready})${previous}`;
}

export class RestartCountDecreasedError extends Error {
  override name = "RestartCountDecreasedError";
}

/** Remembers the highest restartCount seen; a lower one is an error (upstream: "restart count must be monotonic"). */
export class RestartCounter {
  readonly what: string;
  #highest = -1;

  constructor(what: string) {
    this.what = what;
  }

  get highest(): number {
    return this.#highest;
  }

  see(count: number): number {
    if (count < this.#highest) {
      throw new RestartCountDecreasedError(`${this.what}: restartCount went down from ${this.#highest} to ${count}`);
    }
    this.#highest = count;
    return count;
  }
}

/**
 * A Check on the status of one named container: `ok(status)` decides (status is undefined before the
 * kubelet reports one). Every observation's restartCount goes through `counter` (share one across waits
 * to check monotonicity over a whole test); a decrease ends the wait at once with RestartCountDecreasedError.
 */
export function containerCheck(
  ns: TestNamespace,
  pod: string,
  container: string,
  ok: (status: V1ContainerStatus | undefined) => boolean,
  counter: RestartCounter = new RestartCounter(`container ${ns.name}/${pod}/${container}`),
): Check<V1Pod> {
  return {
    observe: async () => {
      const found = await ns.kube.core.readNamespacedPod({ name: pod, namespace: ns.name });
      counter.see(containerStatus(found, container)?.restartCount ?? 0);
      return found;
    },
    ok: (p) => ok(containerStatus(p, container)),
    show: (p) => `${showPod(p)}; container ${container}: ${showContainer(containerStatus(p, container))}`,
  };
}

/** A Check on the restartCount of one named container (monotonic through `counter`, see containerCheck). */
export function restartsOf(
  ns: TestNamespace,
  pod: string,
  container: string,
  ok: (restartCount: number) => boolean,
  counter?: RestartCounter,
): Check<V1Pod> {
  return containerCheck(ns, pod, container, (s) => ok(s?.restartCount ?? 0), counter);
}

/** A Check: the container is running (not waiting, not terminated), ready or not. */
export function containerRunning(ns: TestNamespace, pod: string, container: string): Check<V1Pod> {
  return containerCheck(ns, pod, container, (s) => s?.state?.running !== undefined);
}

/** Seconds from the start of the last killed instance of `container` to its kill (kubelet timestamps, 1 s resolution). */
export async function lastKillAfterSeconds(ns: TestNamespace, pod: string, container: string): Promise<number> {
  const found = await ns.kube.core.readNamespacedPod({ name: pod, namespace: ns.name });
  const status = containerStatus(found, container);
  const last = status?.lastState?.terminated ?? status?.state?.terminated;
  return secondsBetween(last?.startedAt, last?.finishedAt);
}

/** One probe request in an HTTP server's access log, stamped by the node (container log timestamps). */
export interface ProbeRequest {
  at: Date;
  path: string;
  status: number;
}

const ACCESS_LINE = /^(\S+) .*"GET (\S+) HTTP\/[\d.]+" (\d{3}) .*"kube-probe\/[^"]*"\s*$/;

/**
 * The kubelet's probe requests (user agent kube-probe/...) in a container log read with timestamps=true
 * whose lines are nginx's combined access log: `<RFC 3339 node time> <ip> - - [...] "GET /health HTTP/1.1" 404 ...`.
 */
export function probeRequests(log: string): ProbeRequest[] {
  return log.split("\n").flatMap((line) => {
    const m = ACCESS_LINE.exec(line.trim());
    if (!m) return [];
    const at = new Date((m[1] ?? "").replace(/(\.\d{3})\d+/, "$1"));
    return Number.isNaN(at.getTime()) ? [] : [{ at, path: m[2] ?? "", status: Number(m[3]) }];
  });
}

/** When a container became started, from the node's own timestamps. Seconds are after the container's startedAt. */
export interface StartEvidence {
  /** The first startup probe request that succeeded (the moment the kubelet marks the container started); NaN if none. */
  startedAfterS: number;
  /** Failed requests of the startup probe's path before that. */
  failuresBefore: number;
  /** The first request of the readiness probe's path (readiness runs only once started); NaN if none. */
  firstReadinessAfterS: number;
}

/** Reads StartEvidence from the probe requests of one container instance that started at `startedAt`. */
export function startEvidence(
  requests: readonly ProbeRequest[],
  startedAt: Date | string,
  paths: { startup: string; readiness: string },
): StartEvidence {
  const since = (d: Date | undefined): number => (d === undefined ? Number.NaN : secondsBetween(startedAt, d));
  const success = requests.find((r) => r.path === paths.startup && r.status >= 200 && r.status < 400);
  return {
    startedAfterS: since(success?.at),
    failuresBefore: requests.filter(
      (r) => r.path === paths.startup && r.status >= 400 && (!success || r.at <= success.at),
    ).length,
    firstReadinessAfterS: since(requests.find((r) => r.path === paths.readiness)?.at),
  };
}

/** The probe requests in the log of `container` (its running instance, or the killed one), with the node's timestamps. */
export async function probeRequestsOf(
  ns: TestNamespace,
  pod: string,
  container: string,
  options: { previous?: boolean } = {},
): Promise<ProbeRequest[]> {
  const log = await ns.kube.core.readNamespacedPodLog({
    name: pod,
    namespace: ns.name,
    container,
    timestamps: true,
    previous: options.previous,
  });
  return probeRequests(typeof log === "string" ? log : String(log));
}

/** The API's answer while the kubelet cannot yet serve a restarted container's previous log. */
const PREVIOUS_NOT_YET = /previous terminated container .* not found/;

/**
 * A Check for the probe requests in the killed instance's log of `container`. Right after the pod's status
 * counts the restart, the kubelet may still answer 400 "previous terminated container ... not found": that is
 * "not yet" (undefined), any other error ends the wait.
 */
export function previousProbeRequests(
  ns: TestNamespace,
  pod: string,
  container: string,
): Check<ProbeRequest[] | undefined> {
  return {
    observe: async () => {
      try {
        return await probeRequestsOf(ns, pod, container, { previous: true });
      } catch (error) {
        if (statusCode(error) === 400 && PREVIOUS_NOT_YET.test(String((error as { body?: unknown }).body))) {
          return undefined;
        }
        throw error;
      }
    },
    ok: (requests) => requests !== undefined,
    show: (requests) =>
      requests === undefined ? "previous terminated container not found yet" : `${requests.length} requests`,
  };
}

/** What the kubelet records when a liveness probe restarts a container. */
export const LIVENESS_RESTART_EVENTS: readonly EventWanted[] = [
  { reason: "Unhealthy", message: "Liveness probe failed" },
  { reason: "Killing", message: "failed liveness probe, will be restarted" },
];

/** The probe whose failures are counted, as the kubelet names it in its event messages. */
export type CountedProbe = "Liveness" | "Startup";

/** How many failures of a probe the kubelet's events show before it killed the container, and from what. */
export interface FailureCount {
  /** Failures from `from` to the kill, every occurrence of a repeated event counted. */
  failures: number;
  /** When the container was killed: the kubelet's Killing event, or else the instance's finishedAt. */
  kill: Stamp;
  /** One line per failure event: its count, first and last time, and whether it was counted. */
  lines: string[];
}

export class FailureCountError extends Error {
  override name = "FailureCountError";
}

function showOccurrences(o: Occurrences, message: string): string {
  const times = o.count === 1 ? showStamp(o.first) : `${showStamp(o.first)} to ${showStamp(o.last)}`;
  return `${o.atLeast ? "at least " : ""}${o.count} × "${message.trim()}" ${times}`;
}

/**
 * Counts the failures of `probe` on `container` that the kubelet's events show between `from` and the kill,
 * to compare with failureThreshold. The kill is the first occurrence of the kubelet's Killing event
 * ("Container <name> failed <probe> probe, will be restarted"); without one, `restartedAt` (the killed
 * instance's finishedAt, the restart), so a restart for another reason is measured too. `from` is the
 * earliest moment a failure of this run can be stamped: the killed instance's start, or when the test made the
 * probe fail.
 *
 * The kubelet's recorder keeps one event object per container and message and raises its `count` on every
 * repeat (firstTimestamp, lastTimestamp): an event with count N stands for N failures, all counted when its
 * first and last time lie inside [from, kill]. A failure stamped in the kill's second counts as before it:
 * after a liveness or startup kill the kubelet stops probing the container until its replacement runs.
 * Throws FailureCountError instead of guessing when the events cannot say: no kill, a repeated event whose
 * occurrences straddle `from` or the kill (its count cannot be split), or a series whose count may lag.
 * The recorder also drops repeats beyond 25 events per pod in a few minutes (raising the count later), so a
 * pod under test must stay well below that before its kill: ours record about ten.
 */
export function failuresBeforeKill(
  events: readonly CoreV1Event[],
  options: { container: string; probe: CountedProbe; from: Stamp; restartedAt?: Stamp },
): FailureCount {
  const { container, probe, from } = options;
  const mine = events.filter((e) => fromKubelet(e) && e.involvedObject.fieldPath === `spec.containers{${container}}`);
  const kills = probeKills(events, container, probe)
    .map((e) => {
      const first = occurrences(e).first;
      return { ...first, field: `Killing event ${first.field}` };
    })
    .sort((a, b) => a.us - b.us);
  const kill = kills[0] ?? options.restartedAt;
  if (kill === undefined) {
    throw new FailureCountError(
      `container ${container}: no Killing event for a failed ${probe.toLowerCase()} probe and no restart to count failures up to`,
    );
  }
  if (compareStamps(kill, from) === "before") {
    throw new FailureCountError(
      `container ${container}: killed at ${showStamp(kill)}, before its ${probe.toLowerCase()} probe could fail (${showStamp(from)})`,
    );
  }
  const failed = new RegExp(`^(\\(combined from similar events\\): )?${probe} probe (failed|errored)`);
  let failures = 0;
  const lines: string[] = [];
  for (const event of mine.filter((e) => e.reason === "Unhealthy" && failed.test(e.message ?? ""))) {
    const o = occurrences(event);
    const shown = showOccurrences(o, event.message ?? "");
    if (compareStamps(o.last, from) === "before") {
      lines.push(`before ${showStamp(from)}, not counted: ${shown}`);
    } else if (compareStamps(o.first, kill) === "after") {
      lines.push(`after the kill, not counted: ${shown}`);
    } else if (compareStamps(o.first, from) === "before" || compareStamps(o.last, kill) === "after") {
      throw new FailureCountError(
        `container ${container}: cannot tell how many of ${shown} fell between ${showStamp(from)} and the kill at ${showStamp(kill)}`,
      );
    } else if (o.atLeast) {
      throw new FailureCountError(
        `container ${container}: ${shown} is a series whose count is only refreshed now and then; cannot count exactly`,
      );
    } else {
      failures += o.count;
      lines.push(`counted: ${shown}`);
    }
  }
  return { failures, kill, lines };
}

/** The kubelet's Killing events for `container` after a failed `probe` ("... failed liveness probe, will be restarted"). */
export function probeKills(events: readonly CoreV1Event[], container: string, probe: CountedProbe): CoreV1Event[] {
  return events.filter(
    (e) =>
      fromKubelet(e) &&
      e.involvedObject.fieldPath === `spec.containers{${container}}` &&
      e.reason === "Killing" &&
      (e.message ?? "").includes(`failed ${probe.toLowerCase()} probe`),
  );
}

/**
 * The killed instance of `container` (lastState.terminated, or state.terminated before the restart) as the
 * bounds failuresBeforeKill needs: `from` is its startedAt plus `failingFromS` (when the test made the probe
 * fail: a failure cannot be stamped earlier, both being whole seconds), `restartedAt` its finishedAt.
 * Undefined until the status carries both times.
 */
export function killedInstance(
  pod: V1Pod,
  container: string,
  failingFromS = 0,
): { from: Stamp; restartedAt: Stamp } | undefined {
  const status = containerStatus(pod, container);
  const last = status?.lastState?.terminated ?? status?.state?.terminated;
  const started = stampOf(last?.startedAt, "killed instance's startedAt", "Time");
  const finished = stampOf(last?.finishedAt, "killed instance's finishedAt", "Time");
  if (started === undefined || finished === undefined) return undefined;
  const field = failingFromS === 0 ? started.field : `${started.field} + ${failingFromS}s`;
  return { from: { ...started, us: started.us + failingFromS * 1_000_000, field }, restartedAt: finished };
}

/**
 * A moment read from a node's own clock: the output of `date -u +%s` run in a container there (the node's
 * clock, which its kubelet stamps events with), as a whole-second Stamp. Run it just before the change it
 * marks, so the change's effects cannot be stamped earlier.
 */
export function nodeClockStamp(output: string, field: string): Stamp {
  const text = output.trim();
  if (!/^\d+$/.test(text))
    throw new Error(`${field}: expected the seconds since the epoch from \`date -u +%s\`, got "${text}"`);
  return { us: Number(text) * 1_000_000, resolutionUs: 1_000_000, field };
}

/** `2 liveness failures before the kill at 12:00:10 (...)` and the events, one per line. */
export function showFailureCount(count: FailureCount, probe: CountedProbe): string {
  return [
    `${count.failures} ${probe.toLowerCase()} failure(s) before the kill at ${showStamp(count.kill)}`,
    ...count.lines.map((l) => `  ${l}`),
  ].join("\n");
}

/** What the kubelet records when a startup probe restarts a container. */
export const STARTUP_RESTART_EVENTS: readonly EventWanted[] = [
  { reason: "Unhealthy", message: "Startup probe failed" },
  { reason: "Killing", message: "failed startup probe, will be restarted" },
];

/**
 * KOC_PROBES_LIVENESS_DELAY: seconds /tmp/healthy exists before the liveness scenario removes it. The field
 * notes use 30; the default 8 keeps the suite fast. Whole seconds, 1 to 300.
 */
export function livenessDelaySeconds(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.KOC_PROBES_LIVENESS_DELAY?.trim();
  if (raw === undefined || raw === "") return 8;
  const seconds = Number(raw);
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 300) {
    throw new ConfigError(`KOC_PROBES_LIVENESS_DELAY must be whole seconds from 1 to 300 (e.g. 30), got "${raw}"`);
  }
  return seconds;
}

/**
 * KOC_PROBES_SABOTAGE=1: every probes scenario is given a wrong setting (documented in each file's header),
 * so each one fails and its report shows what a real failure looks like.
 */
export function probesSabotage(env: NodeJS.ProcessEnv = process.env): boolean {
  return parseBoolean("KOC_PROBES_SABOTAGE", env.KOC_PROBES_SABOTAGE);
}
