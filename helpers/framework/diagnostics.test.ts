import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CoreV1Event } from "@kubernetes/client-node";
import { describe, expect, test } from "vitest";
import { findKubectl, formatEvents, formatVolumes, safeFileName, volumesOfNamespace } from "./diagnostics.ts";

function event(reason: string, at: string, extra: Partial<CoreV1Event> = {}): CoreV1Event {
  return {
    metadata: { creationTimestamp: new Date(at) },
    involvedObject: { kind: "Pod", name: "web-1" },
    reason,
    type: "Normal",
    message: `${reason} happened`,
    lastTimestamp: new Date(at),
    ...extra,
  };
}

describe("diagnostics", () => {
  test("should list events oldest first, whichever timestamp they carry", () => {
    const text = formatEvents([
      event("Started", "2025-01-01T10:00:03Z"),
      event("Scheduled", "2025-01-01T10:00:01Z"),
      {
        ...event("BackOff", "2025-01-01T10:00:09Z", { type: "Warning", count: 3 }),
        lastTimestamp: undefined,
        eventTime: new Date("2025-01-01T10:00:02Z"),
      },
    ]);
    expect(text.split("\n")).toEqual([
      "10:00:01.000 Normal Scheduled Pod/web-1: Scheduled happened",
      "10:00:02.000 Warning BackOff Pod/web-1: BackOff happened (x3)",
      "10:00:03.000 Normal Started Pod/web-1: Started happened",
    ]);
    expect(formatEvents([])).toBe("(no events)");
  });

  test("should find kubectl on PATH, else in the test bed's cache, else report none", () => {
    const root = mkdtempSync(join(tmpdir(), "koc-kubectl-"));
    const home = join(root, "home");
    const cached = join(home, ".cache", "k8s-ops-conformance", "kubernetes-v1.34.12", "bin");
    mkdirSync(cached, { recursive: true });
    expect(findKubectl({ PATH: join(root, "empty") }, home)).toBeUndefined();
    writeFileSync(join(cached, "kubectl"), "#!/bin/sh\n");
    chmodSync(join(cached, "kubectl"), 0o755);
    expect(findKubectl({ PATH: join(root, "empty") }, home)).toBe(join(cached, "kubectl"));
    const onPath = join(root, "bin");
    mkdirSync(onPath);
    writeFileSync(join(onPath, "kubectl"), "#!/bin/sh\n");
    expect(findKubectl({ PATH: onPath }, home)).toBe(join(onPath, "kubectl"));
  });

  test("should make safe folder names from test titles", () => {
    expect(safeFileName("Smoke: nginx > should answer HTTP @smoke")).toBe("Smoke-nginx-should-answer-HTTP-smoke");
    expect(safeFileName("///")).toBe("test");
  });
});

describe("diagnostics: volumes", () => {
  const pv = (name: string, claimNamespace?: string) => ({
    metadata: { name },
    spec: claimNamespace ? { claimRef: { namespace: claimNamespace, name: "data" } } : {},
    status: { phase: "Bound" },
  });

  test("should take the volumes bound to the test's claims or named after its namespace", () => {
    const found = volumesOfNamespace(
      [pv("pvc-123", "koc-a-1"), pv("koc-a-1-one"), pv("pvc-456", "koc-b-2"), pv("other")],
      "koc-a-1",
    );
    expect(found.map((v) => v.metadata?.name)).toEqual(["pvc-123", "koc-a-1-one"]);
  });

  test("should list claims, volumes and the volumes' events", () => {
    const claim = { metadata: { name: "data" }, spec: { volumeName: "pvc-123" }, status: { phase: "Bound" } };
    const text = formatVolumes(
      [claim],
      [pv("pvc-123", "koc-a-1")],
      [
        event("VolumeFailedDelete", "2025-01-01T10:00:01Z", {
          involvedObject: { kind: "PersistentVolume", name: "pvc-123" },
        }),
      ],
    );
    expect(text).toBe(
      [
        "PersistentVolumeClaims:",
        "  data Bound volume=pvc-123 class=null modes=- requested=- capacity=-",
        "PersistentVolumes:",
        '  pvc-123 Bound claim=koc-a-1/data reclaim=- class="" modes=- capacity=-',
        "PersistentVolume events:",
        "  10:00:01.000 Normal VolumeFailedDelete PersistentVolume/pvc-123: VolumeFailedDelete happened",
      ].join("\n"),
    );
    expect(formatVolumes([], [], [])).toBe("(no PersistentVolumeClaims or PersistentVolumes)");
  });
});
