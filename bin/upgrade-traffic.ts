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
 * requests, the longest outage, the longest pause between requests and the upgrade step each fell in.
 * Failed requests above --max-failed-requests are a regression.
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
export async function stopHostProber(baselineFile: string): Promise<ProbeRecord[] | undefined> {
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
  return parseProbeLog(ended(), SOURCE);
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

/** What the host prober saw from baseline to compare: notes, and the regressions (failed requests over budget). */
export function trafficFindings(
  records: readonly ProbeRecord[],
  steps: readonly StepRecord[],
  maxFailed: number,
): { notes: string[]; regressions: string[] } {
  const failed = records.filter(isFailure);
  const notes = [`host prober: ${records.length} request(s) through the NodePort, ${failed.length} failed`];
  const regressions: string[] = [];
  if (records.length === 0) {
    regressions.push("host prober: no records: it did not run between the baseline and the compare");
    return { notes, regressions };
  }
  const spans = outages(records);
  const longest = [...spans].sort((a, b) => b.to - b.from - (a.to - a.from))[0];
  if (longest)
    notes.push(
      `host prober: longest outage ${formatDuration(longest.to - longest.from)} (${longest.failed} failed) at ${new Date(longest.from).toISOString()}, during ${stepAt(steps, longest.from)}; first: ${longest.first}`,
    );
  const pause = longestPause(records);
  if (pause.ms > BOUNDS.proberGap)
    notes.push(
      `host prober: paused ${formatDuration(pause.ms)} at ${new Date(pause.at).toISOString()} (blind then), during ${stepAt(steps, pause.at + pause.ms / 2)}`,
    );
  const byStep = new Map<string, number>();
  for (const r of failed) byStep.set(stepAt(steps, r.at), (byStep.get(stepAt(steps, r.at)) ?? 0) + 1);
  for (const [step, n] of byStep) notes.push(`host prober: ${n} failed during ${step}`);
  if (failed.length > maxFailed)
    regressions.push(`host prober: ${failed.length} failed request(s), more than --max-failed-requests ${maxFailed}`);
  return { notes, regressions };
}

/** Reads the steps file; none (no upgrade ran through cluster:upgrade) is no steps. */
export function readUpgradeSteps(file = upgradeStepsFile()): StepRecord[] {
  return existsSync(file) ? parseSteps(readFileSync(file, "utf8")) : [];
}
