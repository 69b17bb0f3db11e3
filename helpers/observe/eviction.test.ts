/**
 * Sizing the eviction scenario from the node's figures, and ordering evictions by the kubelet's own times.
 * On purpose: evictionOrder made to read a tie as "in order" (comparing stamps without their resolution)
 * turned the same-second and the microsecond-eventTime tests red; made to return the pods as listed (the
 * order they were polled in), the "whatever order the pods are listed in", "out of order" and microsecond
 * tests went red.
 */
import type { CoreV1Event, V1Pod } from "@kubernetes/client-node";
import { describe, expect, test } from "vitest";
import {
  EvictionOrderError,
  type EvictionPlan,
  evictionOrder,
  evictionStamps,
  nodeMemoryFacts,
  OVERHEAD_MI,
  parseConfigz,
  planEviction,
  podsWorkingSet,
  podWorkingSets,
  thresholdBytes,
} from "./eviction.ts";

const MiB = 2 ** 20;
const GiB = 2 ** 30;

test("parseConfigz reads the memory settings", () => {
  const text = JSON.stringify({
    kubeletconfig: {
      evictionHard: { "memory.available": "1024Mi", "nodefs.available": "0%" },
      enforceNodeAllocatable: ["pods"],
      systemReserved: { memory: "21545Mi" },
    },
  });
  expect(parseConfigz(text)).toEqual({
    memoryAvailable: "1024Mi",
    enforceNodeAllocatable: ["pods"],
    systemReserved: "21545Mi",
    kubeReserved: undefined,
  });
  expect(parseConfigz(JSON.parse(text))).toEqual(parseConfigz(text)); // client-node may hand it over parsed
  expect(() => parseConfigz("{}")).toThrow(/no kubeletconfig/);
});

test("nodeMemoryFacts: allocatable, threshold, working set, and requests of pods still running", () => {
  const facts = nodeMemoryFacts({
    node: { status: { capacity: { memory: "10Gi" }, allocatable: { memory: "1536Mi" } } },
    configz: { kubeletconfig: { evictionHard: { "memory.available": "10%" }, enforceNodeAllocatable: ["pods"] } },
    summary: { node: { systemContainers: [{ name: "pods", memory: { workingSetBytes: 7 } }] } },
    podsOnNode: [
      {
        spec: { containers: [{ name: "a", resources: { requests: { memory: "64Mi" } } }] },
        status: { phase: "Running" },
      },
      {
        spec: { containers: [{ name: "b", resources: { requests: { memory: "1Gi" } } }] },
        status: { phase: "Failed" },
      },
    ],
  });
  expect(facts).toMatchObject({
    allocatableBytes: 1536 * MiB,
    thresholdBytes: GiB,
    podsWorkingSetBytes: 7,
    enforceNodeAllocatable: ["pods"],
    requestedBytes: 64 * MiB,
  });
  expect(facts.configz).toContain("memory.available 10%");
});

test("thresholdBytes: a quantity or a share of capacity", () => {
  expect(thresholdBytes("1024Mi", 24 * GiB)).toBe(GiB);
  expect(thresholdBytes("10%", 10 * GiB)).toBe(GiB);
});

test("podsWorkingSet reads the pods system container, and refuses a summary without it", () => {
  const summary = {
    node: { systemContainers: [{ name: "kubelet" }, { name: "pods", memory: { workingSetBytes: 42 } }] },
  };
  expect(podsWorkingSet(JSON.stringify(summary))).toBe(42);
  expect(() => podsWorkingSet(JSON.stringify({ node: { systemContainers: [] } }))).toThrow(/pods system container/);
});

test("podWorkingSets: the namespace's pods by name", () => {
  const summary = {
    pods: [
      { podRef: { name: "a", namespace: "ns" }, memory: { workingSetBytes: 5 } },
      { podRef: { name: "b", namespace: "other" }, memory: { workingSetBytes: 6 } },
      { podRef: { name: "c", namespace: "ns" } },
    ],
  };
  expect([...podWorkingSets(summary, "ns")]).toEqual([["a", 5]]);
});

describe("planEviction", () => {
  const facts = {
    allocatableBytes: 1536 * MiB,
    thresholdBytes: 1536 * MiB,
    podsWorkingSetBytes: 136 * MiB,
    enforceNodeAllocatable: ["pods"],
    requestedBytes: 200 * MiB,
  };

  test("BestEffort first and Burstable next, whether the kubelet's Burstable stats are fresh or stale", () => {
    const plan = planEviction(facts) as EvictionPlan;
    const H = plan.headroomMi;
    expect(H).toBe(1400);
    const { guaranteed: g, burstable: b, besteffort: e } = plan;
    const over = (usage: number, p: typeof g) => usage - (p.requestMi ?? 0);
    expect(g.fillMi + e.fillMi + b.fillMi).toBeLessThan(H); // no pressure before the last write
    expect(g.fillMi + e.fillMi + b.fillMi + b.thenMi).toBeGreaterThan(H);
    expect(over(e.fillMi, e)).toBeGreaterThan(over(b.fillMi + b.thenMi, b)); // fresh: both over, BestEffort more
    expect(over(b.fillMi, b)).toBeLessThanOrEqual(0); // stale: Burstable not over its request
    expect(g.fillMi + b.fillMi + b.thenMi).toBeGreaterThan(H); // still past it without BestEffort
    expect(over(b.fillMi, b)).toBeGreaterThan(over(g.fillMi, g)); // stale Burstable still ranks before Guaranteed
    expect(g.fillMi).toBeLessThan(H);
    expect(over(g.fillMi + OVERHEAD_MI, g)).toBeLessThan(0); // Guaranteed never over its request
    expect(b.fillMi + b.thenMi).toBeLessThan(b.limitMi ?? 0);
    expect(g.fillMi + e.fillMi + b.fillMi + b.thenMi).toBeLessThan(H + 1536 - OVERHEAD_MI); // below the kernel's cap
  });

  test("refuses nodes where the kernel could kill first, or nothing caps the pods", () => {
    expect(planEviction({ ...facts, thresholdBytes: 1024 * MiB })).toMatchObject({ reason: /too close/ });
    expect(planEviction({ ...facts, enforceNodeAllocatable: [] })).toMatchObject({ reason: /does not enforce/ });
    expect(planEviction({ ...facts, allocatableBytes: 24 * GiB })).toMatchObject({ reason: /at most/ });
    expect(planEviction({ ...facts, podsWorkingSetBytes: 1500 * MiB })).toMatchObject({ reason: /needs 256Mi/ });
    expect(planEviction({ ...facts, requestedBytes: 1400 * MiB })).toMatchObject({ reason: /unrequested/ });
  });
});

describe("eviction order from the kubelet's own times", () => {
  const evictedPod = (name: string, transition?: string): V1Pod => ({
    metadata: { name, uid: `uid-${name}` },
    status: {
      phase: "Failed",
      reason: "Evicted",
      conditions: transition
        ? [
            { type: "Ready", status: "False", lastTransitionTime: new Date("2026-01-01T11:00:00Z") },
            {
              type: "DisruptionTarget",
              status: "True",
              reason: "TerminationByKubelet",
              lastTransitionTime: new Date(`2026-01-01T${transition}Z`),
            },
          ]
        : [],
    },
  });
  const evictedEvent = (pod: string, times: Partial<CoreV1Event>, component = "kubelet"): CoreV1Event => ({
    metadata: { name: `${pod}.evicted` },
    involvedObject: { kind: "Pod", name: pod, uid: `uid-${pod}` },
    reason: "Evicted",
    type: "Warning",
    source: { component },
    ...times,
  });
  const times = (pod: V1Pod, events: CoreV1Event[] = []) => ({
    pod: pod.metadata?.name ?? "?",
    stamps: evictionStamps(pod, events),
  });

  test("should read the DisruptionTarget condition and the kubelet's Evicted event, no one else's", () => {
    const events = [
      evictedEvent("a", {
        firstTimestamp: new Date("2026-01-01T12:00:05Z"),
        lastTimestamp: new Date("2026-01-01T12:00:05Z"),
      }),
      evictedEvent("a", { firstTimestamp: new Date("2026-01-01T12:00:01Z") }, "taint-eviction-controller"),
      evictedEvent("b", { firstTimestamp: new Date("2026-01-01T12:00:02Z") }),
    ];
    expect(
      evictionStamps(evictedPod("a", "12:00:06"), events).map((s) => [s.field, new Date(s.us / 1000).toISOString()]),
    ).toEqual([
      ["DisruptionTarget lastTransitionTime", "2026-01-01T12:00:06.000Z"],
      ["Evicted event firstTimestamp", "2026-01-01T12:00:05.000Z"],
    ]);
  });

  test("should order evictions seconds apart, whatever order the pods are listed in", () => {
    const pods = [
      times(evictedPod("pressure-burstable", "12:00:15")),
      times(evictedPod("pressure-besteffort", "12:00:03")),
    ];
    expect(evictionOrder(pods)).toEqual(["pressure-besteffort", "pressure-burstable"]);
  });

  test("should report an eviction out of order as it happened", () => {
    const pods = [
      times(evictedPod("pressure-besteffort", "12:00:15")),
      times(evictedPod("pressure-burstable", "12:00:03")),
    ];
    expect(evictionOrder(pods)).toEqual(["pressure-burstable", "pressure-besteffort"]);
  });

  test("should refuse two evictions in the same second with no finer time, naming both pods and their times", () => {
    const pods = [
      times(evictedPod("pressure-besteffort", "12:00:03")),
      times(evictedPod("pressure-burstable", "12:00:03")),
    ];
    expect(() => evictionOrder(pods)).toThrowError(EvictionOrderError);
    expect(() => evictionOrder(pods)).toThrowError(
      "cannot tell whether pressure-besteffort or pressure-burstable was evicted first: their times fall within each other's resolution; " +
        "pressure-besteffort at 12:00:03 (DisruptionTarget lastTransitionTime, 1 s resolution); " +
        "pressure-burstable at 12:00:03 (DisruptionTarget lastTransitionTime, 1 s resolution)",
    );
  });

  test("should tell the same second apart by the events' microsecond eventTime", () => {
    const events = [
      evictedEvent("pressure-burstable", { eventTime: "2026-01-01T12:00:03.900001Z" as never }),
      evictedEvent("pressure-besteffort", { eventTime: "2026-01-01T12:00:03.100000Z" as never }),
    ];
    const pods = [
      times(evictedPod("pressure-burstable", "12:00:03"), events),
      times(evictedPod("pressure-besteffort", "12:00:03"), events),
    ];
    expect(evictionOrder(pods)).toEqual(["pressure-besteffort", "pressure-burstable"]);
  });

  test("should refuse times that contradict each other", () => {
    const events = [
      evictedEvent("a", { eventTime: "2026-01-01T12:00:09.000000Z" as never }),
      evictedEvent("b", { eventTime: "2026-01-01T12:00:01.000000Z" as never }),
    ];
    const pods = [times(evictedPod("a", "12:00:01"), events), times(evictedPod("b", "12:00:09"), events)];
    expect(() => evictionOrder(pods)).toThrowError(
      "the kubelet's times disagree on which of a and b was evicted first",
    );
  });

  test("should refuse a pod with no eviction time at all, or pods that share no kind of time", () => {
    const noTime = [times(evictedPod("pressure-besteffort", "12:00:03")), times(evictedPod("pressure-burstable"))];
    expect(() => evictionOrder(noTime)).toThrowError(
      "no eviction time for pressure-burstable: neither a DisruptionTarget condition nor an Evicted event from the kubelet",
    );
    const events = [evictedEvent("pressure-burstable", { firstTimestamp: new Date("2026-01-01T12:00:09Z") })];
    const disjoint = [
      times(evictedPod("pressure-besteffort", "12:00:03")),
      times(evictedPod("pressure-burstable"), events),
    ];
    expect(() => evictionOrder(disjoint)).toThrowError("they share no kind of time (condition or event)");
    expect(() => evictionOrder([])).toThrowError("no evicted pods to order");
  });
});
