/**
 * The probers' verdict through an upgrade: failed requests over the one budget of all probers are a
 * regression, each failure and the longest outage placed in the upgrade step it fell in, a blind pause
 * reported; the in-cluster prober judged on the union of its pods' records.
 */
import { describe, expect, test } from "vitest";
import type { ProbeRecord } from "../helpers/traffic/prober.ts";
import type { StepRecord } from "../testbed/upgrade-plan.ts";
import { podSource } from "./incluster-records.ts";
import {
  followerFiles,
  hostProberLog,
  longestPause,
  type ProberLog,
  proberFiles,
  trafficFindings,
} from "./upgrade-traffic.ts";

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

const log = (records: ProbeRecord[], ended = true) => [hostProberLog(records, ended)];
/** A request every 5 ms from `from` to `to` (ms after T0), all answered. */
const steady = (from: number, to: number) => Array.from({ length: (to - from) / 5 + 1 }, (_, i) => rec(from + i * 5));

describe("trafficFindings", () => {
  test("should pass a run that watched every step, and say per step what it saw", () => {
    const r = trafficFindings(log(steady(0, 4000)), steps, 0);
    expect(r.regressions).toEqual([]);
    expect(r.notes[0]).toMatch(/801 request\(s\) through the NodePort, 0 failed/);
    expect(r.notes).toContain(
      "host prober during drain w1 (00:00:01.000-00:00:03.000Z): 401 request(s), 0 failed, longest gap 5ms",
    );
    expect(r.notes.some((n) => /longest gap between requests 5ms/.test(n))).toBe(true);
  });

  test("should place failures in their upgrade step and fail over the budget", () => {
    const records = steady(0, 4000).map((r) => ([1500, 1505, 3900].includes(r.at - T0) ? rec(r.at - T0, false) : r));
    const r = trafficFindings(log(records), steps, 1);
    expect(r.regressions).toEqual([
      "3 failed request(s), more than --max-failed-requests 1 (one budget for all probers): host prober 3 (2 during drain w1, 1 during outside the upgrade)",
    ]);
    expect(r.notes).toContain("host prober: 2 failed during drain w1");
    expect(r.notes.some((n) => /longest outage .* during drain w1/.test(n))).toBe(true);
    expect(trafficFindings(log(records), steps, 3).regressions).toEqual([]);
  });

  test("should not vouch for an upgrade it did not watch: a pause, a late start, an early end, a death", () => {
    expect(longestPause([rec(0), rec(5), rec(2005)])).toEqual({ ms: 2000, at: T0 + 5 });
    const paused = [...steady(0, 1500), ...steady(2600, 4000)];
    expect(trafficFindings(log(paused), steps, 0).regressions).toEqual([
      "host prober: blind for 1.1s from 00:00:01.500Z (no request started; bound 1s), during drain w1",
    ]);
    expect(trafficFindings(log(steady(0, 2000)), steps, 0).regressions[0]).toMatch(
      /did not watch the whole upgrade \(00:00:01.000Z to 00:00:03.000Z\): its requests ran from 00:00:00.000Z to 00:00:02.000Z/,
    );
    expect(trafficFindings(log(steady(1500, 4000)), steps, 0).regressions[0]).toMatch(
      /did not watch the whole upgrade/,
    );
    expect(trafficFindings(log(steady(0, 4000), false), steps, 0).regressions).toEqual([
      "host prober: no end line, it exited before the compare stopped it (last request at 00:00:04.000Z)",
    ]);
    expect(trafficFindings(log([]), steps, 0).regressions[0]).toMatch(/no records/);
  });

  test("should keep the probers' files next to the baseline", () => {
    expect(proberFiles("b.json")).toEqual({
      pid: "b.json.prober.pid",
      records: "b.json.prober.records",
      stop: "b.json.prober.stop",
    });
    expect(followerFiles("b.json")).toEqual({
      pid: "b.json.incluster.pid",
      records: "b.json.incluster.records",
      stop: "b.json.incluster.stop",
      errors: "b.json.incluster.err",
    });
  });
});

/** The in-cluster prober's log: pod `a` and pod `b`, each a request every 20 ms over [from, to] (ms after T0). */
const inCluster = (a: [number, number], b: [number, number], ended = true): ProberLog => {
  const pod = (name: string, [from, to]: [number, number]) =>
    Array.from({ length: (to - from) / 20 + 1 }, (_, i) => ({ ...rec(from + i * 20), source: podSource(name) }));
  return {
    name: "in-cluster prober",
    via: "to the Service's ClusterIP from 2 pod(s)",
    records: [...pod("canary-prober-a", a), ...pod("canary-prober-b", b)],
    ended,
    keeper: "its log follower",
    problems: [],
    details: [],
  };
};

describe("trafficFindings of the in-cluster prober", () => {
  test("should vouch for an upgrade one replica watched while the other was drained", () => {
    const r = trafficFindings([inCluster([0, 1500], [0, 4000])], steps, 0);
    expect(r.regressions).toEqual([]);
    expect(r.notes).toContain(
      "in-cluster prober during drain w1 (00:00:01.000-00:00:03.000Z): 127 request(s), 0 failed, longest gap 20ms",
    );
  });

  test("should call the prober blind when no replica started a request for over the bound", () => {
    const r = trafficFindings([inCluster([0, 1500], [2700, 4000])], steps, 0);
    expect(r.regressions).toEqual([
      "in-cluster prober: blind for 1.2s from 00:00:01.500Z (no request started; bound 1s), during drain w1",
    ]);
    expect(trafficFindings([inCluster([0, 2000], [0, 2500])], steps, 0).regressions[0]).toMatch(
      /in-cluster prober: did not watch the whole upgrade/,
    );
    expect(trafficFindings([inCluster([0, 4000], [0, 4000], false)], steps, 0).regressions).toEqual([
      "in-cluster prober: no end line, its log follower exited before the compare stopped it (last request at 00:00:04.000Z)",
    ]);
  });

  test("should count both probers' failures against one budget, and say each prober's share", () => {
    const host = steady(0, 4000).map((r) => (r.at - T0 === 1500 ? rec(1500, false) : r));
    const pods = inCluster([0, 4000], [0, 4000]);
    pods.records = pods.records.map((r) => (r.at - T0 === 2000 && r.source.endsWith("-b") ? { ...r, status: 0 } : r));
    const r = trafficFindings([hostProberLog(host, true), pods], steps, 1);
    expect(r.regressions).toEqual([
      "2 failed request(s), more than --max-failed-requests 1 (one budget for all probers): host prober 1 (1 during drain w1), in-cluster prober 1 (1 during drain w1)",
    ]);
    expect(r.notes).toContain("in-cluster prober: 1 failed during drain w1");
    expect(r.notes.some((n) => /in-cluster prober: longest outage .*in-cluster canary-prober-b/.test(n))).toBe(true);
    expect(trafficFindings([hostProberLog(host, true), pods], steps, 2).regressions).toEqual([]);
  });

  test("should name what kept the records from being read, instead of saying there were none", () => {
    const unplaced = { ...inCluster([0, 0], [0, 0]), records: [], problems: ["in-cluster prober: clock error"] };
    expect(trafficFindings([unplaced], steps, 0).regressions).toEqual(["in-cluster prober: clock error"]);
    expect(trafficFindings([{ ...unplaced, problems: [] }], steps, 0).regressions).toEqual([
      "in-cluster prober: no records: it did not run between the baseline and the compare",
    ]);
  });
});
