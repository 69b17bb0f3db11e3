import { describe, expect, test } from "vitest";
import {
  assertNoFailedRequests,
  assertTestbedAddresses,
  assertVersionSwitch,
  FailedRequestsError,
  outages,
  type ProbeRecord,
  parseProbeLine,
  parseProbeLog,
  parseStartTime,
  probeLoopScript,
  summarize,
  VersionSwitchError,
  versionSegments,
} from "./prober.ts";

const ok = (at: number, pod: string, source = "svc"): ProbeRecord => ({
  source,
  at,
  latencyMs: 2,
  status: 200,
  pod,
  error: "",
});
const refused = (at: number, source = "svc"): ProbeRecord => ({
  source,
  at,
  latencyMs: 1,
  status: 0,
  pod: "",
  error: "curl exit 7: Failed to connect to web port 80: Connection refused",
});

describe("parsing prober records", () => {
  test("reads a successful request: start time in ns, status, latency, pod", () => {
    expect(parseProbeLine("koc|1700000000123456789|0|200|0.004512|web-7c9d4-jkl|", "svc")).toEqual({
      source: "svc",
      at: 1700000000123.456,
      latencyMs: 4.5,
      status: 200,
      pod: "web-7c9d4-jkl",
      error: "",
    });
  });

  test("reads a failed request with curl's error and no HTTP status", () => {
    const record = parseProbeLine("koc|1700000000123456789|7|000|0.001|| Failed to connect: Connection refused", "svc");
    expect(record).toMatchObject({ status: 0, pod: "", error: "curl exit 7: Failed to connect: Connection refused" });
  });

  test("accepts start times in ms or s (a date without %N) and ignores other lines", () => {
    expect(parseStartTime("1700000000123")).toBe(1700000000123);
    expect(parseStartTime("1700000000N")).toBe(1700000000000);
    expect(parseStartTime("soon")).toBeNaN();
    expect(parseProbeLog("garbage\nkoc|1700000000000|0|200|0.002|p1|\nkoc-end\n", "svc")).toHaveLength(1);
  });

  test("the probe loop refuses URLs it would have to quote", () => {
    expect(() => probeLoopScript("http://web/'; rm -rf /", "/tmp/x", { intervalMs: 20, timeoutMs: 5000 })).toThrow(
      /characters the probe loop does not quote/,
    );
    expect(probeLoopScript("http://web.ns.svc/", "/tmp/x", { intervalMs: 20, timeoutMs: 5000 })).toContain(
      "--max-time 5.000 -H 'Connection: close'",
    );
  });
});

describe("analysing prober records", () => {
  const records = [ok(0, "a"), ok(50, "a"), refused(100), refused(150), ok(200, "b"), ok(250, "b")];

  test("finds an outage: from the first failure to the next success", () => {
    expect(outages(records)).toEqual([
      { source: "svc", from: 100, to: 200, failed: 2, first: expect.stringContaining("Connection refused") },
    ]);
  });

  test("summarizes rate, time resolution and longest outage", () => {
    const [summary] = summarize(records);
    expect(summary).toMatchObject({ total: 6, failed: 2, medianGapMs: 50, maxGapMs: 50, longestOutageMs: 100 });
    expect(summary?.rate).toBeCloseTo(6000 / 252, 1);
  });

  test("strict by default: one failed request fails, and the message names the outage", () => {
    expect(() => assertNoFailedRequests(records)).toThrowError(FailedRequestsError);
    expect(() => assertNoFailedRequests(records)).toThrowError(
      /Expected no failed request per prober[\s\S]*2 failed request\(s\) from \+100ms for 100ms, first: curl exit 7/,
    );
    expect(() => assertNoFailedRequests([ok(0, "a"), ok(10, "b")])).not.toThrow();
  });

  test("a threshold allows a share of failures per source", () => {
    expect(() => assertNoFailedRequests(records, { maxFailureRatio: 0.4 })).not.toThrow();
    expect(() => assertNoFailedRequests(records, { maxFailureRatio: 0.3 })).toThrowError(/at most 30.00%/);
  });

  test("no records at all is a failure, not a pass", () => {
    expect(() => assertNoFailedRequests([])).toThrowError(/no requests were recorded/);
  });

  test("an answer without the X-Pod header counts as failed", () => {
    expect(() => assertNoFailedRequests([ok(0, "")])).toThrowError(/HTTP 200 without X-Pod header/);
  });
});

describe("version switches", () => {
  const versionOf = (pod: string): string | undefined => ({ a: "old", b: "new" })[pod];

  test("merges consecutive answers of one version into segments", () => {
    const segments = versionSegments([ok(0, "a"), ok(1, "a"), ok(2, "b"), ok(3, "a"), ok(4, "b")], versionOf);
    expect(segments.map((s) => `${s.version}×${s.answers}`)).toEqual(["old×2", "new×1", "old×1", "new×1"]);
  });

  test("accepts old → interleaved → new", () => {
    expect(() =>
      assertVersionSwitch([ok(0, "a"), ok(2, "b"), ok(3, "a"), ok(4, "b")], versionOf, { from: "old", to: "new" }),
    ).not.toThrow();
  });

  test("fails when the new version never answered last, naming what answered", () => {
    expect(() =>
      assertVersionSwitch([ok(0, "a"), ok(2, "b"), ok(3, "a")], versionOf, { from: "old", to: "new" }),
    ).toThrowError(VersionSwitchError);
    expect(() => assertVersionSwitch([ok(0, "a"), ok(1, "c")], versionOf, { from: "old", to: "new" })).toThrowError(
      /last answers came from unknown pod c[\s\S]*answered old ×1 → unknown pod c ×1/,
    );
  });
});

describe("network safety for requests from this host", () => {
  test("refuses without the test bed's ConfigMap, and for addresses outside its network", () => {
    expect(() => assertTestbedAddresses(["172.19.0.2"], undefined)).toThrowError(/does not exist/);
    expect(() => assertTestbedAddresses(["172.19.0.2", "8.8.8.8"], "172.19.0.0/16")).toThrowError(
      /refusing to send requests from this host to 8.8.8.8: not inside the test bed's nodeNetwork 172.19.0.0\/16/,
    );
    expect(() => assertTestbedAddresses([], "172.19.0.0/16")).toThrowError(/no node addresses/);
    expect(() => assertTestbedAddresses(["172.19.0.2"], "172.19.0.0/16")).not.toThrow();
  });
});
