/**
 * Traffic through an upgrade: the host prober that runs from the end of `run --baseline` to the start of
 * `run --compare`, outliving both processes.
 *
 * `run --baseline FILE` starts helpers/traffic/probe-loop.mjs (the program the rollout scenarios' host
 * prober runs) as a detached, unref'd process: 200 requests a second to Service canary-web through its
 * NodePort on every node, round-robin, each node address checked to be inside the test bed's node network
 * first (network-guard.ts). It writes its records to FILE.prober.records and its pid to FILE.prober.pid.
 * `run --compare FILE` creates FILE.prober.stop (the loop finishes the requests in flight and writes its
 * end line), reads the records and the upgrade's steps file (testbed/upgrade.ts), and reports failed
 * requests, the longest outage, the longest gap between requests, and per upgrade step its requests,
 * failures and longest gap. Regressions: failed requests above --max-failed-requests, and a prober that
 * cannot vouch for the upgrade (no records, no end line, requests that began after the first step or
 * ended before the last, a gap over BOUNDS.proberGap): "0 failed" from a prober that was not watching
 * would be a vacuous pass.
 *
 * Made to fail, live: a NodePort rejected on one node for a few seconds during the upgrade (an iptables
 * REJECT in that node) makes `run --compare` exit 1 naming the failed requests and their step; the
 * unit tests cover the blindness rules with records cut short, paused and unended.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { Kube } from "../helpers/framework/kube.ts";
import { BOUNDS, formatDuration, POLL, T } from "../helpers/framework/timeouts.ts";
import { waitFor } from "../helpers/framework/wait.ts";
import { assertTestbedAddresses, testbedNodeNetwork } from "../helpers/traffic/network-guard.ts";
import {
  END_MARK,
  isFailure,
  outages,
  PROBE_LOOP,
  type ProbeRecord,
  parseProbeLog,
} from "../helpers/traffic/prober.ts";
import { parseSteps, type StepRecord, stepAt } from "../testbed/upgrade-plan.ts";

/** Requests per second: the rollout scenarios' host prober's rate. */
export const UPGRADE_PROBE_RATE = 200;
const SOURCE = "canary-web NodePort (host)";

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
  const child = spawn(
    process.execPath,
    [PROBE_LOOP, ...args, "--out", files.records, "--stop-file", files.stop, ...urls],
    {
      detached: true,
      stdio: "ignore",
    },
  );
  child.unref();
  if (child.pid === undefined) throw new Error(`the host prober did not start (${process.execPath} ${PROBE_LOOP})`);
  writeFileSync(files.pid, `${child.pid}\n`);
  return child.pid;
}

/**
 * Stops the detached prober and returns its records; undefined when the baseline started none (an older
 * baseline, or another cluster than the test bed). Waits for its end line, then for the process to exit.
 */
export async function stopHostProber(baselineFile: string): Promise<HostProberLog | undefined> {
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
  return { records: parseProbeLog(text, SOURCE), ended: text.includes(`${END_MARK}|`) };
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

/** What the detached prober left: its records, and whether it wrote its end line (stopped, not died). */
export interface HostProberLog {
  records: ProbeRecord[];
  ended: boolean;
}

const at = (ms: number) => new Date(ms).toISOString().slice(11, 23);

/** The longest stretch of [from, to] in which no request started (the edges count as stretch ends). */
function longestGapIn(starts: readonly number[], from: number, to: number): number {
  const points = [from, ...starts.filter((t) => t >= from && t <= to), to];
  return Math.max(0, ...points.slice(1).map((t, i) => t - (points[i] ?? t)));
}

/** One line per upgrade step: the requests that started during it, the failed ones, the longest gap. */
function perStep(records: readonly ProbeRecord[], steps: readonly StepRecord[]): string[] {
  const starts = records.map((r) => r.at).sort((a, b) => a - b);
  return steps.map((s) => {
    const from = Date.parse(s.startedAt);
    const to = Date.parse(s.endedAt);
    const inside = records.filter((r) => r.at >= from && r.at <= to);
    const label = s.node === "cluster" ? s.step : `${s.step} ${s.node}`;
    return `host prober during ${label} (${at(from)}-${at(to)}Z): ${inside.length} request(s), ${inside.filter(isFailure).length} failed, longest gap ${formatDuration(longestGapIn(starts, from, to))}`;
  });
}

/** Why the records cannot vouch for the upgrade: the prober died, started late, stopped early or paused. */
function blindness(log: HostProberLog, steps: readonly StepRecord[]): string[] {
  const found: string[] = [];
  const starts = log.records.map((r) => r.at).sort((a, b) => a - b);
  const [first = 0, last = 0] = [starts[0], starts[starts.length - 1]];
  if (!log.ended)
    found.push(`host prober: no end line, it exited before the compare stopped it (last request at ${at(last)}Z)`);
  if (steps.length > 0) {
    const from = Math.min(...steps.map((s) => Date.parse(s.startedAt)));
    const to = Math.max(...steps.map((s) => Date.parse(s.endedAt)));
    if (first > from || last < to)
      found.push(
        `host prober: did not watch the whole upgrade (${at(from)}Z to ${at(to)}Z): its requests ran from ${at(first)}Z to ${at(last)}Z`,
      );
  }
  const pause = longestPause(log.records);
  if (pause.ms > BOUNDS.proberGap)
    found.push(
      `host prober: blind for ${formatDuration(pause.ms)} from ${at(pause.at)}Z (no request started; bound ${formatDuration(BOUNDS.proberGap)}), during ${stepAt(steps, pause.at + pause.ms / 2)}`,
    );
  return found;
}

/**
 * What the host prober saw from baseline to compare. Regressions: no records, a prober that cannot vouch
 * for the upgrade (blindness), failed requests over the budget. Notes: the totals, the longest outage and
 * gap, and one line per upgrade step, so a reader sees every step was watched, not only that nothing failed.
 */
export function trafficFindings(
  log: HostProberLog,
  steps: readonly StepRecord[],
  maxFailed: number,
): { notes: string[]; regressions: string[] } {
  const { records } = log;
  const failed = records.filter(isFailure);
  const notes = [`host prober: ${records.length} request(s) through the NodePort, ${failed.length} failed`];
  if (records.length === 0)
    return { notes, regressions: ["host prober: no records: it did not run between the baseline and the compare"] };
  const regressions = blindness(log, steps);
  const pause = longestPause(records);
  notes.push(`host prober: longest gap between requests ${formatDuration(pause.ms)} from ${at(pause.at)}Z`);
  const spans = outages(records);
  const longest = [...spans].sort((a, b) => b.to - b.from - (a.to - a.from))[0];
  if (longest)
    notes.push(
      `host prober: longest outage ${formatDuration(longest.to - longest.from)} (${longest.failed} failed) at ${new Date(longest.from).toISOString()}, during ${stepAt(steps, longest.from)}; first: ${longest.first}`,
    );
  const byStep = new Map<string, number>();
  for (const r of failed) byStep.set(stepAt(steps, r.at), (byStep.get(stepAt(steps, r.at)) ?? 0) + 1);
  for (const [step, n] of byStep) notes.push(`host prober: ${n} failed during ${step}`);
  notes.push(...perStep(records, steps));
  if (failed.length > maxFailed)
    regressions.push(
      `host prober: ${failed.length} failed request(s), more than --max-failed-requests ${maxFailed}: ${[...byStep].map(([step, n]) => `${n} during ${step}`).join(", ")}`,
    );
  return { notes, regressions };
}

/** Reads the steps file; none (no upgrade ran through cluster:upgrade) is no steps. */
export function readUpgradeSteps(file = upgradeStepsFile()): StepRecord[] {
  return existsSync(file) ? parseSteps(readFileSync(file, "utf8")) : [];
}
