import { describe, expect, test } from "vitest";
import { parseTimeoutScale } from "./config.ts";
import { BASE_TIMEOUTS, formatDuration, scaledTimeouts, T } from "./timeouts.ts";

describe("timeouts", () => {
  test("should default the scale to 1 and accept decimals", () => {
    expect(parseTimeoutScale(undefined)).toBe(1);
    expect(parseTimeoutScale(" ")).toBe(1);
    expect(parseTimeoutScale("2.5")).toBe(2.5);
  });

  test.each(["0", "-1", "abc", "21", "Infinity"])("should reject KOC_TIMEOUT_SCALE=%s with what to fix", (raw) => {
    expect(() => parseTimeoutScale(raw)).toThrowError(
      `KOC_TIMEOUT_SCALE must be a number > 0 and <= 20 (e.g. 2.5), got "${raw}"`,
    );
  });

  test("should scale every deadline and round to whole milliseconds", () => {
    const scaled = scaledTimeouts(1.5);
    expect(scaled.rollout).toBe(BASE_TIMEOUTS.rollout * 1.5);
    expect(scaled.httpRequest).toBe(7_500);
    expect(Object.keys(scaled)).toEqual(Object.keys(BASE_TIMEOUTS));
    expect(Object.isFrozen(scaled)).toBe(true);
  });

  test("should read the scale on first use, not at import, and list every entry", () => {
    expect(Object.keys(T)).toEqual(Object.keys(BASE_TIMEOUTS));
    expect(T.rollout).toBe(scaledTimeouts(parseTimeoutScale(process.env.KOC_TIMEOUT_SCALE)).rollout);
  });

  test("should format durations for messages", () => {
    expect(formatDuration(750)).toBe("750ms");
    expect(formatDuration(4_210)).toBe("4.2s");
    expect(formatDuration(60_000)).toBe("1m");
    expect(formatDuration(125_000)).toBe("2m 5s");
  });
});
