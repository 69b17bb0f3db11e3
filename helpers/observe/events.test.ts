/**
 * Pod events and the times events carry (stamps with their resolution, repeated events' counts).
 * On purpose: compareStamps made to ignore resolutions (`a.us < b.us` read as "before") turned "should order
 * stamps only when their resolutions keep them apart" red; occurrences made to ignore `count` (always 1)
 * turned "should count every occurrence of a repeated event" red.
 */
import type { CoreV1Event } from "@kubernetes/client-node";
import { describe, expect, test } from "vitest";
import { fakeNamespace } from "../framework/testing.ts";
import {
  compareStamps,
  findEvents,
  fromKubelet,
  listPodEvents,
  occurrences,
  podEvents,
  showStamp,
  stampOf,
} from "./events.ts";

describe("pod events", () => {
  const events: CoreV1Event[] = [
    {
      metadata: {},
      involvedObject: { kind: "Pod", name: "liveness-exec" },
      reason: "Unhealthy",
      type: "Warning",
      message: "Liveness probe failed: cat: can't open '/tmp/healthy': No such file or directory",
      lastTimestamp: new Date("2026-01-01T12:00:09Z"),
    },
  ];
  const wanted = [
    { reason: "Unhealthy", message: "Liveness probe failed" },
    { reason: "Killing", message: "failed liveness probe, will be restarted" },
  ];

  test("should match reason and a piece of the message", () => {
    expect(findEvents(events, wanted[0] as (typeof wanted)[0])).toHaveLength(1);
    expect(findEvents(events, { reason: "Unhealthy", message: "Readiness probe failed" })).toHaveLength(0);
  });

  test("should say which events are missing and list the ones seen", () => {
    const check = podEvents(fakeNamespace(), "liveness-exec", wanted);
    expect(check.ok(events)).toBe(false);
    expect(check.show?.(events)).toBe(
      'missing Killing "failed liveness probe, will be restarted"; events of pod liveness-exec:\n' +
        "12:00:09.000 Warning Unhealthy Pod/liveness-exec: Liveness probe failed: cat: can't open '/tmp/healthy': No such file or directory",
    );
  });

  test("should ask for the events of that pod only", async () => {
    const asked: unknown[] = [];
    const ns = fakeNamespace({
      core: {
        listNamespacedEvent: async (request: unknown) => {
          asked.push(request);
          return { items: events };
        },
      },
    } as never);
    expect(await listPodEvents(ns, "liveness-exec")).toEqual(events);
    expect(asked).toEqual([
      { namespace: "koc-unit-abcde", fieldSelector: "involvedObject.kind=Pod,involvedObject.name=liveness-exec" },
    ]);
  });
});

describe("event times", () => {
  const at = (iso: string) => new Date(iso);

  test("should read a Time in whole seconds and a MicroTime as precise as written", () => {
    expect(stampOf(at("2026-01-01T12:00:01Z"), "lastTimestamp", "Time")).toEqual({
      us: Date.parse("2026-01-01T12:00:01Z") * 1000,
      resolutionUs: 1_000_000,
      field: "lastTimestamp",
    });
    const micro = stampOf("2026-01-01T12:00:01.123456Z", "eventTime", "MicroTime");
    expect(micro).toEqual({
      us: Date.parse("2026-01-01T12:00:01Z") * 1000 + 123_456,
      resolutionUs: 1,
      field: "eventTime",
    });
    expect(stampOf("2026-01-01T12:00:01.1Z", "eventTime", "MicroTime")?.resolutionUs).toBe(100_000);
    expect(stampOf(at("2026-01-01T12:00:01.123Z"), "eventTime", "MicroTime")?.resolutionUs).toBe(1000);
    expect(stampOf(null, "eventTime", "MicroTime")).toBeUndefined();
    expect(stampOf("0001-01-01T00:00:00Z", "firstTimestamp", "Time")).toBeUndefined();
    expect(() => stampOf("yesterday", "eventTime", "MicroTime")).toThrow(
      'eventTime: not an RFC 3339 time: "yesterday"',
    );
    expect(showStamp(micro as never)).toBe("12:00:01.123456 (eventTime)");
  });

  test("should order stamps only when their resolutions keep them apart", () => {
    const second = (s: string) => stampOf(at(`2026-01-01T12:00:${s}Z`), "t", "Time") as never;
    const micro = (s: string) => stampOf(`2026-01-01T12:00:${s}Z`, "t", "MicroTime") as never;
    expect(compareStamps(second("01"), second("02"))).toBe("before");
    expect(compareStamps(second("02"), second("01"))).toBe("after");
    expect(compareStamps(second("01"), second("01"))).toBe("same");
    expect(compareStamps(micro("01.000001"), micro("01.000002"))).toBe("before");
    // 12:00:01.5 lies inside the second 12:00:01 stands for
    expect(compareStamps(micro("01.500000"), second("01"))).toBe("same");
    expect(compareStamps(second("01"), micro("01.500000"))).toBe("same");
    expect(compareStamps(second("01"), micro("02.000000"))).toBe("before");
  });

  const event = (fields: Partial<CoreV1Event>): CoreV1Event => ({
    metadata: { name: "e" },
    involvedObject: { kind: "Pod", name: "p" },
    reason: "Unhealthy",
    ...fields,
  });

  test("should count every occurrence of a repeated event, first to last", () => {
    const repeated = occurrences(
      event({ count: 3, firstTimestamp: at("2026-01-01T12:00:01Z"), lastTimestamp: at("2026-01-01T12:00:03Z") }),
    );
    expect(repeated).toMatchObject({ count: 3, atLeast: false });
    expect(repeated.last.us - repeated.first.us).toBe(2_000_000);
    expect(occurrences(event({ lastTimestamp: at("2026-01-01T12:00:03Z") }))).toMatchObject({ count: 1 });
  });

  test("should take a series' count as a lower bound, and its microsecond times", () => {
    const series = occurrences(
      event({
        eventTime: "2026-01-01T12:00:01.250000Z" as never,
        series: { count: 2, lastObservedTime: "2026-01-01T12:00:02.500000Z" as never },
      }),
    );
    expect(series).toMatchObject({ count: 2, atLeast: true });
    expect([series.first.resolutionUs, series.last.us - series.first.us]).toEqual([1, 1_250_000]);
  });

  test("should refuse an event with no time", () => {
    expect(() => occurrences(event({}))).toThrow("event e (Unhealthy): no eventTime, firstTimestamp or lastTimestamp");
  });

  test("should tell the kubelet's events by either recorder's source field", () => {
    expect(fromKubelet(event({ source: { component: "kubelet", host: "n1" } }))).toBe(true);
    expect(fromKubelet(event({ reportingComponent: "kubelet" }))).toBe(true);
    expect(fromKubelet(event({ source: { component: "default-scheduler" } }))).toBe(false);
  });
});
