/**
 * Traffic through an upgrade: two probers of the canaries from the end of `run --baseline FILE` to the start
 * of `run --compare FILE`, each kept by a detached process that outlives both runs, and judged alike.
 *
 * The host prober (on the local test bed only): helpers/traffic/probe-loop.mjs (the program the rollout
 * scenarios' host prober runs) as a detached, unref'd process: 200 requests a second to Service canary-web
 * through its NodePort on every node, round-robin, each node address checked to be inside the test bed's node
 * network first (network-guard.ts). Records in FILE.prober.records, pid in FILE.prober.pid; the compare
 * creates FILE.prober.stop (the loop finishes the requests in flight and writes its end line).
 *
 * The in-cluster prober (on every target): the two canary-prober replicas (manifests/canary/40-prober.yaml,
 * the same program, 50 requests a second each to the Service's ClusterIP) write their records to their
 * container logs; the log follower (bin/canary-logs.ts), started detached like the host prober, streams them
 * through the API into FILE.incluster.records (pid FILE.incluster.pid, its stderr FILE.incluster.err; stopped
 * by FILE.incluster.stop) with each pod's clock, and the compare reads them on this host's clock
 * (incluster-records.ts). A pod's clock beyond BOUNDS.clockSkew, too uncertain or moved meanwhile
 * (ClockSkewError) is named as an environment error: its records are left out and the compare fails.
 *
 * For each prober the compare reports its requests, failures, longest outage, longest gap between requests,
 * and per upgrade step (the steps file, testbed/upgrade.ts) its requests, failures and longest gap; the
 * in-cluster prober's gaps and coverage are those of the union of its replicas' records, plus a line per pod.
 * Regressions: more failed requests than --max-failed-requests (one budget for both probers together,
 * reported per prober), and a prober that cannot vouch for the upgrade: no records, no end line (its process
 * died), requests that began after the first step or ended before the last, a gap over BOUNDS.proberGap in
 * which no replica started a request. "0 failed" from a prober that was not watching would be a vacuous pass.
 *
 * Made to fail, live: a NodePort rejected on one node for a few seconds during the upgrade (an iptables
 * REJECT in that node) makes `run --compare` exit 1 naming the host prober's failed requests and their step.
 * For the in-cluster prober: both canary-prober pods deleted at once during the upgrade
 * (`kubectl -n koc-canary delete pod -l app=canary-prober --wait=false`) must make it exit 1 with
 * "in-cluster prober: blind for ..." in that step, and the Service's ClusterIP rejected on the node of one
 * replica (an iptables REJECT for the ClusterIP in that node) with "in-cluster prober ... failed". The unit
 * tests cover the blindness rules with records cut short, paused and unended, on the union of two pods.
 */
import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Kube } from "../helpers/framework/kube.ts";
import { BOUNDS, formatDuration, POLL, T } from "../helpers/framework/timeouts.ts";
import { waitFor } from "../helpers/framework/wait.ts";
import { assertTestbedAddresses, testbedNodeNetwork } from "../helpers/traffic/network-guard.ts";
import {
  END_MARK,
  hostProberCommand,
  isFailure,
  outages,
  PROBE_LOOP,
  type ProbeRecord,
  parseProbeLog,
} from "../helpers/traffic/prober.ts";
import { parseSteps, type StepRecord, stepAt } from "../testbed/upgrade-plan.ts";
import { type InClusterLog, parseInClusterLog, showPodRecords } from "./incluster-records.ts";

/** Requests per second: the rollout scenarios' host prober's rate. */
export const UPGRADE_PROBE_RATE = 200;
const SOURCE = "canary-web NodePort (host)";
/** The log follower of the in-cluster prober (run by Node.js, as this CLI is). */
const FOLLOWER = fileURLToPath(new URL("./canary-logs.ts", import.meta.url));

export interface ProberFiles {
  pid: string;
  records: string;
  stop: string;
}

/** The prober's files, next to the baseline file. */
export function proberFiles(baselineFile: string): ProberFiles {
  return {
    pid: `${baselineFile}.prober.pid`,
    records: `${baselineFile}.prober.records`,
    stop: `${baselineFile}.prober.stop`,
  };
}

/** The steps file `cluster:upgrade` writes for this test bed (KOC_UPGRADE_STEPS names another). */
export function upgradeStepsFile(): string {
  const cache = process.env.KOC_CACHE_DIR ?? join(homedir(), ".cache", "k8s-ops-conformance");
  const name = process.env.KOC_TESTBED_NAME || "k8s-ops-conformance";
  return process.env.KOC_UPGRADE_STEPS ?? join(cache, `upgrade-steps-${name}.jsonl`);
}

/** Starts the detached host prober; returns its pid. The node addresses must be the test bed's. */
export async function startHostProber(kube: Kube, namespace: string, baselineFile: string): Promise<number> {
  const files = proberFiles(baselineFile);
  const [nodes, service] = await Promise.all([
    kube.core.listNode(),
    kube.core.readNamespacedService({ name: "canary-web", namespace }),
  ]);
  const addresses = nodes.items.flatMap(
    (n) => n.status?.addresses?.filter((a) => a.type === "InternalIP").map((a) => a.address) ?? [],
  );
  assertTestbedAddresses(addresses, await testbedNodeNetwork(kube));
  const port = service.spec?.ports?.[0]?.nodePort;
  if (port === undefined) throw new Error(`Service ${namespace}/canary-web has no nodePort`);
  for (const f of Object.values(files)) rmSync(f, { force: true });
  const args = ["--rate", String(UPGRADE_PROBE_RATE), "--timeout", String(BOUNDS.proberRequestTimeout)];
  const urls = addresses.map((a) => `http://${a}:${port}/`);
  // Real-time when allowed, as the rollouts' host prober: busy test bed containers would otherwise pause it
  // (during a control-plane drain, for 1 s: blind, and the compare failed).
  const how = hostProberCommand([
    process.execPath,
    PROBE_LOOP,
    ...args,
    "--out",
    files.records,
    "--stop-file",
    files.stop,
    ...urls,
  ]);
  const child = spawn(how.file, how.args, { detached: true, stdio: "ignore" });
  how.lowerNice(child.pid);
  child.unref();
  if (child.pid === undefined) throw new Error(`the host prober did not start (${process.execPath} ${PROBE_LOOP})`);
  writeFileSync(files.pid, `${child.pid}\n`);
  return child.pid;
}

/**
 * Stops the detached prober and returns its records; undefined when the baseline started none (an older
 * baseline, or another cluster than the test bed). Waits for its end line, then for the process to exit.
 */
export async function stopHostProber(baselineFile: string): Promise<ProberLog | undefined> {
  const files = proberFiles(baselineFile);
  if (!existsSync(files.pid)) return undefined;
  const pid = Number(readFileSync(files.pid, "utf8").trim());
  writeFileSync(files.stop, "");
  const ended = () => (existsSync(files.records) ? readFileSync(files.records, "utf8") : "");
  await waitFor(
    `the host prober (pid ${pid}) writes its end line to ${files.records}`,
    {
      observe: async () => ended().includes(`${END_MARK}|`) || !alive(pid),
      ok: (done) => done,
      show: () => (alive(pid) ? "still running" : "exited"),
    },
    BOUNDS.proberRequestTimeout + T.exec,
    { interval: POLL.fast },
  );
  rmSync(files.pid, { force: true });
  const text = ended();
  return hostProberLog(parseProbeLog(text, SOURCE), text.includes(`${END_MARK}|`));
}

/** The log follower's files, next to the baseline file. */
export function followerFiles(baselineFile: string): ProberFiles & { errors: string } {
  return {
    pid: `${baselineFile}.incluster.pid`,
    records: `${baselineFile}.incluster.records`,
    stop: `${baselineFile}.incluster.stop`,
    errors: `${baselineFile}.incluster.err`,
  };
}

/** Starts the detached log follower of the canary-prober pods (bin/canary-logs.ts); returns its pid. */
export function startLogFollower(target: { context: string; kubeconfig?: string | undefined }, baselineFile: string) {
  const files = followerFiles(baselineFile);
  for (const f of Object.values(files)) rmSync(f, { force: true });
  const kubeconfig = target.kubeconfig === undefined ? [] : ["--kubeconfig", target.kubeconfig];
  const args = ["--context", target.context, ...kubeconfig, "--out", files.records, "--stop-file", files.stop];
  const errors = openSync(files.errors, "w");
  const child = spawn(process.execPath, [FOLLOWER, ...args], { detached: true, stdio: ["ignore", "ignore", errors] });
  closeSync(errors);
  child.unref();
  if (child.pid === undefined) throw new Error(`the log follower did not start (${process.execPath} ${FOLLOWER})`);
  writeFileSync(files.pid, `${child.pid}\n`);
  return child.pid;
}

/**
 * Stops the log follower and returns the in-cluster prober's records; without a follower (a baseline taken
 * before the in-cluster records, or elsewhere) a log without records, which the compare judges a regression.
 */
export async function stopLogFollower(baselineFile: string): Promise<ProberLog> {
  const files = followerFiles(baselineFile);
  const log = (read: InClusterLog, ended: boolean, problems: string[] = []): ProberLog => ({
    name: "in-cluster prober",
    via: `to the Service's ClusterIP from ${read.pods.length} pod(s)`,
    records: read.records,
    ended,
    keeper: `its log follower (see ${files.errors})`,
    problems: [
      ...problems,
      ...read.clockErrors.map((e) => `in-cluster prober: environment error (ClockSkewError): ${e}`),
    ],
    details: [...read.pods.map(showPodRecords), ...read.notes],
  });
  if (!existsSync(files.pid)) {
    const none = `in-cluster prober: no records: the baseline started no log follower (${files.pid} is missing): take the baseline again with this version`;
    return log(parseInClusterLog(""), true, [none]);
  }
  const pid = Number(readFileSync(files.pid, "utf8").trim());
  writeFileSync(files.stop, "");
  const text = () => (existsSync(files.records) ? readFileSync(files.records, "utf8") : "");
  await waitFor(
    `the log follower (pid ${pid}) writes its end line to ${files.records}`,
    {
      observe: async () => /^end\|/m.test(text()) || !alive(pid),
      ok: (done) => done,
      show: () => (alive(pid) ? "still running" : "exited"),
    },
    // it measures the running pods' clocks once more before it ends
    2 * T.exec + T.apiCall,
    { interval: POLL.fast },
  );
  rmSync(files.pid, { force: true });
  const read = parseInClusterLog(text());
  return log(read, read.ended);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The longest pause between two request starts, and when it began (epoch ms). */
export function longestPause(records: readonly ProbeRecord[]): { ms: number; at: number } {
  const starts = records.map((r) => r.at).sort((a, b) => a - b);
  let best = { ms: 0, at: starts[0] ?? 0 };
  for (let i = 1; i < starts.length; i++) {
    const ms = (starts[i] ?? 0) - (starts[i - 1] ?? 0);
    if (ms > best.ms) best = { ms, at: starts[i - 1] ?? 0 };
  }
  return best;
}

/** What one prober left for the compare to judge. */
export interface ProberLog {
  /** "host prober", "in-cluster prober". */
  name: string;
  /** How it reached the canaries, for its totals: "through the NodePort". */
  via: string;
  /** Its records on this host's clock; the in-cluster prober's are those of all its pods. */
  records: ProbeRecord[];
  /** The process that kept the records wrote its end line: the compare stopped it, it did not die. */
  ended: boolean;
  /** That process, as named when it died: "it", "its log follower". */
  keeper: string;
  /** Regressions found while reading the records (a pod clock that cannot place them). */
  problems: string[];
  /** Notes found while reading them (a line per pod, streams broken and resumed). */
  details: string[];
}

export function hostProberLog(records: ProbeRecord[], ended: boolean): ProberLog {
  return { name: "host prober", via: "through the NodePort", records, ended, keeper: "it", problems: [], details: [] };
}

const at = (ms: number) => new Date(ms).toISOString().slice(11, 23);

/** The longest stretch of [from, to] in which no request started (the edges count as stretch ends). */
function longestGapIn(starts: readonly number[], from: number, to: number): number {
  const points = [from, ...starts.filter((t) => t >= from && t <= to), to];
  return Math.max(0, ...points.slice(1).map((t, i) => t - (points[i] ?? t)));
}

/** One line per upgrade step: the requests that started during it, the failed ones, the longest gap. */
function perStep(log: ProberLog, steps: readonly StepRecord[]): string[] {
  const starts = log.records.map((r) => r.at).sort((a, b) => a - b);
  return steps.map((s) => {
    const from = Date.parse(s.startedAt);
    const to = Date.parse(s.endedAt);
    const inside = log.records.filter((r) => r.at >= from && r.at <= to);
    const label = s.node === "cluster" ? s.step : `${s.step} ${s.node}`;
    return `${log.name} during ${label} (${at(from)}-${at(to)}Z): ${inside.length} request(s), ${inside.filter(isFailure).length} failed, longest gap ${formatDuration(longestGapIn(starts, from, to))}`;
  });
}

/**
 * Why the records cannot vouch for the upgrade: the keeper died, the requests started late, stopped early
 * or paused. Judged on all the prober's records together: for the in-cluster prober, the union of its pods'.
 */
function blindness(log: ProberLog, steps: readonly StepRecord[]): string[] {
  const found: string[] = [];
  const starts = log.records.map((r) => r.at).sort((a, b) => a - b);
  const [first = 0, last = 0] = [starts[0], starts[starts.length - 1]];
  if (!log.ended)
    found.push(
      `${log.name}: no end line, ${log.keeper} exited before the compare stopped it (last request at ${at(last)}Z)`,
    );
  if (steps.length > 0) {
    const from = Math.min(...steps.map((s) => Date.parse(s.startedAt)));
    const to = Math.max(...steps.map((s) => Date.parse(s.endedAt)));
    if (first > from || last < to)
      found.push(
        `${log.name}: did not watch the whole upgrade (${at(from)}Z to ${at(to)}Z): its requests ran from ${at(first)}Z to ${at(last)}Z`,
      );
  }
  const pause = longestPause(log.records);
  if (pause.ms > BOUNDS.proberGap)
    found.push(
      `${log.name}: blind for ${formatDuration(pause.ms)} from ${at(pause.at)}Z (no request started; bound ${formatDuration(BOUNDS.proberGap)}), during ${stepAt(steps, pause.at + pause.ms / 2)}`,
    );
  return found;
}

/** One prober's notes and regressions (all but the budget), and its failed requests per step. */
function proberFindings(
  log: ProberLog,
  steps: readonly StepRecord[],
): { notes: string[]; regressions: string[]; failedByStep: Map<string, number> } {
  const { records } = log;
  const failed = records.filter(isFailure);
  const failedByStep = new Map<string, number>();
  for (const r of failed) failedByStep.set(stepAt(steps, r.at), (failedByStep.get(stepAt(steps, r.at)) ?? 0) + 1);
  const notes = [`${log.name}: ${records.length} request(s) ${log.via}, ${failed.length} failed`];
  notes.push(...log.details.map((d) => `${log.name}: ${d}`));
  if (records.length === 0) {
    const none = `${log.name}: no records: it did not run between the baseline and the compare`;
    return { notes, regressions: log.problems.length > 0 ? log.problems : [none], failedByStep };
  }
  const regressions = [...log.problems, ...blindness(log, steps)];
  const pause = longestPause(records);
  notes.push(`${log.name}: longest gap between requests ${formatDuration(pause.ms)} from ${at(pause.at)}Z`);
  const spans = outages(records);
  const longest = [...spans].sort((a, b) => b.to - b.from - (a.to - a.from))[0];
  if (longest)
    notes.push(
      `${log.name}: longest outage ${formatDuration(longest.to - longest.from)} (${longest.failed} failed, ${longest.source}) at ${new Date(longest.from).toISOString()}, during ${stepAt(steps, longest.from)}; first: ${longest.first}`,
    );
  for (const [step, n] of failedByStep) notes.push(`${log.name}: ${n} failed during ${step}`);
  notes.push(...perStep(log, steps));
  return { notes, regressions, failedByStep };
}

/**
 * What the probers saw from baseline to compare. Regressions: a prober without records or that cannot vouch
 * for the upgrade (blindness), and failed requests over the budget, which is one for all probers together
 * (`--max-failed-requests`: the requests the upgrade may fail, wherever they were sent from), reported per
 * prober. Notes: the totals, the longest outage and gap, and one line per upgrade step, so a reader sees
 * every step was watched, not only that nothing failed.
 */
export function trafficFindings(
  logs: readonly ProberLog[],
  steps: readonly StepRecord[],
  maxFailed: number,
): { notes: string[]; regressions: string[] } {
  const notes: string[] = [];
  const regressions: string[] = [];
  const counts: string[] = [];
  let failed = 0;
  for (const log of logs) {
    const found = proberFindings(log, steps);
    notes.push(...found.notes);
    regressions.push(...found.regressions);
    const mine = [...found.failedByStep.values()].reduce((a, b) => a + b, 0);
    const where = [...found.failedByStep].map(([step, n]) => `${n} during ${step}`).join(", ");
    counts.push(`${log.name} ${mine}${mine > 0 ? ` (${where})` : ""}`);
    failed += mine;
  }
  if (failed > maxFailed)
    regressions.push(
      `${failed} failed request(s), more than --max-failed-requests ${maxFailed} (one budget for all probers): ${counts.join(", ")}`,
    );
  return { notes, regressions };
}

/** Reads the steps file; none (no upgrade ran through cluster:upgrade) is no steps. */
export function readUpgradeSteps(file = upgradeStepsFile()): StepRecord[] {
  return existsSync(file) ? parseSteps(readFileSync(file, "utf8")) : [];
}
