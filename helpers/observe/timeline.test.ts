/**
 * Timelines, bounds, limits with a tolerance, and sampling.
 * On purpose: assertLimit made to ignore the tolerance's count (returning every run within by and forMs)
 * turned "should tolerate short overshoots only as many times as the tolerance counts" red.
 */
import { describe, expect, test } from "vitest";
import { assertBound, assertLimit, BoundViolationError, extremes, sampleWhile, Timeline } from "./timeline.ts";

type Counts = { pods: number; ready: number };
const show = (c: Counts): string => `pods=${c.pods} ready=${c.ready}`;

function timelineOf(values: Counts[]): Timeline<Counts> {
  const timeline = new Timeline<Counts>("rollout of web", 0);
  values.forEach((v, i) => {
    timeline.record(v, i * 500);
  });
  return timeline;
}

describe("timelines and bounds", () => {
  const rollout = timelineOf([
    { pods: 3, ready: 3 },
    { pods: 4, ready: 3 },
    { pods: 5, ready: 3 },
    { pods: 4, ready: 4 },
    { pods: 3, ready: 3 },
  ]);

  test("should pass a bound that holds at every sample", () => {
    expect(() => assertBound(rollout, { description: "ready >= 3", holds: (c) => c.ready >= 3, show })).not.toThrow();
  });

  test("should name the bound, the time, the sample and its neighbours on a violation", () => {
    const bound = { description: "pods <= replicas + maxSurge (4)", holds: (c: Counts) => c.pods <= 4, show };
    expect(() => assertBound(rollout, bound, 1)).toThrowError(BoundViolationError);
    expect(() => assertBound(rollout, bound, 1)).toThrowError(
      [
        'rollout of web: "pods <= replicas + maxSurge (4)" violated at +1s (sample 3 of 5): pods=5 ready=3',
        "  +500ms  pods=4 ready=3",
        "> +1s  pods=5 ready=3",
        "  +1.5s  pods=4 ready=4",
      ].join("\n"),
    );
  });

  test("should tolerate short overshoots only as many times as the tolerance counts", () => {
    const blips = timelineOf([
      { pods: 4, ready: 3 },
      { pods: 5, ready: 3 },
      { pods: 4, ready: 3 },
      { pods: 5, ready: 3 },
      { pods: 4, ready: 3 },
    ]);
    const limit = { description: "pods <= 4", measure: (c: Counts) => c.pods, limit: 4, show };
    expect(assertLimit(blips, limit, { by: 1, forMs: 500, count: 2 }).map((r) => r.first)).toEqual([1, 3]);
    expect(() => assertLimit(blips, limit, { by: 1, forMs: 500, count: 1 })).toThrowError(
      [
        'rollout of web: "pods <= 4" exceeded 2 times, more than the 1 tolerated:',
        "1. exceeded by 1 for 500ms from +500ms (samples 2–2 of 5); peak: pods=5 ready=3",
        "2. exceeded by 1 for 500ms from +1.5s (samples 4–4 of 5); peak: pods=5 ready=3",
      ].join("\n"),
    );
  });

  test("should refuse to pass a bound over no samples", () => {
    expect(() =>
      assertBound(new Timeline<Counts>("empty"), { description: "x", holds: () => true, show }),
    ).toThrowError('empty: no samples, so "x" was never checked');
  });

  test("should find the peak and the trough", () => {
    const found = extremes(rollout, (c) => c.pods);
    expect(found?.max.value.pods).toBe(5);
    expect(found?.min.at).toBe(0);
    expect(extremes(new Timeline<Counts>("e"), (c) => c.pods)).toBeUndefined();
  });

  test("should sample while work runs and once after it finished", async () => {
    const timeline = new Timeline<number>("counter");
    let n = 0;
    let finish: (v: string) => void = () => {};
    const work = new Promise<string>((resolve) => {
      finish = resolve;
    });
    const sampling = sampleWhile(
      timeline,
      async () => {
        n++;
        if (n === 3) finish("done");
        return n;
      },
      1,
      work,
    );
    await expect(sampling).resolves.toBe("done");
    expect(timeline.samples.map((s) => s.value)).toEqual([1, 2, 3, 4]);
  });

  test("should throw the work's error after sampling stopped", async () => {
    const timeline = new Timeline<number>("x");
    await expect(sampleWhile(timeline, async () => 1, 1, Promise.reject(new Error("rollout failed")))).rejects.toThrow(
      "rollout failed",
    );
  });
});
