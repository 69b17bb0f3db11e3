import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, test } from "vitest";
import { fakeNamespace } from "../framework/testing.ts";
import {
  lastKillAfterSeconds,
  livenessDelaySeconds,
  probesSabotage,
  probeTiming,
  RestartCountDecreasedError,
  RestartCounter,
  restartsOf,
  restartWindow,
  secondsBetween,
  showContainer,
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
