import type { V1PersistentVolume, V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { describe, expect, test } from "vitest";
import { fakeNamespace } from "../framework/testing.ts";
import { claimEvent, claimPhase, showClaim, showVolume } from "./volumes.ts";

const claim: V1PersistentVolumeClaim = {
  metadata: { name: "data" },
  spec: {
    storageClassName: "",
    accessModes: ["ReadWriteOnce"],
    resources: { requests: { storage: "500Mi" } },
    volumeName: "pv-1",
  },
  status: { phase: "Bound", capacity: { storage: "1Gi" } },
};

const volume: V1PersistentVolume = {
  metadata: { name: "pv-1" },
  spec: {
    storageClassName: "",
    capacity: { storage: "1Gi" },
    accessModes: ["ReadWriteOnce", "ReadWriteMany"],
    persistentVolumeReclaimPolicy: "Retain",
    claimRef: { namespace: "koc-a", name: "data" },
    hostPath: { path: "/var/lib/x" },
    nodeAffinity: {
      required: { nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "In", values: ["w1"] }] }] },
    },
  },
  status: { phase: "Released" },
};

describe("volumes", () => {
  test("should show a claim the way kubectl get pvc does", () => {
    expect(showClaim(claim)).toBe('data Bound volume=pv-1 class="" modes=RWO requested=500Mi capacity=1Gi');
    expect(showClaim({ metadata: { name: "x" }, spec: {} })).toBe(
      "x ? volume=- class=null modes=- requested=- capacity=-",
    );
  });

  test("should show a volume with its claim, reclaim policy, node and source", () => {
    expect(showVolume(volume)).toBe(
      'pv-1 Released claim=koc-a/data reclaim=Retain class="" modes=RWO,RWX capacity=1Gi node=w1 hostPath=/var/lib/x',
    );
  });

  test("should judge a claim's phase, and not count a terminating claim", () => {
    const check = claimPhase(fakeNamespace(), "data", "Bound");
    expect(check.ok(claim)).toBe(true);
    expect(check.ok({ ...claim, metadata: { name: "data", deletionTimestamp: new Date() } })).toBe(false);
  });

  test("should find the claim's event by reason and message, and show the events it saw instead", () => {
    const check = claimEvent(fakeNamespace(), "second", "FailedBinding", "no persistent volumes available");
    const event = {
      metadata: {},
      involvedObject: {},
      type: "Normal",
      reason: "FailedBinding",
      message: "no persistent volumes available for this claim and no storage class is set",
      count: 3,
    };
    expect(check.ok([event])).toBe(true);
    expect(check.ok([{ ...event, reason: "ProvisioningFailed" }])).toBe(false);
    expect(check.show?.([{ ...event, reason: "ProvisioningFailed" }])).toBe(
      'no FailedBinding event saying "no persistent volumes available"; events of claim second: Normal ProvisioningFailed: no persistent volumes available for this claim and no storage class is set (x3)',
    );
  });
});
