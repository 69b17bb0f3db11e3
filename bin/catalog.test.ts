import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { scanSuites, tagsIn } from "./catalog.ts";

describe("catalog", () => {
  test("should find tags in test titles only", () => {
    const source = `
      describe("Probes @slow", () => {
        test("should restart @smoke @probes", async () => {});
        test.each([1])("should not @skip-me", () => {});
        // mail someone@example.com
      });`;
    expect(tagsIn(source).sort()).toEqual(["probes", "skip-me", "slow", "smoke"]);
  });

  test("should list the suites of this repository and their tags", () => {
    const catalog = scanSuites(join(import.meta.dirname, "..", "suites"));
    expect(catalog.suites).toContain("smoke");
    expect(catalog.tags).toContain("smoke");
  });

  test("should return nothing for a missing folder", () => {
    expect(scanSuites("/nonexistent")).toEqual({ suites: [], tags: [] });
  });
});
