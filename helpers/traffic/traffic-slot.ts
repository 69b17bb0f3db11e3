/**
 * One probed traffic window at a time on the local test bed.
 *
 *   const release = await takeTrafficSlot(ns, "rollout restart under requests");
 *   ... start probers, act, stop probers ...
 *   release();                                   // also released when the test ends, whatever happened
 *
 * The zero-downtime verdicts need probers that keep their timetable (T.proberGap). On the test bed the
 * nodes, their pods and the runner share this host's cores, and two scenarios that each run two probers at
 * 200 requests/s while rolling pods starve each other's in-cluster prober (seen: 1.2-1.8 s without a
 * request while the other file's rollout ran). That says nothing about the cluster, so on the test bed the
 * scenarios that judge traffic take turns across the run's workers; elsewhere (nodes of their own) they
 * run side by side and this returns at once.
 *
 * The slot is a directory in the temp folder, named after the run: creating it is atomic across the
 * worker processes. A holder whose process is gone (a killed worker) is taken over.
 */
import { randomUUID } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { config } from "../framework/config.ts";
import { isTestbed } from "../framework/disruptive.ts";
import type { TestNamespace } from "../framework/namespace.ts";
import { log } from "../framework/report.ts";
import { formatDuration, T } from "../framework/timeouts.ts";
import { waitFor } from "../framework/wait.ts";

export interface SlotHolder {
  pid: number;
  token: string;
  what: string;
  /** Epoch ms when it took the slot. */
  since: number;
}

export type SlotAttempt = { taken: true } | { taken: false; holder: SlotHolder | undefined };

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"; // alive, someone else's
  }
}

function readHolder(dir: string): SlotHolder | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, "holder.json"), "utf8")) as SlotHolder;
  } catch {
    return undefined; // being written by its taker this instant, or being released
  }
}

/** One attempt to take the slot `dir` for `me`; a holder whose process is gone is removed first. */
export function tryTakeSlot(dir: string, me: SlotHolder, alive: (pid: number) => boolean = pidAlive): SlotAttempt {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      mkdirSync(dir);
      writeFileSync(join(dir, "holder.json"), JSON.stringify(me));
      return { taken: true };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const holder = readHolder(dir);
    if (holder === undefined || alive(holder.pid)) return { taken: false, holder };
    rmSync(dir, { recursive: true, force: true }); // its worker died holding it
  }
  return { taken: false, holder: readHolder(dir) };
}

/** Gives the slot back, if `me` still holds it. */
export function releaseSlot(dir: string, me: SlotHolder): void {
  if (readHolder(dir)?.token === me.token) rmSync(dir, { recursive: true, force: true });
}

/** Waits for the run's traffic slot on the test bed (T.trafficSlot) and returns its release. */
export async function takeTrafficSlot(ns: TestNamespace, what: string): Promise<() => void> {
  if (!(await isTestbed(ns.kube))) return () => {};
  const dir = join(tmpdir(), `k8s-ops-conformance-traffic-${config().runId}`);
  const me: SlotHolder = { pid: process.pid, token: randomUUID(), what: `${ns.name}: ${what}`, since: 0 };
  const asked = Date.now();
  await waitFor(
    `the run's traffic slot is free for ${ns.name}: ${what} (on the test bed one probed scenario at a time)`,
    {
      observe: async () => tryTakeSlot(dir, { ...me, since: Date.now() }),
      ok: (attempt) => attempt.taken,
      show: (attempt) =>
        attempt.taken
          ? "taken"
          : `held by ${attempt.holder?.what ?? "(a holder being written)"} for ${formatDuration(Date.now() - (attempt.holder?.since ?? Date.now()))}`,
    },
    T.trafficSlot,
    { interval: 250, signal: ns.signal },
  );
  log(`traffic slot taken for ${what} after waiting ${formatDuration(Date.now() - asked)}`);
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    releaseSlot(dir, me);
  };
  ns.defer("release the traffic slot", async () => release());
  return release;
}
