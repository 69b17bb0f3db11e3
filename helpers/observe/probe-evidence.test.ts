/**
 * Probe evidence: restart windows, restart counts, probe requests in access logs, and the failures the
 * kubelet's events show before a kill.
 * On purpose: failuresBeforeKill made to add 1 per event instead of its count turned the repeated-event,
 * compressed-series and before/after tests red; with the check for an event straddling `from` or the kill
 * removed (its whole count taken as before the kill), "should refuse to split" went red.
 */
import type { CoreV1Event, V1Pod } from "@kubernetes/client-node";
import { describe, expect, test } from "vitest";
import { fakeNamespace } from "../framework/testing.ts";
import { stampOf } from "./events.ts";
import {
  FailureCountError,
  failuresBeforeKill,
  killedInstance,
  lastKillAfterSeconds,
  livenessDelaySeconds,
  nodeClockStamp,
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
  showFailureCount,
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

describe("failures before a kill, from the kubelet's events", () => {
  const at = (hms: string) => new Date(`2026-01-01T${hms}Z`);
  const stamp = (hms: string, field: string) =>
    stampOf(at(hms), field, "Time") as NonNullable<ReturnType<typeof stampOf>>;
  let n = 0;
  const event = (
    reason: string,
    message: string,
    first: string,
    last = first,
    count = 1,
    more: Partial<CoreV1Event> = {},
  ): CoreV1Event => ({
    metadata: { name: `liveness-exec.${++n}` },
    involvedObject: { kind: "Pod", name: "liveness-exec", fieldPath: "spec.containers{app}" },
    reason,
    message,
    type: reason === "Killing" ? "Normal" : "Warning",
    source: { component: "kubelet", host: "worker" },
    count,
    firstTimestamp: at(first),
    lastTimestamp: at(last),
    ...more,
  });
  const failedMsg = "Liveness probe failed: cat: can't open '/tmp/healthy': No such file or directory";
  const killing = (when: string) => event("Killing", "Container app failed liveness probe, will be restarted", when);
  const from = stamp("12:00:08", "startedAt + 8s");
  const count = (events: CoreV1Event[], options: Partial<Parameters<typeof failuresBeforeKill>[1]> = {}) =>
    failuresBeforeKill(events, { container: "app", probe: "Liveness", from, ...options });

  test("should count every failure a repeated event stands for, up to the kill in the same second", () => {
    const found = count([event("Unhealthy", failedMsg, "12:00:09", "12:00:10", 2), killing("12:00:10")]);
    expect(found.failures).toBe(2);
    expect(showFailureCount(found, "Liveness")).toBe(
      [
        "2 liveness failure(s) before the kill at 12:00:10 (Killing event firstTimestamp, 1 s resolution)",
        `  counted: 2 × "${failedMsg}" 12:00:09 (firstTimestamp, 1 s resolution) to 12:00:10 (lastTimestamp, 1 s resolution)`,
      ].join("\n"),
    );
  });

  test("should not undercount a compressed series: one event with count 3 is three failures", () => {
    expect(count([event("Unhealthy", failedMsg, "12:00:08", "12:00:12", 3), killing("12:00:12")]).failures).toBe(3);
  });

  test("should tell a kill after one failure from one after two", () => {
    expect(count([event("Unhealthy", failedMsg, "12:00:09"), killing("12:00:09")]).failures).toBe(1);
  });

  test("should sum failed, errored and combined messages, and leave out other containers, probes and sources", () => {
    const events = [
      event("Unhealthy", failedMsg, "12:00:09"),
      event("Unhealthy", "Liveness probe errored: rpc error: command timed out", "12:00:10"),
      event("Unhealthy", `(combined from similar events): ${failedMsg}`, "12:00:11"),
      event("Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503", "12:00:10"),
      event("Unhealthy", failedMsg, "12:00:10", "12:00:10", 1, {
        involvedObject: { kind: "Pod", name: "liveness-exec", fieldPath: "spec.containers{sidecar}" },
      }),
      event("Unhealthy", failedMsg, "12:00:10", "12:00:10", 1, { source: { component: "someone-else" } }),
      killing("12:00:11"),
    ];
    expect(count(events).failures).toBe(3);
  });

  test("should list failures before `from` and after the kill without counting them", () => {
    const events = [
      event("Unhealthy", "Liveness probe failed: timeout", "12:00:05"),
      event("Unhealthy", failedMsg, "12:00:09", "12:00:10", 2),
      killing("12:00:10"),
      event("Unhealthy", "Liveness probe failed: connection refused", "12:00:12"),
    ];
    const found = count(events);
    expect(found.failures).toBe(2);
    expect(found.lines.map((l) => l.split(":")[0])).toEqual(["before 12", "counted", "after the kill, not counted"]);
  });

  test("should refuse to split a repeated event that straddles the kill or `from`", () => {
    expect(() => count([event("Unhealthy", failedMsg, "12:00:09", "12:00:25", 4), killing("12:00:10")])).toThrowError(
      new FailureCountError(
        `container app: cannot tell how many of 4 × "${failedMsg}" 12:00:09 (firstTimestamp, 1 s resolution) to 12:00:25 (lastTimestamp, 1 s resolution) fell between 12:00:08 (startedAt + 8s, 1 s resolution) and the kill at 12:00:10 (Killing event firstTimestamp, 1 s resolution)`,
      ),
    );
    expect(() => count([event("Unhealthy", failedMsg, "12:00:02", "12:00:09", 3), killing("12:00:10")])).toThrowError(
      "cannot tell how many of 3 ×",
    );
  });

  test("should measure up to the restart when there is no Killing event, and refuse when there is neither", () => {
    const events = [event("Unhealthy", failedMsg, "12:00:09")];
    const restartedAt = stamp("12:00:09", "finishedAt");
    expect(count(events, { restartedAt }).failures).toBe(1);
    expect(count([], { restartedAt }).failures).toBe(0);
    expect(() => count(events)).toThrowError(
      "container app: no Killing event for a failed liveness probe and no restart to count failures up to",
    );
  });

  test("should refuse a kill before the probe could fail, and a series whose count may lag", () => {
    expect(() => count([killing("12:00:05")])).toThrowError("killed at 12:00:05");
    const series = event("Unhealthy", failedMsg, "12:00:09", "12:00:09", 0, {
      series: { count: 2, lastObservedTime: "2026-01-01T12:00:10.000000Z" as never },
    });
    expect(() => count([series, killing("12:00:10")])).toThrowError(
      "is a series whose count is only refreshed now and then",
    );
  });
});

describe("the killed instance's bounds", () => {
  test("should start counting failingFromS after the killed instance started, and end at its finish", () => {
    const bounds = killedInstance(pod(1), "app", 8);
    expect(bounds?.from).toEqual({
      us: Date.parse("2026-01-01T12:00:08Z") * 1000,
      resolutionUs: 1_000_000,
      field: "killed instance's startedAt + 8s",
    });
    expect(bounds?.restartedAt.us).toBe(Date.parse("2026-01-01T12:00:09Z") * 1000);
    expect(killedInstance(pod(1), "app")?.from.field).toBe("killed instance's startedAt");
    expect(killedInstance(pod(1), "other")).toBeUndefined();
  });
});

describe("a moment from the node's clock", () => {
  test("should read `date -u +%s` as a whole-second stamp, and refuse anything else", () => {
    expect(nodeClockStamp("1767268808\n", "/health removed")).toEqual({
      us: Date.parse("2026-01-01T12:00:08Z") * 1000,
      resolutionUs: 1_000_000,
      field: "/health removed",
    });
    expect(() => nodeClockStamp("sh: date: not found", "/health removed")).toThrow(
      '/health removed: expected the seconds since the epoch from `date -u +%s`, got "sh: date: not found"',
    );
  });
});
