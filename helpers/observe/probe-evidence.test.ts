import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, test } from "vitest";
import { fakeNamespace } from "../framework/testing.ts";
import {
  lastKillAfterSeconds,
  livenessDelaySeconds,
  probeHoldWindow,
  probeRequests,
  probesSabotage,
  probeTiming,
  RestartCountDecreasedError,
  RestartCounter,
  restartsOf,
  restartWindow,
  secondsBetween,
  showContainer,
  startEvidence,
} from "./probe-evidence.ts";

function pod(restartCount: number): V1Pod {
  return {
    metadata: { name: "liveness-exec" },
    spec: {
      containers: [{ name: "app", livenessProbe: { exec: { command: ["cat", "/tmp/healthy"] }, periodSeconds: 1 } }],
    },
    status: {
      phase: "Running",
      containerStatuses: [
        {
          name: "app",
          restartCount,
          ready: true,
          started: true,
          image: "i",
          imageID: "",
          state: { running: { startedAt: new Date("2026-01-01T12:00:10Z") } },
          lastState: {
            terminated: {
              exitCode: 137,
              reason: "Error",
              startedAt: new Date("2026-01-01T12:00:00Z"),
              finishedAt: new Date("2026-01-01T12:00:09Z"),
            },
          },
        },
      ],
    },
  };
}

describe("restartWindow", () => {
  test("should add failing start, failureThreshold × period, timeout and allowance", () => {
    const w = restartWindow(
      { initialDelaySeconds: 2, periodSeconds: 1, failureThreshold: 2, timeoutSeconds: 3 },
      { failingFromS: 8, allowanceS: 5 },
    );
    expect(w).toEqual({
      earliestS: 8,
      latestS: 18,
      explain:
        "failing from 8s + failureThreshold 2 × period 1s + timeout 3s + allowance 5s = 18s after the container started (earliest 8s)",
    });
  });

  test("should start from initialDelay when the probe fails from the start, and name another reference", () => {
    const w = restartWindow(
      { initialDelaySeconds: 30, periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 1 },
      { allowanceS: 5, reference: "the removal" },
    );
    expect(w.latestS).toBe(66);
    expect(w.earliestS).toBe(49);
    expect(w.explain).toContain("initialDelay 30s + failureThreshold 3 × period 10s");
    expect(w.explain).toContain("after the removal");
  });
});

describe("probeTiming", () => {
  test("should fill the API defaults and name a missing probe", () => {
    expect(probeTiming(pod(0), "app", "livenessProbe")).toEqual({
      initialDelaySeconds: 0,
      periodSeconds: 1,
      failureThreshold: 3,
      timeoutSeconds: 1,
    });
    expect(() => probeTiming(pod(0), "app", "startupProbe")).toThrow(
      'pod liveness-exec has no startupProbe on container "app"',
    );
  });
});

describe("restart counting", () => {
  test("should refuse a restartCount that goes down", () => {
    const counter = new RestartCounter("container ns/p/app");
    counter.see(0);
    counter.see(2);
    expect(() => counter.see(1)).toThrow(
      new RestartCountDecreasedError("container ns/p/app: restartCount went down from 2 to 1"),
    );
  });

  test("should end a wait through the check when the count decreases, and show the container", async () => {
    let count = 3;
    const ns = fakeNamespace({ core: { readNamespacedPod: async () => pod(count) } });
    const check = restartsOf(ns, "liveness-exec", "app", (n) => n >= 1);
    expect(check.ok(await check.observe())).toBe(true);
    count = 1;
    await expect(check.observe()).rejects.toThrow("restartCount went down from 3 to 1");
    expect(check.show?.(pod(1))).toContain(
      "container app: restartCount=1, running since 12:00:10 (started=true, ready=true), last: Error exit 137 12:00:00–12:00:09",
    );
  });

  test("should measure the last killed instance from its start to its kill", async () => {
    const ns = fakeNamespace({ core: { readNamespacedPod: async () => pod(1) } });
    expect(await lastKillAfterSeconds(ns, "liveness-exec", "app")).toBe(9);
    expect(await lastKillAfterSeconds(ns, "liveness-exec", "other")).toBeNaN();
  });

  test("should measure seconds between kubelet timestamps", () => {
    const last = pod(1).status?.containerStatuses?.[0]?.lastState?.terminated;
    expect(secondsBetween(last?.startedAt, last?.finishedAt)).toBe(9);
    expect(secondsBetween("2026-01-01T12:00:00Z", "2026-01-01T12:00:01.5Z")).toBe(1.5);
    expect(secondsBetween(undefined, last?.finishedAt)).toBeNaN();
    expect(showContainer(undefined)).toBe("no status yet");
  });
});

describe("probes settings", () => {
  test("should read the liveness delay with a default and refuse bad values", () => {
    expect(livenessDelaySeconds({})).toBe(8);
    expect(livenessDelaySeconds({ KOC_PROBES_LIVENESS_DELAY: "30" })).toBe(30);
    expect(() => livenessDelaySeconds({ KOC_PROBES_LIVENESS_DELAY: "2.5" })).toThrow(
      'KOC_PROBES_LIVENESS_DELAY must be whole seconds from 1 to 300 (e.g. 30), got "2.5"',
    );
  });

  test("should read the sabotage switch", () => {
    expect(probesSabotage({})).toBe(false);
    expect(probesSabotage({ KOC_PROBES_SABOTAGE: "1" })).toBe(true);
  });
});

describe("must-not-happen windows about a probe", () => {
  test("should cover period × failureThreshold + timeout plus the margin", () => {
    const liveness = { initialDelaySeconds: 0, periodSeconds: 1, failureThreshold: 2, timeoutSeconds: 2 };
    expect(probeHoldWindow(liveness, 5_000)).toEqual({
      ms: 9_000,
      explain: "period 1s × failureThreshold 2 + timeout 2s + margin 5s = 9s",
    });
    const slow = { initialDelaySeconds: 0, periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 1 };
    expect(probeHoldWindow(slow, 5_000).ms).toBeGreaterThanOrEqual(10 * 3 * 1000 + 5_000);
  });
});

describe("start evidence from probe requests", () => {
  const line = (at: string, path: string, status: number, agent = "kube-probe/1.34") =>
    `${at} 10.244.1.1 - - [29/Nov/2026:19:40:01 +0000] "GET ${path} HTTP/1.1" ${status} 153 "-" "${agent}"`;
  const log = [
    line("2026-11-29T19:40:01.101234567Z", "/health", 404),
    '2026-11-29T19:40:01.101300000Z 2026/11/29 19:40:01 [error] 7#7: open() "/usr/share/nginx/html/health" failed',
    line("2026-11-29T19:40:05.100000000Z", "/health", 404),
    line("2026-11-29T19:40:05.900000000Z", "/", 200, "curl/8.14.1"),
    line("2026-11-29T19:40:06.100000000Z", "/health", 200),
    line("2026-11-29T19:40:07.200000000Z", "/ready", 404),
    line("2026-11-29T19:40:07.300000000Z", "/health", 200),
  ].join("\n");

  test("should read the kubelet's probe requests with the node's timestamps", () => {
    expect(probeRequests(log)).toEqual([
      { at: new Date("2026-11-29T19:40:01.101Z"), path: "/health", status: 404 },
      { at: new Date("2026-11-29T19:40:05.100Z"), path: "/health", status: 404 },
      { at: new Date("2026-11-29T19:40:06.100Z"), path: "/health", status: 200 },
      { at: new Date("2026-11-29T19:40:07.200Z"), path: "/ready", status: 404 },
      { at: new Date("2026-11-29T19:40:07.300Z"), path: "/health", status: 200 },
    ]);
  });

  test("should measure started and the first readiness probe from the container's startedAt", () => {
    expect(
      startEvidence(probeRequests(log), "2026-11-29T19:40:01Z", { startup: "/health", readiness: "/ready" }),
    ).toEqual({ startedAfterS: 5.1, failuresBefore: 2, firstReadinessAfterS: 6.2 });
  });

  test("should say NaN when the startup probe never succeeded or readiness never ran", () => {
    const failing = probeRequests(line("2026-11-29T19:40:02Z", "/health", 404));
    const evidence = startEvidence(failing, "2026-11-29T19:40:01Z", { startup: "/health", readiness: "/ready" });
    expect(evidence.startedAfterS).toBeNaN();
    expect(evidence.firstReadinessAfterS).toBeNaN();
    expect(evidence.failuresBefore).toBe(1);
  });
});
