/**
 * On purpose: with inClusterNodePortTarget taking the first node whatever its state, its two tests failed (cp,
 * NotReady, probed). With assertAnswersAroundOutage judging only that failures exist (its per-side check
 * taken out), the prober that never got an answer and the service that never came back passed: both tests
 * failed. With probe-loop.mjs writing its old record line (no version field), the loopback test failed
 * (version ""); with parseProbeLine's old field split, the three parser tests of the new form failed. With
 * assertAnsweredVersions' pod check taken out, a new pod serving v1 while old pods still answered passed;
 * with its cut-over only at the rollout's end, a new pod serving v1 after the last old pod answered passed;
 * with its version check taken out, answers without a version, v2 before the restart and an old pod after the
 * end passed: each of those tests failed. With probe-loop.mjs's `now()` leaving out --clock-shift, both
 * clock-shift tests failed (readings and records on this host's clock).
 */
import { spawnSync } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, test } from "vitest";
import {
  assertAnsweredVersions,
  assertAnswersAroundOutage,
  assertCoverage,
  assertNoFailedRequests,
  assertTestbedAddresses,
  assertVersionSwitch,
  blindSpot,
  FailedRequestsError,
  inClusterNodePortTarget,
  isFailure,
  NoAnswerError,
  outages,
  PROBE_LOOP,
  type ProbeRecord,
  parseEndLine,
  parseProbeLine,
  parseProbeLog,
  proberClockShift,
  proberRate,
  startHostProber,
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
  version: "",
});
const refused = (at: number, source = "svc"): ProbeRecord => ({
  source,
  at,
  latencyMs: 1,
  status: 0,
  pod: "",
  error: "ECONNREFUSED: connect ECONNREFUSED 10.96.0.9:80",
  version: "",
});

describe("how blind a prober was around an injected outage", () => {
  const window = { label: "outage", from: 1000, to: 1400 };

  test("a prober starting a request every 5 ms was blind 5 ms at most", () => {
    const records = Array.from({ length: 100 }, (_, i) => ok(1000 + i * 5, "p"));
    expect(blindSpot(records, "svc", window)).toBe(5);
  });

  test("a pause inside the window, or at its edges, is what counts; other probers and other times are ignored", () => {
    const paused = [ok(990, "p"), ok(1000, "p"), ok(1100, "p"), ok(1350, "p"), ok(1500, "p")];
    expect(blindSpot(paused, "svc", window)).toBe(250);
    const lateStart = [ok(1200, "p"), ok(1390, "p"), ok(1000, "p", "other")];
    expect(blindSpot(lateStart, "svc", window)).toBe(200);
  });

  test("a prober with no request in the window was blind all of it", () => {
    expect(blindSpot([ok(500, "p"), ok(2000, "p")], "svc", window)).toBe(400);
  });
});

describe("parsing prober records", () => {
  test("reads a successful request: start time, latency, status, pod, version", () => {
    expect(parseProbeLine("koc|1700000000123.456|4.5|200|production-app-7c9d4-jkl||v2.0", "svc")).toEqual({
      source: "svc",
      at: 1700000000123.456,
      latencyMs: 4.5,
      status: 200,
      pod: "production-app-7c9d4-jkl",
      error: "",
      version: "v2.0",
    });
  });

  test("reads a line of the older form, without the version field, as an answer without a version", () => {
    expect(parseProbeLine("koc|1700000000123.456|4.5|200|web-7c9d4-jkl|", "svc")).toEqual({
      source: "svc",
      at: 1700000000123.456,
      latencyMs: 4.5,
      status: 200,
      pod: "web-7c9d4-jkl",
      error: "",
      version: "",
    });
  });

  test("reads a failed request with its error and no HTTP status, in both forms", () => {
    const error = "ECONNREFUSED: connect ECONNREFUSED 10.96.0.9:80";
    const failed = { status: 0, pod: "", error, version: "" };
    expect(parseProbeLine(`koc|1700000000123.4|1.2|0||${error}|`, "svc")).toMatchObject(failed);
    expect(parseProbeLine(`koc|1700000000123.4|1.2|0||${error}`, "svc")).toMatchObject(failed);
  });

  test("refuses a line with more fields than the program writes, rather than guessing which is which", () => {
    expect(parseProbeLine("koc|1700000000123.4|1.2|200|p||v1.0|extra", "svc")).toBeUndefined();
  });

  test("ignores other lines and reads the end line", () => {
    const log = "garbage\nkoc||1|200|p|\nkoc|1700000000000|2|200|p1|\nkoc-end|2|0\n";
    expect(parseProbeLog(log, "svc")).toHaveLength(1);
    expect(parseEndLine(log)).toEqual({ started: 2, skipped: 0 });
    expect(parseEndLine("koc|1|2|200|p|")).toBeUndefined();
  });
});

describe("the prober program (probe-loop.mjs) against a loopback server", () => {
  test("sends about the asked rate on the timetable, a new connection each, one record per request", async () => {
    const connections = new Set<unknown>();
    const server = createServer((req, res) => {
      connections.add(req.socket);
      res.setHeader("X-Pod", req.headers.host === "web.test:1" ? "wrong" : `pod-${connections.size % 3}`);
      res.setHeader("X-App-Version", "v1.0|beta");
      res.end("ok");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const prober = startHostProber([`http://127.0.0.1:${port}/`], "loopback", 200, 1000);
    await new Promise((resolve) => setTimeout(resolve, 1500)); // the duration of the sample, not a wait for state
    const records = await prober.stop();
    server.close();
    const [summary] = summarize(records);
    // 300 at 200/s; a loaded machine may starve the child, so only a floor far below the timetable
    expect(summary?.total).toBeGreaterThan(60);
    expect(summary?.failed).toBe(0);
    expect(connections.size).toBe(records.length);
    expect(records[0]).toMatchObject({
      source: "loopback",
      status: 200,
      pod: expect.stringMatching(/^pod-\d$/),
      version: "v1.0 beta", // the program keeps its field separator out of a field
    });
  }, 20_000);

  test("records a refused connection as a failed request", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve)); // nothing listens on the port now
    const prober = startHostProber([`http://127.0.0.1:${port}/`], "closed", 50, 1000);
    await new Promise((resolve) => setTimeout(resolve, 300)); // the duration of the sample, not a wait for state
    const records = await prober.stop();
    expect(records.length).toBeGreaterThan(0);
    expect(records.every(isFailure)).toBe(true);
    expect(records[0]?.error).toMatch(/ECONNREFUSED/);
  }, 20_000);

  test("a bad rate is one clear line", () => {
    expect(() => proberRate({ KOC_PROBER_RATE: "fast" })).toThrowError(/KOC_PROBER_RATE must be a whole number/);
    expect(proberRate({})).toBe(200);
    expect(proberRate({ KOC_PROBER_RATE: "50" })).toBe(50);
  });
});

describe("a prober clock shifted on purpose (KOC_PROBER_CLOCK_SHIFT)", () => {
  test("reads whole milliseconds either way, 0 when unset, and refuses anything else in one line", () => {
    expect(proberClockShift({})).toBe(0);
    expect(proberClockShift({ KOC_PROBER_CLOCK_SHIFT: "500" })).toBe(500);
    expect(proberClockShift({ KOC_PROBER_CLOCK_SHIFT: "-1500" })).toBe(-1500);
    for (const raw of ["0.5", "soon", "60001"])
      expect(() => proberClockShift({ KOC_PROBER_CLOCK_SHIFT: raw }), raw).toThrowError(
        /KOC_PROBER_CLOCK_SHIFT must be a whole number of milliseconds from -60000 to 60000/,
      );
  });

  test("probe-loop.mjs --clock answers one reading per line, shifted by --clock-shift", () => {
    const before = Date.now();
    const run = spawnSync(process.execPath, [PROBE_LOOP, "--clock", "--clock-shift", "1500"], {
      input: "t\nt\n",
      encoding: "utf8",
      timeout: 10_000,
    });
    const readings = run.stdout.trim().split("\n").map(Number);
    expect(readings, run.stderr).toHaveLength(2);
    for (const r of readings) {
      expect(r * 1000).toBeGreaterThanOrEqual(before + 1500);
      expect(r * 1000).toBeLessThanOrEqual(Date.now() + 1500);
    }
  });

  test("probe-loop.mjs stamps its records with the same shifted clock", () => {
    const before = Date.now();
    const run = spawnSync(
      process.execPath,
      [PROBE_LOOP, "--rate", "50", "--timeout", "500", "--clock-shift", "-2000", "http://127.0.0.1:9/"],
      { input: "", encoding: "utf8", timeout: 10_000 },
    );
    const records = parseProbeLog(run.stdout, "shifted");
    expect(records.length, run.stderr).toBeGreaterThan(0);
    for (const r of records) {
      expect(r.at).toBeGreaterThanOrEqual(before - 2000);
      expect(r.at).toBeLessThanOrEqual(Date.now() - 2000);
    }
  });
});

describe("coverage of checked windows", () => {
  const every = (ms: number, from: number, to: number, source = "svc"): ProbeRecord[] =>
    Array.from({ length: Math.floor((to - from) / ms) }, (_, i) => ok(from + i * ms, "a", source));
  const window = { label: "set image", from: 0, to: 1000 };
  const probers = [
    { source: "svc", rate: 100 },
    { source: "host", rate: 100 },
  ];

  test("passes when every prober is dense in every window", () => {
    const records = [...every(10, 0, 1000), ...every(10, 5, 1000, "host")];
    expect(() => assertCoverage(records, [window], probers, 50)).not.toThrow();
  });

  test("a prober that recorded nothing fails, naming it", () => {
    expect(() => assertCoverage(every(10, 0, 1000), [window], probers, 50)).toThrowError(
      /host in "set image" \(1s\): recorded nothing, expected at least 25 requests \(100\/s\)/,
    );
  });

  test("too few records, and a pause longer than the bound, fail with the numbers", () => {
    const sparse = [...every(10, 0, 1000), ...every(50, 0, 1000, "host")];
    expect(() => assertCoverage(sparse, [window], probers, 50)).toThrowError(
      /host in "set image" \(1s\): recorded 20 requests, expected at least 25/,
    );
    const paused = [...every(10, 0, 1000), ...every(10, 0, 400, "host"), ...every(10, 700, 1000, "host")];
    expect(() => assertCoverage(paused, [window], probers, 50)).toThrowError(
      /host in "set image" \(1s\): largest gap between request starts 310ms from \+390ms, bound 50ms/,
    );
  });

  test("the window's edges count: a prober that stopped early leaves a gap at the end", () => {
    const early = [...every(10, 0, 1000), ...every(10, 0, 600, "host")];
    expect(() => assertCoverage(early, [window], probers, 50)).toThrowError(/largest gap .* 410ms from \+590ms/);
  });
});

describe("analysing prober records", () => {
  const records = [ok(0, "a"), ok(50, "a"), refused(100), refused(150), ok(200, "b"), ok(250, "b")];

  test("finds an outage: from the first failure to the next success", () => {
    expect(outages(records)).toEqual([
      { source: "svc", from: 100, to: 200, failed: 2, first: expect.stringContaining("ECONNREFUSED") },
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
      /Expected no failed request per prober[\s\S]*2 failed request\(s\) from \+100ms to \+200ms \(100ms; 1970-01-01T00:00:00.100Z\), first: ECONNREFUSED/,
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

describe("answers around an outage (the Recreate twin)", () => {
  const workload = (pod: string): boolean => pod.startsWith("web-");
  const recreate = (source: string) => [
    ok(0, "web-old", source),
    ok(10, "web-old", source),
    refused(20, source),
    refused(30, source),
    ok(40, "web-new", source),
  ];

  test("passes when every prober got answers from the workload before and after its outage", () => {
    expect(() =>
      assertAnswersAroundOutage([...recreate("svc"), ...recreate("host")], ["svc", "host"], workload),
    ).not.toThrow();
  });

  test("a prober that never got an answer fails, naming it, although it saw an outage", () => {
    const never = [refused(0, "host"), refused(10, "host"), refused(20, "host")];
    expect(outages(never)).toHaveLength(1);
    expect(() => assertAnswersAroundOutage([...recreate("svc"), ...never], ["svc", "host"], workload)).toThrowError(
      new NoAnswerError(
        "Expected every prober to get answers from the workload before the outage and after it:\n" +
          "  host: no HTTP 200 from a pod of the workload before its first failure (+0ms); 0 request(s) there: nothing\n" +
          "  host: no HTTP 200 from a pod of the workload after its last failure (+20ms); 0 request(s) there: nothing",
      ),
    );
  });

  test("a service that never came back fails; so do answers from pods that are not the workload's", () => {
    const gone = [ok(0, "web-old"), refused(10), refused(20)];
    expect(() => assertAnswersAroundOutage(gone, ["svc"], workload)).toThrowError(
      /svc: no HTTP 200 from a pod of the workload after its last failure \(\+20ms\); 0 request\(s\) there: nothing$/,
    );
    const stranger = [ok(0, "web-old"), refused(10), ok(20, "proxy-1"), ok(30, "proxy-2")];
    expect(() => assertAnswersAroundOutage(stranger, ["svc"], workload)).toThrowError(
      /after its last failure \(\+10ms\); 2 request\(s\) there: HTTP 200 from proxy-1 ×1, HTTP 200 from proxy-2 ×1$/,
    );
  });

  test("no failure, no records, or no prober is never a pass", () => {
    expect(() => assertAnswersAroundOutage([ok(0, "web-a")], ["svc"], workload)).toThrowError(/svc: no failed request/);
    expect(() => assertAnswersAroundOutage([ok(0, "web-a")], ["svc", "host"], workload)).toThrowError(
      /host: recorded nothing/,
    );
    expect(() => assertAnswersAroundOutage([], [], workload)).toThrowError(/no prober to judge/);
  });
});

describe("the version every answer says it is, across a rollout restart", () => {
  const answer = (at: number, pod: string, version: string, source = "svc"): ProbeRecord => ({
    ...ok(at, pod, source),
    version,
  });
  const rollout = {
    from: "v1.0",
    to: "v2.0",
    started: 100,
    completed: 200,
    sideOf: (pod: string) =>
      (pod.startsWith("old") ? "from" : pod.startsWith("new") ? "to" : undefined) as "from" | "to" | undefined,
  };
  const good = (source = "svc") => [
    answer(0, "old-a", "v1.0", source),
    answer(50, "old-b", "v1.0", source),
    answer(110, "old-a", "v1.0", source),
    answer(120, "new-a", "v2.0", source),
    refused(125, source),
    answer(130, "old-b", "v1.0", source),
    answer(140, "new-b", "v2.0", source),
    answer(210, "new-a", "v2.0", source),
  ];

  test("accepts v1 before, both while old and new pods answer, and v2 once only new pods do", () => {
    expect(() => assertAnsweredVersions([...good(), ...good("host")], ["svc", "host"], rollout)).not.toThrow();
  });

  test("a new pod serving the old content after the last old pod answered fails, naming the pod", () => {
    const records = [...good(), answer(150, "new-b", "v1.0")];
    expect(() => assertAnsweredVersions(records, ["svc"], rollout)).toThrowError(
      new VersionSwitchError(
        "Expected every answer to say v1.0 before the rollout, v1.0 or v2.0 during it, and v2.0 once only new pods answered:\n" +
          "  svc, once only new pods answered (after +30ms): answers other than v2.0: v1.0 ×1 from new-b, first at +50ms\n" +
          "  svc: pods answering another version than their ReplicaSet's: v1.0 ×1 from new-b, first at +50ms",
      ),
    );
  });

  test("a new pod serving the old content while old pods still answer fails too: it is not counted as new", () => {
    const records = [...good(), answer(115, "new-b", "v1.0")];
    expect(() => assertAnsweredVersions(records, ["svc"], rollout)).toThrowError(
      /^Expected [^\n]*\n {2}svc: pods answering another version than their ReplicaSet's: v1.0 ×1 from new-b, first at \+15ms$/,
    );
  });

  test("an old pod still answering after the rollout completed fails", () => {
    const records = [...good(), answer(220, "old-a", "v1.0")];
    expect(() => assertAnsweredVersions(records, ["svc"], rollout)).toThrowError(
      /once only new pods answered \(after \+100ms\): answers other than v2.0: v1.0 ×1 from old-a, first at \+120ms/,
    );
  });

  test("an answer without a version, or v2 before the restart, is never accepted", () => {
    const unversioned = [...good(), answer(115, "stranger", "")];
    expect(() => assertAnsweredVersions(unversioned, ["svc"], rollout)).toThrowError(
      /during the rollout: answers other than v1.0 or v2.0: no version ×1 from stranger, first at \+15ms/,
    );
    const early = [answer(10, "old-a", "v2.0"), ...good()];
    expect(() => assertAnsweredVersions(early, ["svc"], rollout)).toThrowError(
      /before the rollout: answers other than v1.0: v2.0 ×1 from old-a, first at -90ms/,
    );
  });

  test("no answer before the restart or after it, or no prober, is never a pass", () => {
    const none = good().filter((r) => r.at >= 100 && r.at < 135);
    expect(() => assertAnsweredVersions(none, ["svc"], rollout)).toThrowError(
      /svc, before the rollout: no answer, so nothing was judged\n {2}svc, once only new pods answered \(after \+30ms\): no answer, so nothing was judged$/,
    );
    expect(() => assertAnsweredVersions(good(), [], rollout)).toThrowError(/no prober to judge/);
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
  test("an answer from a pod of no known version fails the switch, even between known ones", () => {
    const records = [ok(0, "a"), ok(1, "stranger"), ok(2, "b")];
    expect(() => assertVersionSwitch(records, versionOf, { from: "old", to: "new" })).toThrowError(
      /answers from other versions: unknown pod stranger/,
    );
  });
});

describe("the NodePort probed from the prober pod (no node network published)", () => {
  const address = (name: string, ip: string, notReady = "") => ({
    name,
    address: ip,
    ready: notReady === "",
    notReady,
  });

  test("goes to the first Ready node by name, and names the nodes left out", () => {
    const nodes = [
      address("w2", "10.0.0.3"),
      address("cp", "10.0.0.1", "NotReady (Kubelet stopped posting node status)"),
      address("w1", "10.0.0.2"),
    ];
    expect(inClusterNodePortTarget(nodes, 31234)).toEqual({
      url: "http://10.0.0.2:31234/",
      node: "w1",
      leftOut: ["cp (10.0.0.1): NotReady (Kubelet stopped posting node status)"],
    });
  });

  test("refuses when no node is Ready, naming them", () => {
    expect(() => inClusterNodePortTarget([address("cp", "10.0.0.1", "NotReady (Ready=False)")], 31234)).toThrowError(
      "no Ready node to probe NodePort 31234 on; left out, not Ready: cp (10.0.0.1): NotReady (Ready=False)",
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
