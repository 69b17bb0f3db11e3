/**
 * The timeouts table: deadlines scale with --timeout-scale, verdict bounds never do.
 *
 * On purpose: with proberGap put back into BASE_TIMEOUTS, "should classify every entry" failed (the scaled
 * table held 21 entries, 20 classified); with kubeletAllowanceS() multiplying by the scale again
 * (KUBELET_ALLOWANCE_S × config().timeoutScale), the scale-20 test failed: 200 s of allowance, not 10 s.
 */
import { afterEach, describe, expect, test, vi } from "vitest";
import { kubeletAllowanceS, restartWindow } from "../observe/probe-evidence.ts";
import { parseTimeoutScale } from "./config.ts";
import { BASE_TIMEOUTS, BOUNDS, formatDuration, scaledTimeouts, T, useTimeoutScale } from "./timeouts.ts";

/** Every entry of BASE_TIMEOUTS, and why scaling it gives a slow cluster time without loosening a verdict. */
const SCALED: Record<keyof typeof BASE_TIMEOUTS, string> = {
  apiCall: "deadline: one request and its retries",
  namespaceReady: "deadline: waiting for a state",
  podStart: "deadline: waiting for a state",
  rollout: "deadline: waiting for a state",
  serviceReachable: "deadline: waiting for a state",
  exec: "deadline: one command",
  httpRequest: "deadline: one request of a wait that polls (the probers' timeout is a bound)",
  configPropagation: "deadline: waiting for a state",
  volumeBind: "deadline: waiting for a state",
  cpuThrottleEvidence: "deadline: waiting for enough evidence",
  memoryPressure: "deadline: waiting for the kubelet to act",
  outageLead: "when an injected outage starts: later is only later",
  trafficSlot: "deadline: waiting for the test bed's traffic slot",
  holdWindow: "a must-not-happen window: longer is stricter",
  probeVerdictMargin: "part of a must-not-happen window: longer is stricter",
  delete: "deadline: waiting for a state",
  nodeDrain: "deadline: waiting for evictions",
  nodeUpgrade: "deadline: waiting for a state",
  apiSettled: "deadline: waiting for a state",
  kubeadmUpgrade: "deadline: one command",
  diagnostics: "deadline: collecting",
  cleanup: "deadline: the sweep",
  clusterCheck: "deadline: the reachability check",
  test: "deadline: vitest testTimeout",
  hook: "deadline: vitest hookTimeout",
};

/** Every entry of BOUNDS: what a check accepts. */
const UNSCALED: Record<keyof typeof BOUNDS, string> = {
  proberGap: "the longest pause a prober may have and still vouch for a window",
  proberRequestTimeout: "how long a request may take and still count as served",
  podsFollowReplicaSets: "how long a rollout may stay one pod above its surge bound",
  kubeletAllowance: "how late the kubelet may restart or ready a container",
  clockSkew: "how far a node's clock may be from this host's and still be corrected",
  clockUncertainty: "how imprecisely a node's clock may be known and still place a 300 ms outage",
};

afterEach(() => {
  vi.unstubAllEnvs();
  useTimeoutScale(parseTimeoutScale(process.env.KOC_TIMEOUT_SCALE));
});

describe("timeouts", () => {
  test("should default the scale to 1 and accept decimals", () => {
    expect(parseTimeoutScale(undefined)).toBe(1);
    expect(parseTimeoutScale(" ")).toBe(1);
    expect(parseTimeoutScale("2.5")).toBe(2.5);
  });

  test.each(["0", "-1", "abc", "21", "Infinity"])("should reject KOC_TIMEOUT_SCALE=%s with what to fix", (raw) => {
    expect(() => parseTimeoutScale(raw)).toThrowError(
      `KOC_TIMEOUT_SCALE must be a number > 0 and <= 20 (e.g. 2.5), got "${raw}"`,
    );
  });

  test("should scale every deadline and round to whole milliseconds", () => {
    const scaled = scaledTimeouts(1.5);
    expect(scaled.rollout).toBe(BASE_TIMEOUTS.rollout * 1.5);
    expect(scaled.httpRequest).toBe(7_500);
    expect(Object.keys(scaled)).toEqual(Object.keys(BASE_TIMEOUTS));
    expect(Object.isFrozen(scaled)).toBe(true);
  });

  test("should read the scale on first use, not at import, and list every entry", () => {
    expect(Object.keys(T)).toEqual(Object.keys(BASE_TIMEOUTS));
    expect(T.rollout).toBe(scaledTimeouts(parseTimeoutScale(process.env.KOC_TIMEOUT_SCALE)).rollout);
  });

  test("should classify every entry: deadlines in the scaled table, verdict bounds in BOUNDS", () => {
    expect(Object.keys(BASE_TIMEOUTS).sort(), "entries of the scaled table").toEqual(Object.keys(SCALED).sort());
    expect(Object.keys(BOUNDS).sort(), "verdict bounds").toEqual(Object.keys(UNSCALED).sort());
    for (const name of Object.keys(BOUNDS)) expect(Object.keys(T), `${name} is not read through T`).not.toContain(name);
  });

  test("should multiply every deadline by 20 at scale 20 and leave every bound unchanged", () => {
    vi.stubEnv("KOC_TIMEOUT_SCALE", "20");
    useTimeoutScale(20);
    for (const [name, ms] of Object.entries(BASE_TIMEOUTS)) expect(T[name as keyof typeof T], name).toBe(ms * 20);
    expect(BOUNDS).toEqual({
      proberGap: 1_000,
      proberRequestTimeout: 5_000,
      podsFollowReplicaSets: 5_000,
      kubeletAllowance: 10_000,
      clockSkew: 1_000,
      clockUncertainty: 50,
    });
    // what the probes scenarios derive from the kubelet allowance
    expect(kubeletAllowanceS()).toBe(10);
    const liveness = { initialDelaySeconds: 0, periodSeconds: 1, failureThreshold: 3, timeoutSeconds: 1 };
    expect(restartWindow(liveness, { failingFromS: 8, allowanceS: kubeletAllowanceS() }).latestS).toBe(8 + 3 + 1 + 10);
  });

  test("should format durations for messages", () => {
    expect(formatDuration(750)).toBe("750ms");
    expect(formatDuration(4_210)).toBe("4.2s");
    expect(formatDuration(60_000)).toBe("1m");
    expect(formatDuration(125_000)).toBe("2m 5s");
  });
});
