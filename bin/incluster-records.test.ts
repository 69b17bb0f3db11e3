/**
 * The in-cluster prober's records as the log follower keeps them: a stream resumed after a break adds no
 * duplicate and loses no line; records are corrected by their pod's clock, and a clock that cannot place
 * them is named instead of trusted. Made to fail once each: LogResume without the lines taken at the last
 * instant (the resumed instant's line doubled), and parseInClusterLog ignoring the clock (records off by
 * the offset).
 */
import { describe, expect, test } from "vitest";
import type { NodeClock } from "../helpers/traffic/clocks.ts";
import {
  clockErrorLine,
  clockLine,
  endLine,
  LogResume,
  noteLine,
  parseInClusterLog,
  podSource,
  recordLine,
  showPodRecords,
  splitStamped,
} from "./incluster-records.ts";

const T0 = Date.parse("2030-01-01T00:00:00Z");
/** probe-loop.mjs's record line of a request started `ms` after T0 (on the pod's clock). */
const koc = (ms: number, status = 200): string => `koc|${(T0 + ms).toFixed(3)}|1.5|${status}|canary-web-1||`;
/** The line as the log API returns it with timestamps=true, stamped `ns` nanoseconds after T0. */
const stamped = (ns: number, text: string): string =>
  `2030-01-01T00:00:${String(Math.floor(ns / 1e9)).padStart(2, "0")}.${String(ns % 1e9).padStart(9, "0")}Z ${text}`;

describe("splitStamped", () => {
  test("reads RFC3339 timestamps with or without a fraction and with a zone", () => {
    expect(splitStamped("2030-01-01T00:00:01.25Z koc|x")).toEqual({
      stamp: { second: T0 + 1000, nanos: 250_000_000 },
      text: "koc|x",
    });
    expect(splitStamped("2030-01-01T01:00:01+01:00 koc|x")?.stamp).toEqual({ second: T0 + 1000, nanos: 0 });
    expect(splitStamped("koc|x")).toBeUndefined();
  });
});

describe("LogResume", () => {
  test("should take every prober line once when a stream resumes from the whole second it broke in", () => {
    const resume = new LogResume();
    expect(resume.sinceTime()).toBeUndefined();
    const first = [
      stamped(1_100_000_000, koc(1000)),
      stamped(1_100_000_000, koc(1020)),
      stamped(1_200_000_000, koc(1040)),
    ];
    expect(first.map((l) => resume.accept(l))).toEqual([koc(1000), koc(1020), koc(1040)]);
    expect(resume.sinceTime()).toBe("2030-01-01T00:00:01Z");
    // the API sends the lines of that second again, then the new ones
    const again = [...first, stamped(1_200_000_000, koc(1060)), stamped(2_000_000_000, koc(1080))];
    expect(again.map((l) => resume.accept(l))).toEqual([undefined, undefined, undefined, koc(1060), koc(1080)]);
    expect(resume.sinceTime()).toBe("2030-01-01T00:00:02Z");
  });

  test("should ignore lines that are not the prober's, and lines cut short", () => {
    const resume = new LogResume();
    expect(resume.accept(stamped(5, "(node:1) ExperimentalWarning: ..."))).toBeUndefined();
    expect(resume.accept("2030-01-01T00:00:0")).toBeUndefined();
    expect(resume.sinceTime()).toBeUndefined();
    expect(resume.accept(stamped(9, "koc-end|10|0"))).toBe("koc-end|10|0");
  });
});

const clock = (pod: string, offsetMs: number): NodeClock => ({
  where: `node w1 (pod ${pod})`,
  offsetMs,
  uncertaintyMs: 0.5,
  samples: 8,
});

describe("parseInClusterLog", () => {
  test("should correct each pod's records by its clock, and keep its end line and the follower's notes", () => {
    const text = [
      noteLine(T0, "follower started"),
      clockLine("canary-prober-a", clock("canary-prober-a", 0)),
      recordLine("canary-prober-a", koc(0)),
      recordLine("canary-prober-b", koc(100, 0)),
      clockLine("canary-prober-b", clock("canary-prober-b", 40)),
      recordLine("canary-prober-a", "koc-end|1|0"),
      clockLine("canary-prober-b", clock("canary-prober-b", 40.4)),
      endLine(T0 + 200),
    ].join("\n");
    const read = parseInClusterLog(text);
    expect(read.records.map((r) => [r.source, r.at - T0, r.status])).toEqual([
      [podSource("canary-prober-a"), 0, 200],
      [podSource("canary-prober-b"), 60, 0],
    ]);
    expect(read.ended).toBe(true);
    expect(read.clockErrors).toEqual([]);
    expect(read.notes).toEqual(["00:00:00.000Z follower started"]);
    expect(read.pods.map(showPodRecords)).toEqual([
      "pod canary-prober-a: 1 request(s) from 00:00:00.000Z to 00:00:00.000Z, 0 failed, ended by SIGTERM (end line); clock of node w1 (pod canary-prober-a): +0.0ms ± 0.5ms (best of 8 round trips)",
      "pod canary-prober-b: 1 request(s) from 00:00:00.060Z to 00:00:00.060Z, 1 failed, no end line (still running, or cut off); clock of node w1 (pod canary-prober-b): +40.0ms ± 0.5ms (best of 8 round trips)",
    ]);
  });

  test("should name a pod whose records cannot be placed, and leave them out", () => {
    const text = [
      recordLine("canary-prober-a", koc(0)),
      clockLine("canary-prober-b", clock("canary-prober-b", 0)),
      recordLine("canary-prober-b", koc(0)),
      clockLine("canary-prober-b", clock("canary-prober-b", 300)),
      clockErrorLine(
        "canary-prober-c",
        "the clock of node w2 (pod canary-prober-c) is off this host's by more than 1000ms",
      ),
    ].join("\n");
    const read = parseInClusterLog(text);
    expect(read.records).toEqual([]);
    expect(read.ended).toBe(false);
    expect(read.clockErrors).toHaveLength(3);
    expect(read.clockErrors[0]).toMatch(/^pod canary-prober-c: the clock of node w2 .* by more than 1000ms$/);
    expect(read.clockErrors[1]).toMatch(/^pod canary-prober-a: its clock was never measured, so its 1 record\(s\)/);
    expect(read.clockErrors[2]).toMatch(
      /^pod canary-prober-b: the clock of node w1 \(pod canary-prober-b\) moved by 300.0ms/,
    );
  });

  test("should read nothing from an empty file, and say the follower did not end", () => {
    expect(parseInClusterLog("")).toEqual({ records: [], pods: [], clockErrors: [], notes: [], ended: false });
  });
});
