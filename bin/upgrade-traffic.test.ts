/**
 * The host prober's verdict through an upgrade: failed requests over the budget are a regression, each
 * failure and the longest outage placed in the upgrade step it fell in, a blind pause reported.
 */
import { describe, expect, test } from "vitest";
import type { ProbeRecord } from "../helpers/traffic/prober.ts";
import type { StepRecord } from "../testbed/upgrade-plan.ts";
import { longestPause, proberFiles, trafficFindings } from "./upgrade-traffic.ts";

const T0 = Date.parse("2030-01-01T00:00:00Z");
const rec = (ms: number, ok = true): ProbeRecord => ({
  source: "host",
  at: T0 + ms,
  latencyMs: 2,
  status: ok ? 200 : 0,
  pod: ok ? "canary-web-1" : "",
  error: ok ? "" : "ECONNREFUSED",
  version: "",
});
const steps: StepRecord[] = [
  { step: "drain", node: "w1", startedAt: "2030-01-01T00:00:01Z", endedAt: "2030-01-01T00:00:03Z", ok: true },
];

describe("trafficFindings", () => {
  test("should pass a clean run and say how many requests it made", () => {
    const r = trafficFindings([rec(0), rec(5), rec(10)], steps, 0);
    expect(r.regressions).toEqual([]);
    expect(r.notes[0]).toMatch(/3 request\(s\) through the NodePort, 0 failed/);
  });

  test("should place failures in their upgrade step and fail over the budget", () => {
    const records = [rec(0), rec(1500, false), rec(1505, false), rec(1510), rec(4000, false)];
    const r = trafficFindings(records, steps, 1);
    expect(r.regressions).toEqual(["host prober: 3 failed request(s), more than --max-failed-requests 1"]);
    expect(r.notes).toContain("host prober: 2 failed during drain w1");
    expect(r.notes).toContain("host prober: 1 failed during outside the upgrade");
    expect(r.notes.some((n) => /longest outage .* during drain w1/.test(n))).toBe(true);
    expect(trafficFindings(records, steps, 3).regressions).toEqual([]);
  });

  test("should report a blind pause and treat no records as a regression", () => {
    expect(longestPause([rec(0), rec(5), rec(2005)])).toEqual({ ms: 2000, at: T0 + 5 });
    expect(trafficFindings([rec(0), rec(2000)], steps, 0).notes.join("\n")).toMatch(/paused 2s .* during drain w1/);
    expect(trafficFindings([], steps, 0).regressions[0]).toMatch(/no records/);
  });

  test("should keep the prober's files next to the baseline", () => {
    expect(proberFiles("b.json")).toEqual({
      pid: "b.json.prober.pid",
      records: "b.json.prober.records",
      stop: "b.json.prober.stop",
    });
  });
});
