import { describe, expect, test } from "vitest";
import { cpuWindow, parseCgroupView } from "./cgroup-view.ts";

const V1 = `version 1
memory.limit_in_bytes 67108864
cpu.cfs_quota_us 10000
cpu.cfs_period_us 100000
cpu.shares 102
cpuacct.usage 2500000000
cpu.stat nr_periods 120
cpu.stat nr_throttled 80
cpu.stat throttled_time 123456
oom_score_adj -997
uptime 12345.67
`;

const V2 = `version 2
memory.max max
cpu.max max 100000
cpu.weight 1
cpu.stat usage_usec 1500
cpu.stat user_usec 1000
cpu.stat system_usec 500
cpu.stat nr_periods 0
cpu.stat nr_throttled 0
cpu.stat throttled_usec 0
oom_score_adj 1000
uptime 99.5
`;

describe("parseCgroupView", () => {
  test("reads cgroup v1 files, usage in microseconds", () => {
    expect(parseCgroupView(V1)).toEqual({
      version: 1,
      memoryLimitBytes: 67108864,
      cpuQuotaUs: 10000,
      cpuPeriodUs: 100000,
      cpuLimitMillis: 100,
      cpuWeight: "cpu.shares 102",
      usageUs: 2500000,
      periods: 120,
      throttled: 80,
      oomScoreAdj: -997,
      uptimeMs: 12345670,
    });
  });

  test("reads cgroup v2 files; max means no limit", () => {
    const view = parseCgroupView(V2);
    expect(view).toMatchObject({ version: 2, memoryLimitBytes: null, cpuQuotaUs: null, cpuLimitMillis: null });
    expect(view.cpuWeight).toBe("cpu.weight 1");
    expect(view.oomScoreAdj).toBe(1000);
  });

  test("v1 unlimited memory and quota -1 are no limit", () => {
    const view = parseCgroupView(
      V1.replace("67108864", "9223372036854771712").replace("cpu.cfs_quota_us 10000", "cpu.cfs_quota_us -1"),
    );
    expect(view.memoryLimitBytes).toBeNull();
    expect(view.cpuLimitMillis).toBeNull();
  });

  test("v2 quota in millicores", () => {
    expect(parseCgroupView(V2.replace("cpu.max max 100000", "cpu.max 20000 100000")).cpuLimitMillis).toBe(200);
  });

  test("a missing file is an error naming it, never a zero", () => {
    expect(() => parseCgroupView(V1.replace("oom_score_adj -997", "oom_score_adj "))).toThrow(/oom_score_adj/);
    expect(() => parseCgroupView(V2.replace(/cpu.stat nr_throttled 0\n/, ""))).toThrow(/nr_throttled/);
    expect(() => parseCgroupView("version 3\n")).toThrow();
  });
});

describe("cpuWindow", () => {
  const at = (uptimeMs: number, periods: number, throttled: number, usageUs: number) => ({
    ...parseCgroupView(V1),
    uptimeMs,
    periods,
    throttled,
    usageUs,
  });

  test("a container busy all along: every period counted, usage at its limit over the wall time", () => {
    const w = cpuWindow(at(10_000, 100, 50, 1_000_000), at(20_000, 200, 148, 2_000_000));
    expect(w).toMatchObject({ wallMs: 10_000, wallPeriods: 100, periods: 100, throttled: 98, usedMillis: 100 });
    expect(w.runnableShare).toBe(1);
  });

  test("an idle container read by execs: few periods counted, little cpu over the wall time", () => {
    // the figures a sleeping container showed on the test bed: 76 periods (21 throttled) in about 30 s
    const w = cpuWindow(at(0, 0, 0, 0), at(30_000, 76, 21, 330_000));
    expect(w.runnableShare).toBeCloseTo(0.25, 2);
    expect(w.usedMillis).toBe(11);
  });

  test("readings out of order are an error, not a window", () => {
    expect(() => cpuWindow(at(5_000, 0, 0, 0), at(5_000, 1, 0, 0))).toThrow(/not later/);
  });
});
