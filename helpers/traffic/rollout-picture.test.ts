import { describe, expect, test } from "vitest";
import type { RolloutState } from "../observe/rollout.ts";
import type { ProbeRecord } from "./prober.ts";
import { escapeXml, rolloutSvg } from "./rollout-picture.ts";

const state = (counted: number): RolloutState => ({
  event: "e",
  specTotal: counted,
  counted,
  ready: counted,
  objects: counted,
  available: counted,
  replicaSets: [
    {
      name: "web-a",
      revision: "1",
      image: "nginx",
      spec: counted,
      counted,
      ready: counted,
      terminating: 0,
      statusAvailable: counted,
    },
  ],
});
const record = (at: number, status: number, pod: string): ProbeRecord => ({
  source: "svc <in>",
  at,
  latencyMs: 1,
  status,
  pod,
  error: "",
  version: "",
});

describe("rollout picture", () => {
  test("escapes text for XML", () => {
    expect(escapeXml(`<a & "b">`)).toBe("&#60;a &#38; &#34;b&#34;&#62;");
  });

  test("draws pods per ReplicaSet, bounds, marks, and failed requests in red", () => {
    const svg = rolloutSvg({
      title: "set image",
      origin: 1000,
      states: [
        { at: 0, value: state(3) },
        { at: 500, value: state(4) },
      ],
      records: [record(1100, 200, "web-a-1"), record(1200, 0, "")],
      versionOf: (pod) => (pod.startsWith("web-a") ? "web-a" : undefined),
      bounds: [{ label: "replicas + maxSurge", value: 4 }],
      marks: [{ label: "set image", at: 1050 }],
    });
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg).toContain("replicas + maxSurge (4)");
    expect(svg).toContain("svc &#60;in&#62;");
    expect(svg).toContain('fill="#d62728"'); // the failed request
    expect(svg).toContain("■ web-a");
    expect(svg.trim().endsWith("</svg>")).toBe(true);
  });
});
