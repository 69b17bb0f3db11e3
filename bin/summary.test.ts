import { describe, expect, test } from "vitest";
import { commonFailure, countsFromJunit, summaryLine } from "./summary.ts";

describe("run summary", () => {
  test("counts passed, failed (failures + errors) and skipped from the root element", () => {
    const xml = `<?xml version="1.0"?>\n<testsuites name="x" tests="7" failures="1" errors="1" skipped="2" time="3">
      <testsuite tests="7" failures="1" errors="1" skipped="2"/></testsuites>`;
    expect(countsFromJunit(xml)).toEqual({ passed: 3, failed: 2, skipped: 2 });
  });

  test("says nothing ran when there is no <testsuites> element", () => {
    expect(countsFromJunit("<?xml version='1.0'?>")).toBeUndefined();
  });

  test("prints the plain closing line CI reads", () => {
    expect(summaryLine({ passed: 12, failed: 0, skipped: 1 })).toBe("e2e: 12 passed, 0 failed, 1 skipped");
  });
});

describe("commonFailure", () => {
  const junit = (...bodies: string[]): string =>
    `<testsuites>${bodies.map((b, i) => `<testcase classname="f" name="t${i}"${b === "" ? "/>" : `>${b}</testcase>`}`).join("")}</testsuites>`;
  const failure = (message: string): string => `<failure message="${message}" type="Error">x</failure>`;

  test("should name the failure every test shared, whatever the namespace and the numbers", () => {
    const xml = junit(
      failure("Timed out after 30s waiting for: ServiceAccount koc-smoke-abcde/default exists&#10;  last seen"),
      failure("Timed out after 31s waiting for: ServiceAccount koc-probes-xyz12/default exists"),
      '<skipped message="no RWX"/>',
    );
    expect(commonFailure(xml)).toBe("Timed out after 30s waiting for: ServiceAccount koc-smoke-abcde/default exists");
  });

  test("should say nothing when one test passed or the failures differ", () => {
    expect(commonFailure(junit(failure("a"), ""))).toBeUndefined();
    expect(commonFailure(junit(failure("a"), failure("b")))).toBeUndefined();
    expect(commonFailure(junit(failure("a")))).toBeUndefined();
  });
});
