import { describe, expect, test } from "vitest";
import {
  type CanarySnapshot,
  compareCanaries,
  compareVerdicts,
  type PodRecord,
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
  test("should sort changes into regressed, fixed, changed, new and gone", () => {
    const changes = compareVerdicts(
      { a: "passed", b: "failed", c: "passed", d: "failed", e: "passed", same: "passed" },
      { a: "failed", b: "passed", c: "skipped", d: "skipped", f: "passed", same: "passed" },
    );
    expect(changes.regressed.map((c) => c.scenario)).toEqual(["a", "c"]);
    expect(changes.fixed.map((c) => c.scenario)).toEqual(["b"]);
    expect(changes.changed.map((c) => c.scenario)).toEqual(["d"]);
    expect(changes.added).toEqual([{ scenario: "f", after: "passed" }]);
    expect(changes.gone).toEqual([{ scenario: "e", before: "passed" }]);
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
    prober: { pod: "p1", ok: 10, failed: 0 },
    ...overrides,
  };
}

describe("compareCanaries", () => {
  test("should pass canaries that are the same objects with the same data", () => {
    const findings = compareCanaries(snapshot(), snapshot({ prober: { pod: "p1", ok: 70, failed: 2 } }));
    expect(findings.regressions).toEqual([]);
    expect(findings.notes).toContain(
      "prober: 60 request(s) answered, 2 failed since the baseline (each failure is in its pod's log)",
    );
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
