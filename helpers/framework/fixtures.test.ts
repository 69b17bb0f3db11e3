/**
 * On purpose: with skipWhileRunning's "ended" check taken out, its test failed (a skip after the body ended went
 * through, which vitest would have reported as a skipped test whatever its result).
 */
import { describe, expect, test } from "vitest";
import { type AfterTest, afterTest, artifactDir, skipWhileRunning, testTitle } from "./fixtures.ts";
import { CleanupStack } from "./namespace.ts";
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

describe("after a test (the ns fixture's teardown)", () => {
  /** The teardown's steps, each noting itself in `done`; undo steps "undo 1", "undo 2" registered in order. */
  function steps(failed: boolean, keepOnFailure: boolean, failingUndo?: string): { steps: AfterTest; done: string[] } {
    const done: string[] = [];
    const undo = new CleanupStack();
    for (const name of ["undo 1", "undo 2"]) {
      undo.push(name, async () => {
        done.push(name);
        if (name === failingUndo) throw new Error("the StorageClass is still in use");
      });
    }
    const note = (what: string) => async () => void done.push(what);
    return {
      steps: { failed, keepOnFailure, undo, diagnose: note("diagnose"), keep: note("keep"), remove: note("delete") },
      done,
    };
  }

  test("should collect diagnostics of a failed test before undoing anything, then delete the namespace", async () => {
    const { steps: s, done } = steps(true, false);
    await afterTest(s);
    expect(done).toEqual(["diagnose", "undo 2", "undo 1", "delete"]);
  });

  test("should keep a failed test's namespace when asked, after the undo steps", async () => {
    const { steps: s, done } = steps(true, true);
    await afterTest(s);
    expect(done).toEqual(["diagnose", "undo 2", "undo 1", "keep"]);
  });

  test("should neither diagnose nor keep a passed test's namespace, even when keeping is on", async () => {
    const { steps: s, done } = steps(false, true);
    await afterTest(s);
    expect(done).toEqual(["undo 2", "undo 1", "delete"]);
  });

  test("should run every undo step and delete the namespace before reporting an undo failure", async () => {
    const { steps: s, done } = steps(false, false, "undo 2");
    await expect(afterTest(s)).rejects.toThrow(
      "cleanup after the test failed:\n  undo 2: the StorageClass is still in use",
    );
    expect(done).toEqual(["undo 2", "undo 1", "delete"]);
  });
});

describe("a helper's skip (TestNamespace.skip)", () => {
  test("skips while the body runs, and refuses once it has ended, so a finished result is never hidden", () => {
    let ended = false;
    const notes: string[] = [];
    const skip = skipWhileRunning(
      (note?: string): never => {
        notes.push(note ?? "");
        throw new Error("skipped");
      },
      () => ended,
    );
    expect(() => skip("Pod Security refuses hostPath")).toThrowError("skipped");
    ended = true;
    expect(() => skip("Pod Security refuses hostPath")).toThrowError(
      "refused to skip after the test's body ended (it would hide the result): Pod Security refuses hostPath",
    );
    expect(notes).toEqual(["Pod Security refuses hostPath"]);
  });
});
