/**
 * On purpose: with deploymentAvailable's observe no longer reading the ReplicaFailure condition, both Pod
 * Security tests failed (the observation came back as a Deployment still waiting: a wait would have timed out).
 */
import type { V1Deployment, V1Pod } from "@kubernetes/client-node";
import { describe, expect, test } from "vitest";
import { PodSecurityRefusedError } from "../framework/pod-security.ts";
import { fakeNamespace } from "../framework/testing.ts";
import { deploymentAvailable, podsReady, showPod } from "./conditions.ts";

const ns = fakeNamespace();

function deployment(status: V1Deployment["status"], generation = 2): V1Deployment {
  return { metadata: { name: "web", generation }, status };
}

function pod(name: string, ready: boolean, extra: Partial<V1Pod["status"]> = {}): V1Pod {
  return {
    metadata: { name },
    spec: { nodeName: "w1", containers: [{ name: "nginx" }] },
    status: {
      phase: "Running",
      conditions: [{ type: "Ready", status: ready ? "True" : "False" }],
      containerStatuses: [{ name: "nginx", ready, restartCount: 0, image: "i", imageID: "", state: {} }],
      ...extra,
    },
  };
}

describe("conditions", () => {
  const available = deploymentAvailable(ns, "web", 2);

  test("should accept a deployment only when the latest generation is fully available", () => {
    const done = {
      observedGeneration: 2,
      replicas: 2,
      updatedReplicas: 2,
      readyReplicas: 2,
      availableReplicas: 2,
      conditions: [{ type: "Available", status: "True" }],
    };
    expect(available.ok(deployment(done))).toBe(true);
    expect(available.ok(deployment({ ...done, observedGeneration: 1 }))).toBe(false);
    expect(available.ok(deployment({ ...done, replicas: 3 }))).toBe(false); // an old pod still around
  });

  test("should show a deployment's progress in one line", () => {
    const status = {
      observedGeneration: 2,
      replicas: 2,
      updatedReplicas: 2,
      readyReplicas: 1,
      availableReplicas: 1,
      conditions: [{ type: "Available", status: "False", reason: "MinimumReplicasUnavailable", message: "no minimum" }],
    };
    expect(available.show?.(deployment(status))).toBe(
      "deployment koc-unit-abcde/web: generation 2 (observed 2), replicas 2, updated 2, ready 1, available 1 of 2 wanted; " +
        "Available=False (MinimumReplicasUnavailable: no minimum)",
    );
  });

  test("should show why a pod is not ready", () => {
    const crashing = pod("web-1", false, {
      phase: "Running",
      containerStatuses: [
        {
          name: "nginx",
          ready: false,
          restartCount: 3,
          image: "i",
          imageID: "",
          state: { waiting: { reason: "CrashLoopBackOff" } },
        },
      ],
    });
    expect(showPod(crashing)).toBe("web-1 0/1 Running node=w1 restarts=3 nginx: waiting CrashLoopBackOff");
  });

  test("should want exactly the number of ready pods", () => {
    const check = podsReady(ns, "app=web", 2);
    expect(check.ok([pod("a", true), pod("b", true)])).toBe(true);
    expect(check.ok([pod("a", true), pod("b", false)])).toBe(false);
    expect(check.ok([pod("a", true), pod("b", true), pod("c", true)])).toBe(false);
    expect(check.show?.([])).toBe("no pods match app=web");
  });
});

describe("a Deployment whose pods Pod Security refuses", () => {
  const PSA = 'pods "keeper-5d8f7c-x2x9z" is forbidden: violates PodSecurity "baseline:latest": hostPath volumes';
  const refused = deployment({
    replicas: 0,
    conditions: [
      { type: "Available", status: "False" },
      { type: "ReplicaFailure", status: "True", reason: "FailedCreate", message: PSA },
    ],
  });
  const namespace = (level: "privileged" | "baseline", skipped: string[]) => ({
    ...fakeNamespace({ apps: { readNamespacedDeployment: async () => refused } as never }),
    podSecurity: level,
    skip: (reason: string): never => {
      skipped.push(reason);
      throw new Error("skipped");
    },
  });

  test("ends the wait at once: a skip in a privileged scenario, naming the admission message", async () => {
    const skipped: string[] = [];
    await expect(deploymentAvailable(namespace("privileged", skipped), "keeper", 1).observe()).rejects.toThrow(
      "skipped",
    );
    expect(skipped).toEqual([expect.stringContaining(`the pods of Deployment keeper refused: ${PSA}`)]);
  });

  test("a failure at a lower level", async () => {
    const skipped: string[] = [];
    await expect(deploymentAvailable(namespace("baseline", skipped), "keeper", 1).observe()).rejects.toThrowError(
      PodSecurityRefusedError,
    );
    expect(skipped).toEqual([]);
  });
});
