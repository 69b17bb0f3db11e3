import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, test } from "vitest";
import {
  expectedOomScoreAdj,
  formatBytes,
  GUARANTEED_OOM_SCORE_ADJ,
  memoryRequestOf,
  parseQuantity,
  resourcesOf,
  runtimeOomScoreAdj,
  withResourcesOfClass,
} from "./qos.ts";

const GiB = 2 ** 30;
const MiB = 2 ** 20;

describe("parseQuantity", () => {
  test("binary and decimal suffixes, millicores, plain numbers", () => {
    expect(parseQuantity("128Mi")).toBe(128 * MiB);
    expect(parseQuantity("1Gi")).toBe(GiB);
    expect(parseQuantity("1G")).toBe(1e9);
    expect(parseQuantity("100m")).toBeCloseTo(0.1);
    expect(parseQuantity("0.5")).toBe(0.5);
  });
  test("anything else is an error", () => {
    expect(() => parseQuantity("12 apples")).toThrow(/not a resource quantity/);
    expect(() => parseQuantity("")).toThrow();
  });
});

describe("expectedOomScoreAdj", () => {
  test("Guaranteed -997, BestEffort 1000", () => {
    expect(expectedOomScoreAdj("Guaranteed", 64 * MiB, 24 * GiB)).toBe(-997);
    expect(expectedOomScoreAdj("BestEffort", 0, 24 * GiB)).toBe(1000);
  });
  test("Burstable falls as the memory request grows, within [3, 999]", () => {
    expect(expectedOomScoreAdj("Burstable", 256 * MiB, 24 * GiB)).toBe(990);
    expect(expectedOomScoreAdj("Burstable", GiB, 24 * GiB)).toBe(959);
    expect(expectedOomScoreAdj("Burstable", 0, 24 * GiB)).toBe(999);
    expect(expectedOomScoreAdj("Burstable", 24 * GiB, 24 * GiB)).toBe(3);
  });
});

const pod: V1Pod = {
  metadata: { name: "p" },
  spec: {
    containers: [
      { name: "limits-only", resources: { limits: { cpu: "100m", memory: "64Mi" } } },
      { name: "request", resources: { requests: { memory: "32Mi" }, limits: { memory: "128Mi" } } },
      { name: "none" },
    ],
  },
};

test("memoryRequestOf: the request, else the limit, else 0", () => {
  expect(memoryRequestOf(pod, "limits-only")).toBe(64 * MiB);
  expect(memoryRequestOf(pod, "request")).toBe(32 * MiB);
  expect(memoryRequestOf(pod, "none")).toBe(0);
  expect(() => memoryRequestOf(pod, "other")).toThrow(/no container other/);
});

test("resourcesOf shows request/limit pairs as written", () => {
  expect(resourcesOf(pod, "limits-only")).toBe("cpu -/100m, memory -/64Mi");
  expect(resourcesOf(pod, "none")).toBe("cpu -/-, memory -/-");
});

test("formatBytes", () => {
  expect(formatBytes(null)).toBe("unlimited");
  expect(formatBytes(64 * MiB)).toBe("64Mi");
  expect(formatBytes(1.5 * GiB)).toBe("1.5Gi");
});

// Made to fail on purpose: returning the policy whatever the floor failed the clamp case.
describe("runtimeOomScoreAdj", () => {
  test("no floor: the kubelet's policy exactly", () => {
    expect(runtimeOomScoreAdj(GUARANTEED_OOM_SCORE_ADJ, undefined)).toBe(-997);
  });
  test("a runtime that restricts scores to its own raises a lower one to it, and only a lower one", () => {
    expect(runtimeOomScoreAdj(GUARANTEED_OOM_SCORE_ADJ, 0)).toBe(0);
    expect(runtimeOomScoreAdj(GUARANTEED_OOM_SCORE_ADJ, -999)).toBe(-997);
    expect(runtimeOomScoreAdj(684, 0)).toBe(684);
  });
});

describe("withResourcesOfClass", () => {
  const pod: V1Pod = {
    metadata: { name: "p" },
    spec: {
      containers: [
        { name: "a", resources: { requests: { cpu: "100m" }, limits: { cpu: "100m", memory: "64Mi" } } },
        { name: "b" },
      ],
    },
  };

  test("should give every container the target class's resources, leaving the pod as written", () => {
    const guaranteed = withResourcesOfClass(pod, "Guaranteed");
    for (const c of guaranteed.spec?.containers ?? []) expect(c.resources?.requests).toEqual(c.resources?.limits);
    expect(withResourcesOfClass(pod, "BestEffort").spec?.containers.map((c) => c.resources)).toEqual([{}, {}]);
    expect(withResourcesOfClass(pod, "Burstable").spec?.containers[1]?.resources).toEqual({
      requests: { memory: "16Mi" },
    });
    expect(pod.spec?.containers[1]?.resources).toBeUndefined();
  });

  test("should refuse an object that is not a pod", () => {
    expect(() => withResourcesOfClass({}, "BestEffort")).toThrow("not a pod");
  });
});
