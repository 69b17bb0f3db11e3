import type { V1Pod, V1ReplicaSet } from "@kubernetes/client-node";
import { describe, expect, test } from "vitest";
import {
  previousReplicaSet,
  rolloutState,
  showRolloutState,
  templateForUndo,
  versionByTemplateHash,
} from "./rollout.ts";

const owner = (name: string) => [{ apiVersion: "apps/v1", kind: "ReplicaSet", name, uid: name, controller: true }];
const pod = (name: string, rs: string, state: "ready" | "starting" | "terminating"): V1Pod => ({
  metadata: {
    name,
    ownerReferences: owner(rs),
    ...(state === "terminating" ? { deletionTimestamp: new Date() } : {}),
  },
  spec: { containers: [{ name: "nginx" }] },
  status: { phase: "Running", conditions: [{ type: "Ready", status: state === "ready" ? "True" : "False" }] },
});
const rs = (name: string, revision: string, replicas: number): V1ReplicaSet => ({
  metadata: {
    name,
    annotations: { "deployment.kubernetes.io/revision": revision },
    ownerReferences: [{ apiVersion: "apps/v1", kind: "Deployment", name: "web", uid: "d", controller: true }],
  },
  spec: {
    replicas,
    selector: {},
    template: { metadata: { labels: { app: "web", "pod-template-hash": "abc" } }, spec: { containers: [] } },
  },
});

describe("rollout state", () => {
  const sets = [rs("web-new", "2", 1), rs("web-old", "1", 3)];
  const pods = [
    pod("o1", "web-old", "ready"),
    pod("o2", "web-old", "ready"),
    pod("o3", "web-old", "terminating"),
    pod("n1", "web-new", "starting"),
  ];

  test("terminating pods exist but are not counted, and are never ready", () => {
    const state = rolloutState("pod n1 ADDED", undefined, sets, pods);
    expect(state).toMatchObject({ specTotal: 4, counted: 3, ready: 2, objects: 4 });
    expect(state.replicaSets.map((s) => [s.name, s.counted, s.ready, s.terminating])).toEqual([
      ["web-old", 2, 2, 1],
      ["web-new", 1, 0, 0],
    ]);
  });

  test("shows the counts per ReplicaSet and the event", () => {
    expect(showRolloutState(rolloutState("pod n1 ADDED", undefined, sets, pods))).toBe(
      "counted 3 (ready 2, objects 4), spec 4, available 0 | web-old r1 spec 3 pods 2/2 ready +1 terminating | web-new r2 spec 1 pods 0/1 ready  [pod n1 ADDED]",
    );
  });
});

describe("rollout undo", () => {
  test("picks the highest revision below the current one", () => {
    const sets = [rs("a", "1", 0), rs("b", "3", 0), rs("c", "4", 3), rs("d", "2", 0)];
    expect(previousReplicaSet(sets, "4")?.metadata?.name).toBe("b");
    expect(previousReplicaSet(sets, "1")).toBeUndefined();
  });

  test("rolls back to the template without the controller's pod-template-hash label", () => {
    const original = rs("a", "1", 0);
    expect(templateForUndo(original).metadata?.labels).toEqual({ app: "web" });
    expect(original.spec?.template?.metadata?.labels?.["pod-template-hash"]).toBe("abc");
  });
});

describe("versions of the pods that answered", () => {
  const labelled = (name: string, hash: string) => ({ metadata: { name, labels: { "pod-template-hash": hash } } });
  const sets = [labelled("app-5d4f8", "5d4f8"), labelled("app-7c9d4", "7c9d4")] as V1ReplicaSet[];
  // a name that parses to a known hash but carries another label: the label decides, never the name
  const pods = [
    labelled("app-5d4f8-aaaaa", "5d4f8"),
    labelled("app-7c9d4-bbbbb", "7c9d4"),
    labelled("app-7c9d4-ccccc", "99999"),
  ] as V1Pod[];
  const versionOf = versionByTemplateHash(pods, sets);

  test("maps a pod to the ReplicaSet of its pod-template-hash label", () => {
    expect(versionOf("app-5d4f8-aaaaa")).toBe("app-5d4f8");
    expect(versionOf("app-7c9d4-bbbbb")).toBe("app-7c9d4");
  });

  test("a pod never seen, or of an unknown template, has no version", () => {
    expect(versionOf("app-7c9d4-ccccc")).toBeUndefined();
    expect(versionOf("app-7c9d4-zzzzz")).toBeUndefined();
  });
});
