/**
 * Continuous-request probers: HTTP requests on a fixed timetable while something happens (a rollout, a
 * restart), one new connection per request, one record per request (start time, latency, status, the pod
 * that answered, the version it says it serves). Then assert on them.
 *
 *   const inside = await startPodProber(ns, `http://web.${ns.name}.svc/`, { name: "service" });
 *   const outside = await startNodePortProber(ns, "web-nodeport");   // from this host when the guard allows it
 *   ... roll out ...
 *   const records = [...(await inside.stop()), ...(await outside.stop())];
 *   assertCoverage(records, windows, [inside, outside], BOUNDS.proberGap);  // every prober dense in every window
 *   assertNoFailedRequests(records);                                   // strict; { maxFailureRatio: 0.01 } on real clusters
 *   assertVersionSwitch(records, versionOf, { from: oldRs, to: newRs });
 *
 * Both probers run the same program, helpers/traffic/probe-loop.mjs, so their records are identical in
 * form: in the cluster it runs in the namespace's prober pod (manifests/shared/prober.yaml, Node.js), here
 * as a child process of the test. The rate is KOC_PROBER_RATE requests/s (default 200: a 300 ms outage
 * fails about 60 requests of each prober). Which pod answered comes from the response header `X-Pod` (the
 * workload's nginx adds `$hostname`, see manifests/rollouts/zero-downtime/configmap.yaml); map pods to
 * versions with the pods you observed (helpers/observe/rollout.ts watchRollout).
 *
 * The NodePort prober runs on this host only against node addresses the network guard allows
 * (helpers/traffic/network-guard.ts); elsewhere it probes the NodePort from the prober pod and says so.
 *
 * Every record a Prober returns is on this host's clock. The prober pod stamps its records with its node's
 * clock; startPodProber measures that clock against this host's (helpers/traffic/clocks.ts; beyond
 * BOUNDS.clockSkew or BOUNDS.clockUncertainty: ClockSkewError, an environment error) and returns the records
 * corrected by the offset, so windows cut by this host's Date.now() hold the requests sent in them; stop()
 * measures the clock again and refuses records whose offset did not hold meanwhile (assertClockHeld).
 * `prober.clock` says by how much, and how certain that is. KOC_PROBER_CLOCK_SHIFT=<ms> shifts the prober
 * pod's clock on purpose (proberClockShift).
 */
import { spawn, spawnSync } from "node:child_process";
import { appendFileSync, mkdirSync, readFileSync } from "node:fs";
import { setPriority } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { config } from "../framework/config.ts";
import type { TestNamespace } from "../framework/namespace.ts";
import { log } from "../framework/report.ts";
import { BOUNDS, formatDuration, T } from "../framework/timeouts.ts";
import { waitFor } from "../framework/wait.ts";
import { apply } from "../manifests/apply.ts";
import { podReady } from "../observe/conditions.ts";
import {
  assertClockHeld,
  CLOCK_SAMPLES,
  inRunnerClock,
  measureClock,
  type NodeClock,
  RUNNER_CLOCK,
  showClock,
} from "./clocks.ts";
import { exec } from "./exec.ts";
import { hostNodeAccess, type NodeAddress, nodeAddresses, readyNodes, showLeftOut } from "./node-access.ts";

export { assertTestbedAddresses, TESTBED_CONFIGMAP, testbedNodeNetwork } from "./network-guard.ts";

/** One request as the prober saw it. Times are epoch milliseconds, so records from pods and from here line up. */
export interface ProbeRecord {
  /** Which prober sent it, e.g. "service (in-cluster)". */
  source: string;
  /** When the request started (epoch ms). */
  at: number;
  latencyMs: number;
  /** HTTP status; 0 when no HTTP answer came back. */
  status: number;
  /** The pod that answered (X-Pod header); "" when none did. */
  pod: string;
  /** The transport error (connection refused, timeout); "" when an answer came back. */
  error: string;
  /**
   * The version the answer says it is (X-App-Version header, set by the workload's nginx.conf: the production
   * app's manifests/production-app/app/10-config.yaml); "" when it carried none.
   */
  version: string;
}

/** A request failed: no HTTP 200, or an answer that did not come from one of the workload's pods. */
export function isFailure(record: ProbeRecord): boolean {
  return record.status !== 200 || record.pod === "";
}

export const RECORD_MARK = "koc";
export const END_MARK = "koc-end";

/**
 * Parses one record line of probe-loop.mjs: `koc|<start epoch ms>|<latency ms>|<status>|<x-pod>|<error>|<x-app-version>`.
 * A line of the older form, without the last field, reads as an answer without a version (""). The program
 * replaces `|` inside a field, so the fields are exactly the parts.
 */
export function parseProbeLine(line: string, source: string): ProbeRecord | undefined {
  const fields = line.split("|");
  if (fields[0] !== RECORD_MARK || fields.length < 6 || fields.length > 7) return undefined;
  const [, start = "", latency = "", code = "", pod = "", error = "", version = ""] = fields;
  const at = Number(start);
  if (start === "" || !Number.isFinite(at)) return undefined;
  return {
    source,
    at,
    latencyMs: Number(latency) || 0,
    status: Number(code) || 0,
    pod: pod.trim(),
    error: error.trim(),
    version: version.trim(),
  };
}

/** The end line of a prober log: how many requests it started and skipped; undefined when it never ended. */
export function parseEndLine(text: string): { started: number; skipped: number } | undefined {
  const line = text
    .split("\n")
    .map((l) => l.trim())
    .find((l) => l.startsWith(`${END_MARK}|`));
  if (line === undefined) return undefined;
  const [, started = "", skipped = ""] = line.split("|");
  return { started: Number(started), skipped: Number(skipped) };
}

/** Every record line of a prober log (other lines, e.g. the end line, are ignored). */
export function parseProbeLog(text: string, source: string): ProbeRecord[] {
  return text
    .split("\n")
    .map((line) => parseProbeLine(line.trim(), source))
    .filter((r): r is ProbeRecord => r !== undefined);
}

/** A run of consecutive failed requests of one prober. */
export interface Outage {
  source: string;
  /** Start of the first failed request. */
  from: number;
  /** Start of the first successful request after it (or the end of the last failed one). */
  to: number;
  failed: number;
  /** What the first failure said. */
  first: string;
}

export function showRecord(record: ProbeRecord): string {
  if (record.error) return record.error;
  const version = record.version ? ` (${record.version})` : "";
  return `HTTP ${record.status}${record.pod ? ` from ${record.pod}` : " without X-Pod header"}${version}`;
}

/** The outages of each source, in time order. */
export function outages(records: readonly ProbeRecord[]): Outage[] {
  const found: Outage[] = [];
  for (const source of sources(records)) {
    let current: Outage | undefined;
    for (const r of byTime(records.filter((x) => x.source === source))) {
      if (isFailure(r)) {
        current ??= { source, from: r.at, to: r.at + r.latencyMs, failed: 0, first: showRecord(r) };
        current.failed++;
        current.to = r.at + r.latencyMs;
      } else if (current) {
        current.to = r.at;
        found.push(current);
        current = undefined;
      }
    }
    if (current) found.push(current);
  }
  return found.sort((a, b) => a.from - b.from);
}

export interface ProbeSummary {
  source: string;
  total: number;
  failed: number;
  durationMs: number;
  /** Achieved requests per second. */
  rate: number;
  /** Time resolution: the median and largest gap between request starts (an outage shorter than that can be missed). */
  medianGapMs: number;
  maxGapMs: number;
  medianLatencyMs: number;
  maxLatencyMs: number;
  longestOutageMs: number;
  /** Answers per pod. */
  pods: Record<string, number>;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? 0 : (sorted[Math.floor((sorted.length - 1) / 2)] ?? 0);
}

function sources(records: readonly ProbeRecord[]): string[] {
  return [...new Set(records.map((r) => r.source))];
}

function byTime(records: readonly ProbeRecord[]): ProbeRecord[] {
  return [...records].sort((a, b) => a.at - b.at);
}

/** Counts, achieved rate, time resolution and longest outage, per source. */
export function summarize(records: readonly ProbeRecord[]): ProbeSummary[] {
  const gone = outages(records);
  return sources(records).map((source) => {
    const mine = byTime(records.filter((r) => r.source === source));
    const first = mine[0]?.at ?? 0;
    const last = mine.at(-1);
    const durationMs = last ? last.at + last.latencyMs - first : 0;
    const gaps = mine.slice(1).map((r, i) => r.at - (mine[i]?.at ?? r.at));
    const pods: Record<string, number> = {};
    for (const r of mine) if (r.pod) pods[r.pod] = (pods[r.pod] ?? 0) + 1;
    return {
      source,
      total: mine.length,
      failed: mine.filter(isFailure).length,
      durationMs,
      rate: durationMs > 0 ? (mine.length * 1000) / durationMs : 0,
      medianGapMs: median(gaps),
      maxGapMs: Math.max(0, ...gaps),
      medianLatencyMs: median(mine.map((r) => r.latencyMs)),
      maxLatencyMs: Math.max(0, ...mine.map((r) => r.latencyMs)),
      longestOutageMs: Math.max(0, ...gone.filter((o) => o.source === source).map((o) => o.to - o.from)),
      pods,
    };
  });
}

/** `service (in-cluster): 1520 requests in 61.2s (24.8/s, gap median 40ms max 95ms), 0 failed, latency median 4ms max 31ms` */
export function showSummary(s: ProbeSummary): string {
  const ms = (v: number): string => formatDuration(v);
  return (
    `${s.source}: ${s.total} requests in ${ms(s.durationMs)} (${s.rate.toFixed(1)}/s, gap median ${ms(s.medianGapMs)} ` +
    `max ${ms(s.maxGapMs)}), ${s.failed} failed` +
    (s.failed > 0 ? ` (longest outage ${ms(s.longestOutageMs)})` : "") +
    `, latency median ${ms(s.medianLatencyMs)} max ${ms(s.maxLatencyMs)}, ${Object.keys(s.pods).length} pods answered`
  );
}

export class FailedRequestsError extends Error {
  override name = "FailedRequestsError";
}

export interface FailurePolicy {
  /**
   * Failed requests allowed, as a share of all requests of each source (0.01 = 1%). Default 0: strict,
   * which the test bed meets. Upstream's load-balancer disruption test allows 5% and aims for 1%.
   */
  maxFailureRatio?: number;
}

/** Throws FailedRequestsError, naming each outage (when, how long, what failed), when a source failed too often. */
export function assertNoFailedRequests(records: readonly ProbeRecord[], policy: FailurePolicy = {}): void {
  const allowed = policy.maxFailureRatio ?? 0;
  const summaries = summarize(records);
  if (summaries.length === 0) throw new FailedRequestsError("no requests were recorded, so nothing was checked");
  const bad = summaries.filter((s) => s.total === 0 || s.failed / s.total > allowed);
  if (bad.length === 0) return;
  const start = Math.min(...records.map((r) => r.at));
  const lines = outages(records)
    .filter((o) => bad.some((s) => s.source === o.source))
    .slice(0, 10)
    .map(
      (o) =>
        `  ${o.source}: ${o.failed} failed request(s) from +${formatDuration(o.from - start)} to +${formatDuration(o.to - start)} (${formatDuration(o.to - o.from)}; ${new Date(o.from).toISOString()}), first: ${o.first}`,
    );
  throw new FailedRequestsError(
    `Expected ${allowed === 0 ? "no failed request" : `at most ${(allowed * 100).toFixed(2)}% failed requests`} per prober, saw:\n` +
      `${bad.map((s) => `  ${showSummary(s)}`).join("\n")}\noutages:\n${lines.join("\n")}`,
  );
}

export class NoAnswerError extends Error {
  override name = "NoAnswerError";
}

/** "HTTP 200 from web-1 ×3, ECONNREFUSED: ... ×2": what some records said, most frequent first. */
function tally(records: readonly ProbeRecord[]): string {
  const counts = new Map<string, number>();
  for (const r of records) counts.set(showRecord(r), (counts.get(showRecord(r)) ?? 0) + 1);
  const shown = [...counts].sort((a, b) => b[1] - a[1]).map(([what, n]) => `${what} ×${n}`);
  return shown.length > 4
    ? `${shown.slice(0, 4).join(", ")}, … ${shown.length - 4} more`
    : shown.join(", ") || "nothing";
}

/**
 * Every prober (`sources`) saw the service on both sides of its outage: its records before its first failed
 * request, and those after its last one, each hold an answer with HTTP 200 from a pod of the workload
 * (`isWorkloadPod`). Outages alone prove nothing about a prober that never got an answer (a wrong address,
 * nothing listening): all its requests fail, which looks like one long outage. Throws NoAnswerError naming
 * each prober that lacks either side, with what it saw there.
 */
export function assertAnswersAroundOutage(
  records: readonly ProbeRecord[],
  sources: readonly string[],
  isWorkloadPod: (pod: string) => boolean,
): void {
  if (sources.length === 0) throw new NoAnswerError("no prober to judge, so nothing was checked");
  const answered = (r: ProbeRecord): boolean => r.status === 200 && r.pod !== "" && isWorkloadPod(r.pod);
  const start = Math.min(...records.map((r) => r.at));
  const problems = sources.flatMap((source) => {
    const mine = byTime(records.filter((r) => r.source === source));
    const first = mine.findIndex(isFailure);
    if (mine.length === 0) return [`${source}: recorded nothing`];
    if (first === -1) return [`${source}: no failed request, so no outage to see answers around`];
    const last = mine.findLastIndex(isFailure);
    const sides = [
      {
        where: `before its first failure (+${formatDuration((mine[first]?.at ?? start) - start)})`,
        seen: mine.slice(0, first),
      },
      {
        where: `after its last failure (+${formatDuration((mine[last]?.at ?? start) - start)})`,
        seen: mine.slice(last + 1),
      },
    ];
    return sides
      .filter((side) => !side.seen.some(answered))
      .map(
        (side) =>
          `${source}: no HTTP 200 from a pod of the workload ${side.where}; ${side.seen.length} request(s) there: ${tally(side.seen)}`,
      );
  });
  if (problems.length > 0)
    throw new NoAnswerError(
      `Expected every prober to get answers from the workload before the outage and after it:\n  ${problems.join("\n  ")}`,
    );
}

/** Which version answered over time: consecutive answers of the same version merged, per source. */
export interface VersionSegment {
  source: string;
  version: string;
  from: number;
  to: number;
  answers: number;
}

/** Segments of answered versions; `versionOf(pod)` maps a pod name to its version (undefined: "unknown pod"). */
export function versionSegments(
  records: readonly ProbeRecord[],
  versionOf: (pod: string) => string | undefined,
): VersionSegment[] {
  const segments: VersionSegment[] = [];
  for (const source of sources(records)) {
    let current: VersionSegment | undefined;
    for (const r of byTime(records.filter((x) => x.source === source && !isFailure(x)))) {
      const version = versionOf(r.pod) ?? `unknown pod ${r.pod}`;
      if (current?.version !== version) {
        current = { source, version, from: r.at, to: r.at, answers: 0 };
        segments.push(current);
      }
      current.answers++;
      current.to = r.at;
    }
  }
  return segments;
}

export class VersionSwitchError extends Error {
  override name = "VersionSwitchError";
}

/**
 * Each source's answers MUST switch from `from` to `to`: its first answer came from `from`, its last from
 * `to`, and no other version answered. (During a rolling update old and new answers interleave; that is fine.)
 */
export function assertVersionSwitch(
  records: readonly ProbeRecord[],
  versionOf: (pod: string) => string | undefined,
  expected: { from: string; to: string },
): void {
  const problems: string[] = [];
  const segments = versionSegments(records, versionOf);
  for (const source of sources(records)) {
    const mine = segments.filter((s) => s.source === source);
    const shown = mine.map((s) => `${s.version} ×${s.answers}`);
    const show =
      shown.length > 12 ? [...shown.slice(0, 6), `… ${shown.length - 12} more …`, ...shown.slice(-6)] : shown;
    const others = [...new Set(mine.map((s) => s.version))].filter((v) => v !== expected.from && v !== expected.to);
    if (mine[0]?.version !== expected.from)
      problems.push(`${source}: first answers came from ${mine[0]?.version ?? "nobody"}`);
    if (mine.at(-1)?.version !== expected.to)
      problems.push(`${source}: last answers came from ${mine.at(-1)?.version ?? "nobody"}`);
    if (others.length > 0) problems.push(`${source}: answers from other versions: ${others.join(", ")}`);
    if (problems.some((p) => p.startsWith(`${source}:`))) problems.push(`${source}: answered ${show.join(" → ")}`);
  }
  if (problems.length > 0) {
    throw new VersionSwitchError(
      `Expected answers to switch from ${expected.from} to ${expected.to}:\n  ${problems.join("\n  ")}`,
    );
  }
}

/** A rollout from one served version to another, as the answers must show it (assertAnsweredVersions). */
export interface VersionRollout {
  /** The versions as the workload names them in its answers (X-App-Version), e.g. "v1.0" and "v2.0". */
  from: string;
  to: string;
  /** Epoch ms: the rollout began (the restart was asked for). */
  started: number;
  /** Epoch ms: it was over (only the new ReplicaSet's pods left). */
  completed: number;
  /** The side of the rollout a pod belongs to (its ReplicaSet, from a watch); undefined: a pod of neither. */
  sideOf: (pod: string) => "from" | "to" | undefined;
}

/** `v1.0 ×37 from production-app-6d9f-abcde, first at +1.2s`: offending answers grouped by version and pod. */
function showOffenders(offenders: readonly ProbeRecord[], started: number): string {
  const groups = new Map<string, { count: number; first: number }>();
  for (const r of offenders) {
    const key = `${r.version || "no version"} from ${r.pod}`;
    const group = groups.get(key) ?? { count: 0, first: r.at };
    group.count++;
    groups.set(key, group);
  }
  const at = (t: number): string =>
    t < started ? `-${formatDuration(started - t)}` : `+${formatDuration(t - started)}`;
  const shown = [...groups].map(([key, g]) => `${key.replace(" from", ` ×${g.count} from`)}, first at ${at(g.first)}`);
  return shown.length > 6 ? `${shown.slice(0, 6).join("; ")}; … ${shown.length - 6} more` : shown.join("; ");
}

/**
 * Every answer's version (the X-App-Version it carried, never inferred from the pod), per prober (`sources`):
 *   - before the rollout started: `from`, and at least one answer;
 *   - from the moment the rollout completed, or earlier from just after the last answer of a `from` pod (the
 *     last old pod stopped answering), to the end: `to`, and at least one answer;
 *   - in between: `from` or `to`; an answer without a version, or with another one, is never accepted;
 *   - whenever a pod of the new side answers it must say `to`, one of the old side `from`: a new pod serving
 *     the old content is not counted as new.
 * Times are relative to `started`. Throws VersionSwitchError naming each prober, phase and offending pod.
 */
export function assertAnsweredVersions(
  records: readonly ProbeRecord[],
  sources: readonly string[],
  rollout: VersionRollout,
): void {
  if (sources.length === 0) throw new VersionSwitchError("no prober to judge, so nothing was checked");
  const { from, to, started } = rollout;
  const problems = sources.flatMap((source) => {
    const answers = byTime(records.filter((r) => r.source === source && !isFailure(r)));
    const lastOld = answers.filter((r) => rollout.sideOf(r.pod) === "from").at(-1)?.at ?? Number.NEGATIVE_INFINITY;
    // only new pods answer once the rollout completed, or from just after the last answer of an old pod
    const newOnly = (r: ProbeRecord): boolean => r.at >= started && (r.at >= rollout.completed || r.at > lastOld);
    const since = Math.min(rollout.completed, Math.max(started, lastOld));
    const phases = [
      { label: "before the rollout", answers: answers.filter((r) => r.at < started), allowed: [from], required: true },
      {
        label: "during the rollout",
        answers: answers.filter((r) => r.at >= started && !newOnly(r)),
        allowed: [from, to],
        required: false,
      },
      {
        label: `once only new pods answered (after +${formatDuration(since - started)})`,
        answers: answers.filter(newOnly),
        allowed: [to],
        required: true,
      },
    ];
    const found = phases.flatMap((phase) => {
      if (phase.required && phase.answers.length === 0)
        return [`${source}, ${phase.label}: no answer, so nothing was judged`];
      const offenders = phase.answers.filter((r) => !phase.allowed.includes(r.version));
      return offenders.length === 0
        ? []
        : [
            `${source}, ${phase.label}: answers other than ${phase.allowed.join(" or ")}: ${showOffenders(offenders, started)}`,
          ];
    });
    const mismatched = answers.filter((r) => {
      const side = rollout.sideOf(r.pod);
      return side !== undefined && r.version !== (side === "from" ? from : to);
    });
    if (mismatched.length > 0)
      found.push(
        `${source}: pods answering another version than their ReplicaSet's: ${showOffenders(mismatched, started)}`,
      );
    return found;
  });
  if (problems.length > 0)
    throw new VersionSwitchError(
      `Expected every answer to say ${from} before the rollout, ${from} or ${to} during it, and ${to} once only new pods answered:\n  ${problems.join("\n  ")}`,
    );
}

export class CoverageError extends Error {
  override name = "CoverageError";
}

/** A stretch of time every prober must cover densely, e.g. one rollout (epoch ms, `to` excluded). */
export interface CheckedWindow {
  label: string;
  from: number;
  to: number;
}

/** A share of the prober's rate each window must hold at least (the rest is slack for a busy machine). */
export const MIN_RATE_SHARE = 0.25;

/**
 * Each prober covered each window: at least MIN_RATE_SHARE × its rate × the window's length records (one
 * at least), and no pause between consecutive request starts (or from the window's edges to its first and
 * last request) longer than `maxGapMs`. A prober that was silent, slow or paused could miss an outage, so
 * "no failed request" from it would mean nothing: throws CoverageError with the numbers.
 */
export function assertCoverage(
  records: readonly ProbeRecord[],
  windows: readonly CheckedWindow[],
  probers: readonly Pick<Prober, "source" | "rate">[],
  maxGapMs: number,
): void {
  const problems = windows.flatMap((w) =>
    probers.flatMap((p) => {
      const starts = byTime(records.filter((r) => r.source === p.source && r.at >= w.from && r.at < w.to));
      return coverageProblems(
        starts.map((r) => r.at),
        w,
        p,
        maxGapMs,
      );
    }),
  );
  if (problems.length > 0)
    throw new CoverageError(
      `Expected every prober to send requests throughout each checked window:\n  ${problems.join("\n  ")}`,
    );
}

/**
 * The longest stretch of `window` (its edges included) in which prober `source` started no request: how
 * blind it was there. A prober the machine paused across an injected outage saw it distorted or not at
 * all, which says nothing about the workload; the scenario judges only windows the prober watched.
 */
export function blindSpot(records: readonly ProbeRecord[], source: string, window: CheckedWindow): number {
  const starts = byTime(records.filter((r) => r.source === source && r.at >= window.from && r.at < window.to)).map(
    (r) => r.at,
  );
  return largestGap([window.from, ...starts, window.to]).gap;
}

/** The largest step between consecutive values, and the value it starts from. */
function largestGap(values: readonly number[]): { gap: number; after: number } {
  let largest = { gap: 0, after: values[0] ?? 0 };
  for (let i = 1; i < values.length; i++) {
    const gap = (values[i] ?? 0) - (values[i - 1] ?? 0);
    if (gap > largest.gap) largest = { gap, after: values[i - 1] ?? 0 };
  }
  return largest;
}

function coverageProblems(
  starts: readonly number[],
  w: CheckedWindow,
  p: Pick<Prober, "source" | "rate">,
  maxGapMs: number,
): string[] {
  const length = w.to - w.from;
  const min = Math.max(1, Math.floor((MIN_RATE_SHARE * p.rate * length) / 1000));
  const where = `${p.source} in "${w.label}" (${formatDuration(length)})`;
  if (starts.length === 0) return [`${where}: recorded nothing, expected at least ${min} requests (${p.rate}/s)`];
  const problems: string[] = [];
  if (starts.length < min)
    problems.push(`${where}: recorded ${starts.length} requests, expected at least ${min} (${p.rate}/s)`);
  const { gap, after } = largestGap([w.from, ...starts, w.to]);
  if (gap > maxGapMs)
    problems.push(
      `${where}: largest gap between request starts ${formatDuration(gap)} from +${formatDuration(after - w.from)}, bound ${formatDuration(maxGapMs)}`,
    );
  return problems;
}

/** A running prober. stop() ends it and returns its records (also when requests failed: judging is the caller's). */
export interface Prober {
  readonly source: string;
  /** Requests started per second, as asked for. */
  readonly rate: number;
  /** The clock its records were stamped with, relative to this host's; recent() and stop() have corrected them. */
  readonly clock: NodeClock;
  /** The records so far (at least the last 20 s of them) while it keeps running. */
  recent(): Promise<ProbeRecord[]>;
  stop(): Promise<ProbeRecord[]>;
}

export interface ProberOptions {
  /** Names the records' source, e.g. "service". */
  name: string;
  /** Requests started per second (default: proberRate()). */
  rate?: number;
  /** One request's timeout (default BOUNDS.proberRequestTimeout: a verdict bound, not scaled). */
  timeoutMs?: number;
}

/** The prober program, run by Node.js in the prober pod and on this host (see its header). */
export const PROBE_LOOP = fileURLToPath(new URL("./probe-loop.mjs", import.meta.url));
const POD = "prober";
/** Where the prober pods mount probe-loop.mjs (the ConfigMap probe-loop). */
export const POD_SCRIPT = "/opt/koc/probe-loop.mjs";

/** Starts the prober pod (manifests/shared/prober.yaml, with probe-loop.mjs from a ConfigMap) once per namespace. */
const proberPods = new Map<string, Promise<string>>();
function proberPod(ns: TestNamespace): Promise<string> {
  let started = proberPods.get(ns.name);
  if (started === undefined) {
    started = (async () => {
      await ns.kube.core.createNamespacedConfigMap({
        namespace: ns.name,
        body: { metadata: { name: "probe-loop" }, data: { "probe-loop.mjs": readFileSync(PROBE_LOOP, "utf8") } },
      });
      await apply(ns, "shared/prober.yaml");
      await waitFor(`pod ${ns.name}/${POD} is Ready`, podReady(ns, POD), T.podStart, { signal: ns.signal });
      return POD;
    })();
    started.catch(() => proberPods.delete(ns.name));
    proberPods.set(ns.name, started);
  }
  return started;
}

/** probe-loop.mjs's arguments. */
function loopArgs(urls: readonly string[], rate: number, timeoutMs: number): string[] {
  return ["--rate", String(rate), "--timeout", String(timeoutMs), ...urls];
}

/** Measures the clock probe-loop.mjs stamps records with in the prober pod (shifted as KOC_PROBER_CLOCK_SHIFT says). */
async function proberPodClock(ns: TestNamespace, pod: string, shift: number): Promise<NodeClock> {
  const found = await ns.kube.core.readNamespacedPod({ name: pod, namespace: ns.name });
  const where = `node ${found.spec?.nodeName ?? "(unscheduled)"} (pod ${pod}${shift === 0 ? "" : `, shifted ${shift} ms on purpose`})`;
  const command = ["node", POD_SCRIPT, "--clock", "--clock-shift", String(shift)];
  return measureClock(ns, pod, command, where, CLOCK_SAMPLES);
}

/**
 * Starts probe-loop.mjs in the namespace's prober pod against `url`, e.g. `http://web.<ns>.svc/` (Service
 * DNS name) or `http://<clusterIP>/`. Returns once the first request is recorded.
 */
export async function startPodProber(ns: TestNamespace, url: string, options: ProberOptions): Promise<Prober> {
  const pod = await proberPod(ns);
  const source = `${options.name} (in-cluster)`;
  const rate = options.rate ?? proberRate();
  const file = `/run/koc/probe-${options.name.replace(/\W/g, "-")}`;
  const shift = proberClockShift();
  const clock = await proberPodClock(ns, pod, shift);
  const args = [...loopArgs([url], rate, options.timeoutMs ?? BOUNDS.proberRequestTimeout), "--out", `${file}.log`];
  args.push("--stop-file", `${file}.stop`, "--clock-shift", String(shift));
  // Detached (its records go to a file), so this exec returns at once.
  const started = await exec(ns, pod, [
    "sh",
    "-c",
    `node "$@" </dev/null >/dev/null 2>${file}.log.err &`,
    "sh",
    POD_SCRIPT,
    ...args,
  ]);
  if (started.exitCode !== 0) throw new Error(`could not start prober ${source} in ${pod}: ${started.stderr}`);
  const peek = async (command: string): Promise<string> => {
    const r = await exec(ns, pod, ["sh", "-c", command]);
    return r.stdout + r.stderr;
  };
  await waitFor(
    `prober ${source} in pod ${ns.name}/${pod} records its first request to ${url}`,
    {
      observe: () => peek(`head -c 300 ${file}.log; cat ${file}.log.err 2>/dev/null`),
      ok: (text) => text.includes(`${RECORD_MARK}|`),
      show: (text) => text.slice(-300) || "(no output yet)",
    },
    T.podStart,
    { signal: ns.signal },
  );
  log(
    `prober ${source} started: ${rate} GET/s ${url} from pod ${pod}; its records corrected by the clock of ${showClock(clock)}`,
  );
  let stopped: Promise<ProbeRecord[]> | undefined;
  return {
    source,
    rate,
    clock,
    recent: async () => {
      const tail = await exec(ns, pod, ["tail", "-n", String(Math.max(1000, rate * 20)), `${file}.log`]);
      if (tail.exitCode !== 0) throw new Error(`reading prober ${source}'s records in ${pod}: ${tail.stderr}`);
      return inRunnerClock(parseProbeLog(tail.stdout, source), clock);
    },
    // once: a scenario stops its probers, and its cleanup stops them again
    stop: () => {
      stopped ??= (async () => {
        await exec(ns, pod, ["touch", `${file}.stop`]);
        await waitFor(
          `prober ${source} in pod ${ns.name}/${pod} stops`,
          {
            observe: () => peek(`tail -n 1 ${file}.log`),
            ok: (t) => t.startsWith(`${END_MARK}|`),
            show: (t) => `last line: ${t.slice(0, 200) || "(none)"}`,
          },
          (options.timeoutMs ?? BOUNDS.proberRequestTimeout) + T.exec, // the last request may take its whole timeout
          { signal: ns.signal },
        );
        const text = (await exec(ns, pod, ["cat", `${file}.log`])).stdout;
        // the offset every record is corrected by must still hold now that the last one is written
        assertClockHeld(clock, await proberPodClock(ns, pod, shift));
        return inRunnerClock(parseProbeLog(text, source), clock);
      })();
      return stopped;
    },
  };
}

/** The real-time priority of the host prober (SCHED_FIFO, 1-99): above every normal process, far below the kernel's. */
const REALTIME_PRIORITY = 10;
let realtimeAllowed: boolean | undefined;

/**
 * Whether this host lets us run the host prober under SCHED_FIFO (`chrt`, root or CAP_SYS_NICE on Linux).
 * On the 2-core test bed, while a rollout starts containers, a normal process (even at nice -10) pauses for
 * 40-160 ms; a real-time one keeps its 5 ms timetable (measured: largest gap 7 ms). The prober sleeps between
 * request starts and uses about a tenth of a core at 200 requests/s, and the kernel caps real-time tasks at
 * 95% of each second, so it cannot take the machine.
 */
export function hostProberRealtime(): boolean {
  realtimeAllowed ??= spawnSync("chrt", ["-f", String(REALTIME_PRIORITY), "true"], { stdio: "ignore" }).status === 0;
  return realtimeAllowed;
}

/**
 * How to start a host prober `command` (node, probe-loop.mjs, its arguments): under SCHED_FIFO through
 * `chrt` when the host allows it (hostProberRealtime; chrt execs the command, so the pid is the prober's).
 * Otherwise call `lowerNice` with the child's pid once spawned: nice -10 when allowed, else nothing.
 * Real-time matters more since the test bed's containers weigh as much as eight host threads
 * (testbed/host/configure-docker.sh): with the containers busy, a normal host process, even at nice -19,
 * was paused for seconds (measured: 13 s with eight busy loops in a node; under chrt -f, 10 ms).
 */
export function hostProberCommand(command: readonly string[]): {
  file: string;
  args: string[];
  realtime: boolean;
  lowerNice: (pid: number | undefined) => void;
} {
  const realtime = hostProberRealtime();
  const [file = process.execPath, ...args] = realtime ? ["chrt", "-f", String(REALTIME_PRIORITY), ...command] : command;
  const lowerNice = (pid: number | undefined): void => {
    if (realtime || pid === undefined) return;
    try {
      setPriority(pid, -10); // ahead of the busy test runner when allowed (root); fine without
    } catch {}
  };
  return { file, args, realtime, lowerNice };
}

/** How a host prober is scheduled, for the log: `real-time (SCHED_FIFO 10)`. */
export function showScheduling(realtime: boolean): string {
  return realtime ? `real-time (SCHED_FIFO ${REALTIME_PRIORITY})` : "normal scheduling (chrt -f not allowed here)";
}

/**
 * Runs probe-loop.mjs on this host (a child process: its own event loop, so the test runner cannot stall
 * its timetable) against `urls`, which the caller has checked with the network guard. It runs real-time
 * when the host allows it (hostProberCommand), else at nice -10 when allowed, else as it is.
 */
export function startHostProber(urls: readonly string[], source: string, rate: number, timeoutMs: number): Prober {
  const how = hostProberCommand([process.execPath, PROBE_LOOP, ...loopArgs(urls, rate, timeoutMs)]);
  const child = spawn(how.file, how.args, { stdio: ["pipe", "pipe", "pipe"] });
  how.lowerNice(child.pid);
  log(`prober ${source}: ${showScheduling(how.realtime)}`);
  const records: ProbeRecord[] = [];
  let rest = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    const lines = (rest + chunk).split("\n");
    rest = lines.pop() ?? "";
    for (const line of lines) {
      const record = parseProbeLine(line, source);
      if (record) records.push(record);
    }
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-2000);
  });
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
  return {
    source,
    rate,
    clock: RUNNER_CLOCK,
    recent: async () => [...records],
    stop: async () => {
      child.stdin.end();
      const code = await exited;
      if (code !== 0) throw new Error(`prober ${source} (pid ${child.pid}) exited with ${code}: ${stderr.trim()}`);
      return records;
    },
  };
}

/** Requests per second of each prober: KOC_PROBER_RATE, else 200. */
export function proberRate(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.KOC_PROBER_RATE?.trim();
  if (!raw) return 200;
  const rate = Number(raw);
  if (!Number.isInteger(rate) || rate < 1 || rate > 2000)
    throw new Error(`KOC_PROBER_RATE must be a whole number of requests per second from 1 to 2000, got "${raw}"`);
  return rate;
}

/**
 * How many ms the in-cluster prober's clock is shifted on purpose: KOC_PROBER_CLOCK_SHIFT, else 0. Its
 * records and its clock readings move together, as on a node whose clock is off: the correction must undo
 * it, and beyond BOUNDS.clockSkew the run must fail with ClockSkewError.
 */
export function proberClockShift(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.KOC_PROBER_CLOCK_SHIFT?.trim();
  if (!raw) return 0;
  const shift = Number(raw);
  if (!Number.isInteger(shift) || Math.abs(shift) > MAX_CLOCK_SHIFT_MS)
    throw new Error(
      `KOC_PROBER_CLOCK_SHIFT must be a whole number of milliseconds from -${MAX_CLOCK_SHIFT_MS} to ${MAX_CLOCK_SHIFT_MS}, got "${raw}"`,
    );
  return shift;
}

/** The largest KOC_PROBER_CLOCK_SHIFT: a minute, far beyond BOUNDS.clockSkew. */
export const MAX_CLOCK_SHIFT_MS = 60_000;

/**
 * Where the prober pod sends NodePort requests when this host may not: the first Ready node (by name), and the
 * nodes left out because they are not Ready. Throws, naming them, when no node is Ready.
 */
export function inClusterNodePortTarget(
  nodes: readonly NodeAddress[],
  nodePort: number,
): { url: string; node: string; leftOut: string[] } {
  const { ready, leftOut } = readyNodes([...nodes].sort((a, b) => a.name.localeCompare(b.name)));
  const [first] = ready;
  if (first === undefined) throw new Error(`no Ready node to probe NodePort ${nodePort} on; ${showLeftOut(leftOut)}`);
  return { url: `http://${first.address}:${nodePort}/`, node: first.name, leftOut };
}

/**
 * Probes Service `service`'s NodePort "from outside": from this host, round-robin over every Ready node's
 * InternalIP, when the network guard allows it (the local test bed); otherwise from the prober pod to the
 * first Ready node's address (an in-cluster request), logged as such. Either way the log names the nodes
 * left out because they are not Ready.
 */
export async function startNodePortProber(
  ns: TestNamespace,
  service: string,
  options: Partial<ProberOptions> = {},
): Promise<Prober> {
  const svc = await ns.kube.core.readNamespacedService({ name: service, namespace: ns.name });
  const nodePort = svc.spec?.ports?.[0]?.nodePort;
  if (nodePort === undefined) throw new Error(`service ${ns.name}/${service} has no NodePort`);
  const name = options.name ?? "nodeport";
  const rate = options.rate ?? proberRate();
  const timeoutMs = options.timeoutMs ?? BOUNDS.proberRequestTimeout;
  const access = await hostNodeAccess(ns.kube);
  if (!access.published) {
    const target = inClusterNodePortTarget(await nodeAddresses(ns.kube), nodePort);
    log(
      `${access.reason}; probing the NodePort of ${target.node}, the first Ready node, from the prober pod instead; ` +
        showLeftOut(target.leftOut),
    );
    return startPodProber(ns, target.url, { name, rate, timeoutMs });
  }
  const urls = access.nodes.map((n) => `http://${n.address}:${nodePort}/`);
  const source = `${name} (from this host)`;
  const prober = startHostProber(urls, source, rate, timeoutMs);
  ns.defer(`stop prober ${source}`, async () => void (await prober.stop().catch(() => [])));
  log(
    `prober ${source} started: ${rate} GET/s ${urls.join(", ")} round-robin over the Ready nodes (inside nodeNetwork ` +
      `${access.nodeNetwork}); ${showLeftOut(access.leftOut)}`,
  );
  return prober;
}

/** Where each scenario's prober figures are appended, one JSON line per prober (read by `npm run bench`). */
export const PROBER_FIGURES_FILE = join("artifacts", "prober-figures.jsonl");

/**
 * Appends, per prober, its rate and largest gap inside the checked windows (steady state: the windows
 * start after the probers did) to the reports directory.
 */
export function recordProberFigures(
  scenario: string,
  records: readonly ProbeRecord[],
  windows: readonly CheckedWindow[],
): void {
  const inWindows = records.filter((r) => windows.some((w) => r.at >= w.from && r.at < w.to));
  const windowMs = windows.reduce((sum, w) => sum + (w.to - w.from), 0);
  const lines = summarize(inWindows).map((s) =>
    JSON.stringify({
      scenario,
      source: s.source,
      requests: s.total,
      failed: s.failed,
      windowMs: Math.round(windowMs),
      rate: Math.round((s.total * 1000) / Math.max(1, windowMs)),
      maxGapMs: Math.round(s.maxGapMs * 10) / 10,
      medianGapMs: Math.round(s.medianGapMs * 10) / 10,
    }),
  );
  const dir = config().reportsDir;
  mkdirSync(join(dir, "artifacts"), { recursive: true });
  if (lines.length > 0) appendFileSync(join(dir, PROBER_FIGURES_FILE), `${lines.join("\n")}\n`);
}
