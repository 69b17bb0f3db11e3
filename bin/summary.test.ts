import { describe, expect, test } from "vitest";
import { countsFromJunit, summaryLine } from "./summary.ts";

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
