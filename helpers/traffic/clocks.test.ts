/**
 * Clock offsets: the NTP-style estimate from round trips, the tolerance rule, and records moved onto this
 * host's clock.
 *
 * On purpose: with the estimate taken from the first round trip instead of the shortest, "keeps the round
 * trip with the least doubt" failed (offset 23 ms, not 3); with assertClockUsable comparing only |offset|
 * (uncertainty left out), "beyond the bound by its uncertainty" and the default-bounds test passed clocks
 * they must refuse; with toRunnerClock adding the offset instead of subtracting it, a time read on a clock
 * 1 s ahead came out 1 s later, not earlier, in both tests on records; with measureClock reading its
 * round trip's `received` before the answer came, the fake pod 250 ms ahead was refused; with
 * assertClockHeld comparing the offsets without their uncertainties, the 55 ms move within 3 + 2 + 50 ms
 * was refused.
 */
import { EventEmitter } from "node:events";
import type { Readable, Writable } from "node:stream";
import { describe, expect, test } from "vitest";
import { fakeNamespace } from "../framework/testing.ts";
import {
  assertClockHeld,
  assertClockUsable,
  type ClockSample,
  ClockSkewError,
  estimateClock,
  inRunnerClock,
  measureClock,
  type NodeClock,
  parseReading,
  RUNNER_CLOCK,
  showClock,
  toPodClock,
  toRunnerClock,
} from "./clocks.ts";

const T0 = 1_764_455_000_000;

/** A round trip sent at `sent`, taking `rtt` ms, answered by a clock `offset` ahead at its middle. */
function sample(sent: number, rtt: number, offset: number): ClockSample {
  return { sent, reading: sent + rtt / 2 + offset, received: sent + rtt };
}

describe("estimateClock", () => {
  test("keeps the round trip with the least doubt: offset from its middle, uncertainty half of it plus 1 ms", () => {
    const clock = estimateClock("node w1 (pod prober)", [
      // a slow first round trip (the responder starting) whose answer came late: a wrong offset
      { sent: T0, reading: T0 + 80 + 3, received: T0 + 120 },
      sample(T0 + 200, 6, 3),
      sample(T0 + 300, 2, 3),
      sample(T0 + 400, 9, 3),
    ]);
    expect(clock).toEqual({ where: "node w1 (pod prober)", offsetMs: 3, uncertaintyMs: 2, samples: 4 });
  });

  test("a clock behind this host's has a negative offset", () => {
    expect(estimateClock("n", [sample(T0, 4, -1500)]).offsetMs).toBe(-1500);
  });

  test("ignores answers that are not readings and round trips that run backwards", () => {
    const clock = estimateClock("n", [
      { sent: T0, reading: Number.NaN, received: T0 + 1 },
      { sent: T0 + 10, reading: T0 + 5, received: T0 + 5 - 1 }, // this host's clock stepped back
      sample(T0 + 20, 10, 7),
    ]);
    expect(clock).toMatchObject({ offsetMs: 7, uncertaintyMs: 6, samples: 1 });
  });

  test("no reading at all is an environment error naming the node, never an offset of 0", () => {
    expect(() => estimateClock("node w2 (pod web-1)", [])).toThrowError(ClockSkewError);
    expect(() =>
      estimateClock("node w2 (pod web-1)", [{ sent: T0, reading: Number.NaN, received: T0 + 1 }]),
    ).toThrowError("the clock of node w2 (pod web-1) could not be read (1 round trip(s), none with a reading)");
  });
});

describe("parseReading", () => {
  test("reads epoch seconds with decimals (date +%s.%N, probe-loop.mjs --clock) as epoch ms", () => {
    expect(parseReading("1764455000.123456789\n")).toBeCloseTo(T0 + 123.456789, 3);
    expect(parseReading("1764455000.123000")).toBeCloseTo(T0 + 123, 6);
  });

  test("anything else is no reading (a date without %N, an error), not a time", () => {
    for (const line of ["1764455000.%N", "1764455000", "", "sh: date: not found", "-1764455000.1"])
      expect(parseReading(line), line).toBeNaN();
  });
});

describe("assertClockUsable", () => {
  const tolerance = { skewMs: 1000, uncertaintyMs: 50 };
  const clock = (offsetMs: number, uncertaintyMs: number): NodeClock => ({
    where: "node w1 (pod prober)",
    offsetMs,
    uncertaintyMs,
    samples: 8,
  });

  test("passes a clock within the bounds, either way off", () => {
    expect(assertClockUsable(clock(950, 50), tolerance).offsetMs).toBe(950);
    expect(assertClockUsable(clock(-500, 3), tolerance).offsetMs).toBe(-500);
  });

  test("beyond the bound by its offset: ClockSkewError naming the node, offset, uncertainty and bound", () => {
    expect(() => assertClockUsable(clock(1500, 2), tolerance)).toThrowError(ClockSkewError);
    expect(() => assertClockUsable(clock(-1500, 2), tolerance)).toThrowError(
      "the clock of node w1 (pod prober): -1500.0ms ± 2.0ms (best of 8 round trips) is off this host's by more " +
        "than the 1000ms its timestamps are corrected by (BOUNDS.clockSkew)",
    );
  });

  test("beyond the bound by its uncertainty: the offset alone is within, offset plus uncertainty is not", () => {
    expect(() => assertClockUsable(clock(990, 20), tolerance)).toThrowError(ClockSkewError);
  });

  test("too uncertain to place a 300 ms outage: ClockSkewError naming the bound", () => {
    expect(() => assertClockUsable(clock(0, 80), tolerance)).toThrowError(
      "is known only to within more than 50ms (BOUNDS.clockUncertainty)",
    );
  });

  test("an unknown offset is refused, never taken for 0", () => {
    expect(() => assertClockUsable(clock(Number.NaN, 1), tolerance)).toThrowError("is not known");
    expect(() => assertClockUsable(clock(0, Number.POSITIVE_INFINITY), tolerance)).toThrowError(ClockSkewError);
  });

  test("the default bounds are BOUNDS.clockSkew and BOUNDS.clockUncertainty", () => {
    expect(() => assertClockUsable(clock(999, 2))).toThrowError(ClockSkewError);
    expect(() => assertClockUsable(clock(0, 51))).toThrowError(ClockSkewError);
    expect(assertClockUsable(clock(-900, 49)).offsetMs).toBe(-900);
  });
});

describe("assertClockHeld", () => {
  const at = (offsetMs: number, uncertaintyMs = 2): NodeClock => ({
    where: "node w1",
    offsetMs,
    uncertaintyMs,
    samples: 8,
  });

  test("an offset that moved by no more than both uncertainties plus the drift allowance holds", () => {
    expect(() => assertClockHeld(at(500), at(500.4))).not.toThrow();
    expect(() => assertClockHeld(at(500, 3), at(555, 2), 50)).not.toThrow();
    expect(() => assertClockHeld(at(500, 3), at(445, 2), 50)).not.toThrow();
  });

  test("a clock stepped or slewed meanwhile is ClockSkewError naming the node, both offsets and the allowance", () => {
    expect(() => assertClockHeld(at(500, 3), at(556, 2), 50)).toThrowError(ClockSkewError);
    expect(() => assertClockHeld(at(0), at(-130))).toThrowError(
      "the clock of node w1 moved by -130.0ms while its records were taken (from +0.0ms ± 2.0ms to -130.0ms ± 2.0ms), " +
        "more than the 54.0ms both measurements and BOUNDS.clockUncertainty allow",
    );
  });

  test("an unknown second measurement never holds", () => {
    expect(() => assertClockHeld(at(0), at(Number.NaN))).toThrowError(ClockSkewError);
  });
});

describe("records on this host's clock", () => {
  const ahead: NodeClock = { where: "node w1", offsetMs: 1000, uncertaintyMs: 2, samples: 8 };

  test("a time read on a clock 1 s ahead is 1 s earlier on this host's, and back", () => {
    expect(toRunnerClock(T0 + 1000, ahead)).toBe(T0);
    expect(toPodClock(T0, ahead)).toBe(T0 + 1000);
  });

  test("inRunnerClock moves every record's start and keeps the rest", () => {
    const records = [
      { at: T0 + 1000, pod: "web-1" },
      { at: T0 + 1005, pod: "" },
    ];
    expect(inRunnerClock(records, ahead)).toEqual([
      { at: T0, pod: "web-1" },
      { at: T0 + 5, pod: "" },
    ]);
    expect(records[0]?.at, "the records given are not changed").toBe(T0 + 1000);
  });

  test("this host's own clock leaves records as they are, and says so", () => {
    expect(inRunnerClock([{ at: T0 }], RUNNER_CLOCK)).toEqual([{ at: T0 }]);
    expect(showClock(RUNNER_CLOCK)).toBe("this host: +0.0ms ± 0.0ms (this host's own clock)");
  });
});

/** A namespace whose exec runs a fake clock responder: each line on stdin is answered after 10 ms by `answer()`. */
function responder(answer: () => string) {
  const exec = async (...args: unknown[]) => {
    const stdout = args[4] as Writable;
    const stdin = args[6] as Readable;
    stdin.on("data", (chunk: Buffer) => {
      for (const _ of chunk.toString().split("\n").slice(1)) setTimeout(() => stdout.write(`${answer()}\n`), 10);
    });
    return Object.assign(new EventEmitter(), { close: () => {} });
  };
  const readNamespacedPod = async () => ({ spec: { containers: [{ name: "c" }] } });
  return fakeNamespace({ exec: { exec } as never, core: { readNamespacedPod } as never });
}

describe("measureClock", () => {
  test("measures a pod 250 ms ahead over round trips on one stream, to within its uncertainty", async () => {
    const ns = responder(() => ((Date.now() + 250) / 1000).toFixed(6));
    const clock = await measureClock(ns, "prober", ["responder"], "node w1 (pod prober)", 5);
    expect(clock.samples).toBe(5);
    expect(clock.uncertaintyMs).toBeLessThan(50);
    expect(Math.abs(clock.offsetMs - 250)).toBeLessThanOrEqual(clock.uncertaintyMs + 1);
  });

  test("a pod whose answers are not readings is ClockSkewError, never an offset of 0", async () => {
    const ns = responder(() => "1764455000.%N");
    await expect(measureClock(ns, "web-1", ["responder"], "node w2 (pod web-1)", 3)).rejects.toThrowError(
      /the clock of node w2 \(pod web-1\) could not be read \(3 round trip\(s\), none with a reading\)/,
    );
  });
});
