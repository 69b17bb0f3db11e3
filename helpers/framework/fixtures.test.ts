import { describe, expect, test } from "vitest";
import { artifactDir, testTitle } from "./fixtures.ts";
import { titleTags } from "./report.ts";

describe("fixture naming", () => {
  const file = {
    name: "suites/smoke/nginx-service.e2e.test.ts",
    filepath: "/repo/suites/smoke/nginx-service.e2e.test.ts",
  };
  const describeBlock = { name: "Smoke: nginx", suite: file };
  const task = { name: "should answer @smoke", suite: describeBlock };

  test("should title a test by its describe blocks and name", () => {
    expect(testTitle(task)).toBe("Smoke: nginx > should answer @smoke");
  });

  test("should put artifacts under reports/artifacts/<file>/<test>/", () => {
    expect(
      artifactDir("reports", `${import.meta.dirname}/../../suites/smoke/nginx-service.e2e.test.ts`, testTitle(task)),
    ).toBe("reports/artifacts/smoke/nginx-service/Smoke-nginx-should-answer-smoke");
  });

  test("should read @tags from titles", () => {
    expect(titleTags("should answer HTTP @smoke @networking")).toEqual(["smoke", "networking"]);
    expect(titleTags("mail me@example.com")).toEqual([]);
  });
});
