import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import {
  BaselineError,
  type CanarySnapshot,
  compareCanaries,
  compareMeasurements,
  compareVerdicts,
  type Measurement,
  measurementsFromJsonl,
  type PodRecord,
  readBaseline,
  runnerFailure,
  selectedBy,
  showComparison,
  verdictsFromJunit,
} from "./baseline.ts";

const JUNIT = `<?xml version="1.0"?>
<testsuites name="e2e" tests="3" failures="1" skipped="1">
  <testsuite name="suites/smoke/a.e2e.test.ts" tests="3">
    <testcase classname="suites/smoke/a.e2e.test.ts" name="A &gt; should pass" time="1.000"></testcase>
    <testcase classname="suites/smoke/a.e2e.test.ts" name="A &gt; should fail" time="1.000">
      <failure message="boom">x</failure>
    </testcase>
    <testcase classname="suites/smoke/a.e2e.test.ts" name="A &gt; should skip" time="0.000">
      <skipped message="no StorageClass"/>
    </testcase>
  </testsuite>
</testsuites>`;

describe("verdictsFromJunit", () => {
  test("should read one verdict per testcase, keyed by file and title", () => {
    expect(verdictsFromJunit(JUNIT)).toEqual({
      "suites/smoke/a.e2e.test.ts > A > should pass": "passed",
      "suites/smoke/a.e2e.test.ts > A > should fail": "failed",
      "suites/smoke/a.e2e.test.ts > A > should skip": "skipped",
    });
  });
});

describe("compareVerdicts", () => {
  test("should sort changes into regressed, fixed, changed, new and missing", () => {
    const changes = compareVerdicts(
      { a: "passed", b: "failed", c: "passed", d: "failed", e: "passed", same: "passed" },
      { a: "failed", b: "passed", c: "skipped", d: "skipped", f: "passed", same: "passed" },
    );
    expect(changes.regressed.map((c) => c.scenario)).toEqual(["a", "c"]);
    expect(changes.fixed.map((c) => c.scenario)).toEqual(["b"]);
    expect(changes.changed.map((c) => c.scenario)).toEqual(["d"]);
    expect(changes.added).toEqual([{ scenario: "f", after: "passed" }]);
    expect(changes.missing).toEqual([{ scenario: "e", before: "passed" }]);
    expect(changes.notSelected).toEqual([]);
  });

  test("should count a selected scenario without a verdict as missing, whatever its baseline verdict", () => {
    const changes = compareVerdicts({ a: "passed", b: "failed", c: "skipped" }, {});
    expect(changes.missing.map((c) => c.scenario)).toEqual(["a", "b", "c"]);
    expect(showComparison({ regressions: [], notes: [] }, changes).split("\n").at(-1)).toBe("compare: 3 regression(s)");
  });

  test("should list scenarios left out by a narrowed --suite/--tag as not selected, not as missing", () => {
    const before = {
      "suites/smoke/a.e2e.test.ts > A > should answer @smoke": "passed",
      "suites/smoke/a.e2e.test.ts > A > should scale": "passed",
      "suites/storage/b.e2e.test.ts > B > should bind @smoke": "passed",
    } as const;
    const after = { "suites/smoke/a.e2e.test.ts > A > should answer @smoke": "passed" } as const;
    const bySuite = compareVerdicts(before, after, selectedBy({ suites: ["smoke"], tags: [] }));
    expect(bySuite.missing.map((c) => c.scenario)).toEqual(["suites/smoke/a.e2e.test.ts > A > should scale"]);
    expect(bySuite.notSelected.map((c) => c.scenario)).toEqual([
      "suites/storage/b.e2e.test.ts > B > should bind @smoke",
    ]);
    const byBoth = compareVerdicts(before, after, selectedBy({ suites: ["smoke"], tags: ["smoke"] }));
    expect(byBoth.missing).toEqual([]);
    expect(byBoth.notSelected).toHaveLength(2);
    const text = showComparison({ regressions: [], notes: [] }, byBoth);
    expect(text).toContain("not selected (left out by --suite/--tag, not judged):");
    expect(text.split("\n").at(-1)).toMatch(/^compare: no regression/);
  });
});

describe("selectedBy", () => {
  test("should match tags as whole words and select everything without a selection", () => {
    expect(selectedBy({ suites: [], tags: [] })("suites/x/a.e2e.test.ts > A > b")).toBe(true);
    expect(selectedBy({ suites: [], tags: ["smoke"] })("suites/x/a.e2e.test.ts > A > b @smoke-ish")).toBe(false);
    expect(selectedBy({ suites: ["x"], tags: [] })("suites/xy/a.e2e.test.ts > A > b")).toBe(false);
  });
});

describe("runnerFailure", () => {
  test.each([
    [
      { code: 1, junitWritten: false, scenarios: 0 },
      "the runner wrote no results (junit.xml missing, vitest exit code 1)",
    ],
    [{ code: 0, junitWritten: true, scenarios: 0 }, "the runner's results hold no scenario (vitest exit code 0)"],
    [
      { code: 3, junitWritten: true, scenarios: 5 },
      "the runner failed (vitest exit code 3), its results are incomplete",
    ],
    [
      { code: 134, junitWritten: true, scenarios: 5 },
      "the runner failed (vitest exit code 134), its results are incomplete",
    ],
  ])("should name why %j cannot be judged", (run, why) => {
    expect(runnerFailure(run)).toBe(why);
  });

  test("should accept a run whose tests passed or failed", () => {
    expect(runnerFailure({ code: 0, junitWritten: true, scenarios: 1 })).toBeUndefined();
    expect(runnerFailure({ code: 1, junitWritten: true, scenarios: 1 })).toBeUndefined();
  });

  test("should make a compare with a failed runner fail, even when no scenario regressed", () => {
    const extras = {
      runner: "the runner wrote no results (junit.xml missing, vitest exit code 1)",
      measurements: [],
      drift: 2,
      driftFails: false,
    };
    const text = showComparison({ regressions: [], notes: [] }, compareVerdicts({}, {}), extras);
    expect(text.split("\n").slice(0, 2)).toEqual(["runner failed:", `  ${extras.runner}`]);
    expect(text.split("\n").at(-1)).toBe("compare: 1 regression(s)");
  });
});

describe("readBaseline", () => {
  const write = (content: object): string => {
    const file = join(mkdtempSync(join(tmpdir(), "koc-baseline-")), "b.json");
    writeFileSync(file, JSON.stringify(content));
    return file;
  };

  test("should reject a baseline without a scenario verdict", () => {
    const file = write({ format: 1, verdicts: {}, canaries: { identities: {} } });
    expect(() => readBaseline(file)).toThrowError(BaselineError);
    expect(() => readBaseline(file)).toThrowError(
      "holds no scenario verdict, so nothing can be compared; take it again",
    );
  });

  test("should read a baseline whose measurements declare no natural range (taken before ranges existed)", () => {
    const measurements = [{ scenario: "s", name: "delay", value: 900, unit: "ms" }];
    const file = write({ format: 1, verdicts: { s: "passed" }, canaries: { identities: {} }, measurements });
    const [change] = compareMeasurements(readBaseline(file).measurements ?? [], [], 2);
    expect(change).toMatchObject({ name: "delay", before: 900, expected: undefined, drifted: false });
  });

  test("should read a baseline with verdicts", () => {
    const file = write({ format: 1, verdicts: { a: "passed" }, canaries: { identities: {} } });
    expect(readBaseline(file).verdicts).toEqual({ a: "passed" });
  });
});

const m = (name: string, value: number, unit: Measurement["unit"] = "ms"): Measurement => ({
  scenario: "suites/config/u.e2e.test.ts > U > should update",
  name,
  value,
  unit,
});

describe("measurementsFromJsonl", () => {
  test("should read one measurement a line, skip broken lines and keep a retried test's last value", () => {
    const lines = [
      JSON.stringify(m("delay", 900)),
      "{not json",
      JSON.stringify({ ...m("rate", 3), unit: "furlongs" }),
      JSON.stringify(m("delay", 800)),
      "",
    ];
    expect(measurementsFromJsonl(lines.join("\n"))).toEqual([m("delay", 800)]);
  });

  test("should keep a natural range and drop one that is not [min, max]", () => {
    const lines = [
      JSON.stringify({ ...m("delay", 800), expected: [0, 100_000] }),
      JSON.stringify({ ...m("upside-down", 5), expected: [10, 1] }),
      JSON.stringify({ ...m("text", 5), expected: ["0", "9"] }),
    ];
    expect(measurementsFromJsonl(lines.join("\n"))).toEqual([
      { ...m("delay", 800), expected: [0, 100_000] },
      m("upside-down", 5),
      m("text", 5),
    ]);
  });
});

describe("compareMeasurements", () => {
  test("should flag a factor above F or below 1/F, and not one within", () => {
    const changes = compareMeasurements(
      [m("up", 1000), m("down", 1000), m("within", 1000)],
      [m("up", 2500), m("down", 400), m("within", 1900)],
      2,
    );
    expect(changes.map((c) => [c.name, c.factor, c.drifted])).toEqual([
      ["up", 2.5, true],
      ["down", 0.4, true],
      ["within", 1.9, false],
    ]);
  });

  test("should raise values to their unit's floor and not compare two values below it", () => {
    const changes = compareMeasurements(
      [m("tiny", 3), m("grew", 20), m("gaps", 0, "requests"), m("rate", 50, "req/s")],
      [m("tiny", 40), m("grew", 450), m("gaps", 5, "requests"), m("rate", 20, "req/s")],
      2,
    );
    expect(changes.map((c) => [c.name, c.factor, c.drifted])).toEqual([
      ["tiny", undefined, false], // 3 ms and 40 ms: both below the 100 ms floor
      ["grew", 4.5, true], // 450 / max(20, 100)
      ["gaps", 5, true], // 5 / max(0, 1)
      ["rate", 0.4, true],
    ]);
  });

  test("should not flag a new value inside the natural range, whatever the factor", () => {
    const expected = [0, 100_000] as const; // a volume update: the kubelet's resync, 0 to 90 s
    const [change] = compareMeasurements([{ ...m("delay", 1200), expected }], [{ ...m("delay", 84_000), expected }], 2);
    expect(change).toMatchObject({ factor: 70, expected: [0, 100_000], drifted: false });
  });

  test("should flag a new value outside the natural range by the factor, raised to the range's lower bound", () => {
    const expected = [2, 14] as const;
    const changes = compareMeasurements(
      [
        { ...m("late", 3, "s"), expected },
        { ...m("early", 3, "s"), expected },
        { ...m("near", 13, "s"), expected },
      ],
      [
        { ...m("late", 30, "s"), expected },
        { ...m("early", 0.5, "s"), expected },
        { ...m("near", 20, "s"), expected },
      ],
      2,
    );
    expect(changes.map((c) => [c.name, c.factor, c.drifted])).toEqual([
      ["late", 10, true], // 30 s, beyond 14 s and x10
      ["early", 2 / 3, false], // 0.5 s raised to 2 s: x0.67, within x1/2
      ["near", 20 / 13, false], // outside the range, but within x2
    ]);
  });

  test("should take this run's range, else the baseline's, and keep the factor rule for an old baseline", () => {
    const expected = [0, 100_000] as const;
    const [declaredNow] = compareMeasurements([m("delay", 1200)], [{ ...m("delay", 84_000), expected }], 2);
    expect(declaredNow).toMatchObject({ expected: [0, 100_000], drifted: false });
    const [declaredBefore] = compareMeasurements([{ ...m("delay", 1200), expected }], [m("delay", 84_000)], 2);
    expect(declaredBefore).toMatchObject({ expected: [0, 100_000], drifted: false });
    const [none] = compareMeasurements([m("delay", 1200)], [m("delay", 84_000)], 2);
    expect(none).toMatchObject({ expected: undefined, factor: 70, drifted: true });
  });

  test("should show the natural range beside the factor", () => {
    const expected = [0, 100_000] as const;
    const measurements = compareMeasurements(
      [{ ...m("delay", 1200), expected }],
      [{ ...m("delay", 84_000), expected }],
      2,
    );
    const reported = showComparison({ regressions: [], notes: [] }, compareVerdicts({ a: "passed" }, {}), {
      measurements,
      drift: 2,
      driftFails: true,
    });
    expect(reported).toContain("> delay: 1200 ms -> 84000 ms x70.00 [natural 0-100000 ms]\n");
  });

  test("should show a measurement the run did not take, without a factor", () => {
    const [change] = compareMeasurements([m("delay", 900)], [], 2);
    expect(change).toMatchObject({ after: undefined, factor: undefined, drifted: false });
  });

  test("should report drifts, and count them as regressions only with --drift-fails", () => {
    const measurements = compareMeasurements([m("delay", 1000), m("tiny", 3)], [m("delay", 3000), m("tiny", 9)], 2);
    const verdicts = compareVerdicts({ a: "passed" }, { a: "passed" });
    const reported = showComparison({ regressions: [], notes: [] }, verdicts, {
      measurements,
      drift: 2,
      driftFails: false,
    });
    expect(reported).toContain(
      "measurements (baseline -> now, factor; DRIFT beyond x2 or x1/2 outside the natural range: reported only):\n" +
        "  suites/config/u.e2e.test.ts > U > should update > delay: 1000 ms -> 3000 ms x3.00 DRIFT\n" +
        "  suites/config/u.e2e.test.ts > U > should update > tiny: 3 ms -> 9 ms (below the 100 ms floor)",
    );
    expect(reported.split("\n").at(-1)).toMatch(/^compare: no regression/);
    const failing = showComparison({ regressions: [], notes: [] }, verdicts, {
      measurements,
      drift: 2,
      driftFails: true,
    });
    expect(failing.split("\n").at(-1)).toBe("compare: 1 regression(s)");
  });
});

const WEB_POD: PodRecord = {
  name: "canary-web-abc-1",
  uid: "u1",
  owner: "ReplicaSet/canary-web-abc",
  node: "w1",
  nodeReadySince: "t0",
  containers: [{ name: "nginx", restarts: 0 }],
};

function snapshot(overrides: Partial<CanarySnapshot> = {}): CanarySnapshot {
  return {
    identities: { "Deployment canary-web serving ReplicaSet": "canary-web-abc (revision 1)", "sha256 of data": "d1" },
    pods: [WEB_POD],
    ...overrides,
  };
}

describe("compareCanaries", () => {
  test("should pass canaries that are the same objects with the same data", () => {
    const findings = compareCanaries(snapshot(), snapshot());
    expect(findings).toEqual({ regressions: [], notes: [] });
  });

  test("should read a baseline taken with the prober counts, which are no longer judged", () => {
    const older = { ...snapshot(), prober: { pod: "p1", ok: 10, failed: 3 } } as CanarySnapshot;
    expect(compareCanaries(older, snapshot())).toEqual({ regressions: [], notes: [] });
  });

  test("should report a new serving ReplicaSet (an unplanned rollout) and changed data as regressions", () => {
    const after = snapshot({
      identities: { "Deployment canary-web serving ReplicaSet": "canary-web-def (revision 2)", "sha256 of data": "d2" },
    });
    expect(compareCanaries(snapshot(), after).regressions).toEqual([
      "Deployment canary-web serving ReplicaSet: was canary-web-abc (revision 1), now canary-web-def (revision 2)",
      "sha256 of data: was d1, now d2",
    ]);
  });

  test("should explain restarts of a container the runtime lost, and not those that failed on their own", () => {
    const restarted = (lastTermination: string, nodeReadySince = "t0"): CanarySnapshot =>
      snapshot({
        pods: [{ ...WEB_POD, nodeReadySince, containers: [{ name: "nginx", restarts: 1, lastTermination }] }],
      });
    expect(compareCanaries(snapshot(), restarted("Unknown (exit 255)")).regressions).toEqual([]);
    expect(compareCanaries(snapshot(), restarted("Error (exit 1)", "t1")).regressions).toEqual([]);
    expect(compareCanaries(snapshot(), restarted("Error (exit 1)")).regressions).toEqual([
      "pod canary-web-abc-1 container nginx restarted 1 time(s) (last termination: Error (exit 1)); not explained by a node or runtime restart",
    ]);
  });

  test("should note a pod replaced by its owner, without calling it a regression", () => {
    const after = snapshot({ pods: [{ ...WEB_POD, name: "canary-web-abc-2", uid: "u2" }] });
    const findings = compareCanaries(snapshot(), after);
    expect(findings.regressions).toEqual([]);
    expect(findings.notes[0]).toBe("pod canary-web-abc-1 (ReplicaSet/canary-web-abc) was replaced by canary-web-abc-2");
  });
});

describe("showComparison", () => {
  test("should end with the number of regressions", () => {
    const text = showComparison(
      { regressions: ["x: was 1, now 2"], notes: [] },
      compareVerdicts({ a: "passed" }, { a: "failed" }),
    );
    expect(text).toContain("regressed (pass -> fail/skip):\n  a: passed -> failed");
    expect(text.split("\n").at(-1)).toBe("compare: 2 regression(s)");
  });
});
