import { describe, expect, test } from "vitest";
import { type EvictionPlan, parseConfigz, planEviction, podsWorkingSet, thresholdBytes } from "./eviction.ts";

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

describe("planEviction", () => {
  const facts = {
    allocatableBytes: 1536 * MiB,
    thresholdBytes: 1024 * MiB,
    podsWorkingSetBytes: 136 * MiB,
    enforceNodeAllocatable: ["pods"],
    requestedBytes: 200 * MiB,
  };

  test("orders the pressure: no pressure before Burstable writes, BestEffort ranked first, Guaranteed alone below", () => {
    const plan = planEviction(facts) as EvictionPlan;
    expect(plan.headroomMi).toBe(1400);
    const { guaranteed: g, burstable: b, besteffort: e } = plan;
    expect(g.fillMi + e.fillMi).toBeLessThan(plan.headroomMi);
    expect(g.fillMi + e.fillMi + b.fillMi).toBeGreaterThan(plan.headroomMi);
    expect(e.fillMi).toBeGreaterThan(b.fillMi - (b.requestMi ?? 0)); // BestEffort exceeds its request by more
    expect(g.fillMi + b.fillMi).toBeGreaterThan(plan.headroomMi); // still pressure after BestEffort goes
    expect(g.fillMi).toBeLessThan(plan.headroomMi);
    expect(g.fillMi).toBeLessThan(g.requestMi ?? 0); // Guaranteed never exceeds its request
    expect(b.fillMi).toBeLessThan(b.limitMi ?? 0);
    expect(g.fillMi + e.fillMi + b.fillMi).toBeLessThan(plan.headroomMi + 1024); // below the kernel's cap
  });

  test("refuses nodes where the kernel could kill first, or nothing caps the pods", () => {
    expect(planEviction({ ...facts, thresholdBytes: 100 * MiB })).toMatchObject({ reason: /too close/ });
    expect(planEviction({ ...facts, enforceNodeAllocatable: [] })).toMatchObject({ reason: /does not enforce/ });
    expect(planEviction({ ...facts, allocatableBytes: 24 * GiB })).toMatchObject({ reason: /at most/ });
    expect(planEviction({ ...facts, podsWorkingSetBytes: 1500 * MiB })).toMatchObject({ reason: /needs 256Mi/ });
    expect(planEviction({ ...facts, requestedBytes: 1400 * MiB })).toMatchObject({ reason: /unrequested/ });
  });
});
