import { describe, expect, test } from "vitest";
import {
  type EvictionPlan,
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
