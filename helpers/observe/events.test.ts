import type { CoreV1Event } from "@kubernetes/client-node";
import { describe, expect, test } from "vitest";
import { fakeNamespace } from "../framework/testing.ts";
import { findEvents, listPodEvents, podEvents } from "./events.ts";

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
