/**
 * The injected outage: its files (nginx's $msec cut to hundredths), named for each pod's clock, and the span
 * a prober must see it in.
 *
 * On purpose: with podSchedule naming the files on this host's clock (the offset left out), "a pod whose
 * clock is 1.5 s ahead" failed (its files named 1.5 s early on its clock); with anchoredSpan leaving out the
 * clocks' uncertainty, "widened by both clocks' uncertainty" failed; the last test shows that a prober whose
 * clock is 500 ms ahead, judged without the correction, sees no outage in the span.
 */
import { describe, expect, test } from "vitest";
import type { NodeClock } from "./clocks.ts";
import { inRunnerClock } from "./clocks.ts";
import {
  anchoredSpan,
  type InjectedOutage,
  inFlightDuring,
  outageSlots,
  outageStart,
  podSchedule,
} from "./injected-outage.ts";
import { isFailure, outages, type ProbeRecord } from "./prober.ts";

const T0 = 1_764_455_000_000;
const clock = (offsetMs: number, uncertaintyMs = 2): NodeClock => ({
  where: "node w1 (pod web-1)",
  offsetMs,
  uncertaintyMs,
  samples: 8,
});

describe("injected outage slots", () => {
  test("a 30 ms outage is three hundredth-of-a-second files, as nginx's $msec cut to two decimals names them", () => {
    expect(outageSlots(T0 + 120, 30)).toEqual(["1764455000.12", "1764455000.13", "1764455000.14"]);
  });

  test("a 300 ms outage is 30 files; the first hundredths of a second keep their leading zero", () => {
    const slots = outageSlots(T0 + 50, 300);
    expect(slots).toHaveLength(30);
    expect(slots.slice(0, 2)).toEqual(["1764455000.05", "1764455000.06"]);
    expect(slots.at(-1)).toBe("1764455000.34");
  });

  test("an outage across a second boundary names both seconds", () => {
    expect(outageSlots(T0 + 980, 40)).toEqual(["1764455000.98", "1764455000.99", "1764455001.00", "1764455001.01"]);
  });

  test("the start is the first hundredth at least the lead ahead", () => {
    expect(outageStart(T0 + 123, 3000)).toBe(T0 + 3130);
    expect(outageStart(T0 + 120, 3000)).toBe(T0 + 3120);
  });

  test("an outage that is not whole hundredths is refused, not rounded", () => {
    expect(() => outageSlots(T0 + 155, 300)).toThrow(RangeError);
    expect(() => outageSlots(T0 + 100, 255)).toThrow(RangeError);
    expect(() => outageSlots(T0 + 100, 0)).toThrow(RangeError);
  });
});

describe("podSchedule", () => {
  test("a pod on this host's clock gets the outage's own files, off by its uncertainty only", () => {
    expect(podSchedule(T0 + 100, 30, clock(0, 2))).toEqual({
      slots: ["1764455000.10", "1764455000.11", "1764455000.12"],
      errorMs: 2,
    });
  });

  test("a pod whose clock is 1.5 s ahead gets files named 1.5 s later: the same instant on this host's clock", () => {
    expect(podSchedule(T0 + 100, 20, clock(1500))).toEqual({ slots: ["1764455001.60", "1764455001.61"], errorMs: 2 });
    expect(podSchedule(T0 + 100, 20, clock(-1500)).slots).toEqual(["1764454998.60", "1764454998.61"]);
  });

  test("an offset between slots is rounded to the nearest one, and the rounding counts as error", () => {
    const s = podSchedule(T0 + 100, 10, clock(3.2, 1.5));
    expect(s.slots).toEqual(["1764455000.10"]);
    expect(s.errorMs).toBeCloseTo(3.2 + 1.5);
    const later = podSchedule(T0 + 100, 10, clock(-7, 1));
    expect(later.slots).toEqual(["1764455000.09"]);
    expect(later.errorMs).toBeCloseTo(3 + 1);
  });
});

describe("anchoredSpan", () => {
  const outage: InjectedOutage = { label: "injected", from: T0, to: T0 + 300, uncertaintyMs: 6 };

  test("is the injected span widened by both clocks' uncertainty and the margin", () => {
    expect(anchoredSpan(outage, { uncertaintyMs: 4 }, 100)).toEqual({
      from: T0 - 110,
      to: T0 + 410,
      allowanceMs: 110,
    });
  });

  test("a prober on this host's clock widens it by the margin and the pods' uncertainty only", () => {
    expect(anchoredSpan(outage, { uncertaintyMs: 0 }, 100).allowanceMs).toBe(106);
  });
});

describe("a prober whose clock is off, judged in the anchored span", () => {
  const outage: InjectedOutage = { label: "injected", from: T0, to: T0 + 300, uncertaintyMs: 3 };
  const ahead = clock(500, 2);
  // 200 requests/s from 1 s before to 1 s after, failing while this host's clock is inside the outage,
  // stamped by a clock 500 ms ahead (as KOC_PROBER_CLOCK_SHIFT=500 makes it)
  const stamped: ProbeRecord[] = Array.from({ length: 460 }, (_, i) => {
    const at = T0 - 1000 + i * 5;
    const failed = at >= outage.from && at < outage.to;
    return {
      source: "service (in-cluster)",
      at: at + ahead.offsetMs,
      latencyMs: 1,
      status: failed ? 0 : 200,
      pod: failed ? "" : "web-1",
      error: failed ? "ECONNRESET" : "",
      version: "",
    };
  });
  const seenIn = (records: readonly ProbeRecord[]) => {
    const span = anchoredSpan(outage, ahead, 100);
    return outages(records.filter((r) => r.at >= span.from && r.at < span.to));
  };

  test("without the correction the outage lies outside the span: no outage seen where it was injected", () => {
    expect(stamped.filter(isFailure)).toHaveLength(60);
    expect(seenIn(stamped)).toEqual([]);
  });

  test("with the correction it is seen from its injected start for 300 ms, every failure inside", () => {
    const [seen, ...more] = seenIn(inRunnerClock(stamped, ahead));
    expect(more).toEqual([]);
    expect(seen).toMatchObject({ from: T0, to: T0 + 300, failed: 60 });
  });
});

describe("inFlightDuring", () => {
  const span = { from: 1_000, to: 1_300 };

  test("should count a request started before the span and reset inside it as the outage's", () => {
    // seen live: a host prober's request started 54 ms before the injected start (and the span's allowance)
    expect(inFlightDuring({ at: 946, latencyMs: 60 }, span)).toBe(true);
    expect(inFlightDuring({ at: 1_100, latencyMs: 1 }, span)).toBe(true);
  });

  test("should leave out a request over before the span began, or started after it ended", () => {
    expect(inFlightDuring({ at: 900, latencyMs: 50 }, span)).toBe(false);
    expect(inFlightDuring({ at: 1_300, latencyMs: 0 }, span)).toBe(false);
    expect(inFlightDuring({ at: 1_800, latencyMs: 5 }, span)).toBe(false);
  });
});
