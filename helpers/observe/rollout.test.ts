/**
 * Rollout states from watched objects, undo, the bounds of a rolling update and the versions of pods.
 * On purpose: assertRolloutBounds given an unlimited overshoot count turned "should fail more overshoots than
 * scale-down steps", "should fail an overshoot when no old ReplicaSet was scaled down" and the third overshoot
 * after a two-replica step red; scaleDownSteps made to count the newest ReplicaSet's lowering too turned the
 * step-counting test red.
 */
import type { V1Pod, V1ReplicaSet } from "@kubernetes/client-node";
import { describe, expect, test } from "vitest";
import {
  assertRolloutBounds,
  previousReplicaSet,
  type RolloutState,
  rolloutState,
  scaleDownSteps,
  showPodOvershoot,
  showRolloutState,
  showScaleDownStep,
  templateForUndo,
  versionByTemplateHash,
} from "./rollout.ts";
import { BoundViolationError, Timeline } from "./timeline.ts";

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
const rs = (name: string, revision: string, replicas: number, available = 0): V1ReplicaSet => ({
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
  status: { replicas, availableReplicas: available },
});

describe("rollout state", () => {
  const sets = [rs("web-new", "2", 1), rs("web-old", "1", 3, 1)];
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
      "counted 3 (ready 2, objects 4), spec 4, available 0 | web-old r1 spec 3 pods 2/2 ready +1 terminating, status 1 available | web-new r2 spec 1 pods 0/1 ready, status 0 available  [pod n1 ADDED]",
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

describe("rollout bounds", () => {
  const strategy = { replicas: 3, maxSurge: 1, maxUnavailable: 1 };
  const tolerance = { by: 1, forMs: 5_000 };
  const podsOf = (rsName: string, names: string[], state: "ready" | "starting" | "terminating" = "ready") =>
    names.map((n) => pod(n, rsName, state));

  /**
   * The flake, as recorded: the Deployment lowered the old ReplicaSet to 1 and raised the new one to 3 (4 in
   * all), the new ReplicaSet's pod was added, and the old one's excess pod was marked terminating one event later.
   */
  function flake(terminatingAfterMs: number): Timeline<RolloutState> {
    const timeline = new Timeline<RolloutState>("rollout of deployment koc-unit/web", 0);
    const at = (ms: number, event: string, sets: V1ReplicaSet[], pods: V1Pod[]) =>
      timeline.record(rolloutState(event, { status: { availableReplicas: 3 } }, sets, pods), ms);
    const lowered = [rs("web-old", "1", 1), rs("web-new", "2", 3)];
    at(
      0,
      "replicaset web-new MODIFIED",
      [rs("web-old", "1", 2), rs("web-new", "2", 2)],
      [...podsOf("web-old", ["o1", "o2"]), ...podsOf("web-new", ["n1", "n2"])],
    );
    at(100, "replicaset web-old MODIFIED", lowered, [
      ...podsOf("web-old", ["o1", "o2"]),
      ...podsOf("web-new", ["n1", "n2"]),
    ]);
    at(200, "replicaset web-new MODIFIED", lowered, [
      ...podsOf("web-old", ["o1", "o2"]),
      ...podsOf("web-new", ["n1", "n2"]),
    ]);
    const added = [
      ...podsOf("web-old", ["o1", "o2"]),
      ...podsOf("web-new", ["n1", "n2"]),
      pod("n3", "web-new", "starting"),
    ];
    at(300, "pod n3 ADDED", lowered, added);
    const marked = [pod("o1", "web-old", "ready"), pod("o2", "web-old", "terminating"), ...added.slice(2)];
    at(300 + terminatingAfterMs, "pod o2 MODIFIED", lowered, marked);
    return timeline;
  }

  test("should tolerate the new pod appearing one event before the old one is marked terminating, and report it", () => {
    const timeline = flake(40);
    const report = assertRolloutBounds(timeline, strategy, tolerance);
    expect(report.overshoots.map((o) => [o.by, o.lastedMs, o.peak.value.event])).toEqual([[1, 40, "pod n3 ADDED"]]);
    expect(report.steps.map(showScaleDownStep)).toEqual(["web-old 2 → 1 at +100ms"]);
    expect(report.overshoots.map((o) => showPodOvershoot(timeline, o, report.limit))).toEqual([
      "pods counted 5 > 4 (replicas + maxSurge) for 40ms from +300ms (samples 4–4 of 5)",
    ]);
  });

  test("should fail the same overshoot without a tolerance, naming the events around it", () => {
    expect(() => assertRolloutBounds(flake(40), strategy, { by: 0, forMs: 0 })).toThrowError(
      /"pods counted \(not terminating\) <= replicas \+ maxSurge = 4" exceeded by 1 for 40ms from \+300ms \(samples 4–4 of 5\), beyond the tolerance \(by 0 for 0ms\); peak: counted 5 .*\n(.*\n)*> \+300ms {2}counted 5 .*\[pod n3 ADDED\]\n {2}\+340ms {2}counted 4 .*\[pod o2 MODIFIED\]/,
    );
  });

  test("should fail an overshoot that lasts longer than the tolerance", () => {
    expect(() => assertRolloutBounds(flake(6_000), strategy, tolerance)).toThrowError(
      "exceeded by 1 for 6s from +300ms (samples 4–4 of 5), beyond the tolerance (by 1 for 5s)",
    );
  });

  test("should fail an overshoot by more than the tolerance at once", () => {
    const timeline = flake(40);
    const sets = [rs("web-old", "1", 1), rs("web-new", "2", 3)];
    const six = [...podsOf("web-old", ["o1", "o2", "o3"]), ...podsOf("web-new", ["n1", "n2", "n3"])];
    timeline.record(rolloutState("pod n3 ADDED", { status: { availableReplicas: 3 } }, sets, six), 400);
    expect(() => assertRolloutBounds(timeline, strategy, tolerance)).toThrowError("exceeded by 2 for 0ms");
  });

  /**
   * A rollout of 3 replicas, 1/1, sample by sample: [ms, event, old spec, new spec, old counted, new counted].
   * Counted pods are ready; the Deployment reports 3 available throughout.
   */
  function rollout(rows: Array<[number, string, number, number, number, number]>): Timeline<RolloutState> {
    const timeline = new Timeline<RolloutState>("rollout of deployment koc-unit/web", 0);
    for (const [ms, event, oldSpec, newSpec, oldPods, newPods] of rows) {
      const sets = [rs("web-old", "1", oldSpec), rs("web-new", "2", newSpec)];
      const pods = [
        ...podsOf(
          "web-old",
          Array.from({ length: oldPods }, (_, i) => `o${i}`),
        ),
        ...podsOf(
          "web-new",
          Array.from({ length: newPods }, (_, i) => `n${i}`),
        ),
      ];
      timeline.record(rolloutState(event, { status: { availableReplicas: 3 } }, sets, pods), ms);
    }
    return timeline;
  }

  test("should count the old ReplicaSet's scale-down steps, not the new one's changes nor how many replicas a step removes", () => {
    const timeline = rollout([
      [0, "initial list", 3, 0, 3, 0],
      [100, "replicaset web-new MODIFIED", 3, 1, 3, 0],
      [200, "replicaset web-old MODIFIED", 1, 1, 3, 0], // one step of 2 replicas
      [300, "pod o2 MODIFIED", 1, 1, 2, 1],
      [400, "replicaset web-new MODIFIED", 1, 3, 1, 1],
      [500, "replicaset web-new MODIFIED", 1, 2, 1, 2], // the new one lowered: not a step
      [600, "replicaset web-old MODIFIED", 0, 2, 1, 2],
      [700, "pod o0 MODIFIED", 0, 3, 0, 3],
    ]);
    expect(scaleDownSteps(timeline).map(showScaleDownStep)).toEqual([
      "web-old 3 → 1 at +200ms",
      "web-old 1 → 0 at +600ms",
    ]);
  });

  test("should tolerate one overshoot per scale-down step, and report each", () => {
    const timeline = rollout([
      [0, "initial list", 3, 0, 3, 0],
      [100, "replicaset web-new MODIFIED", 3, 1, 3, 1],
      [200, "replicaset web-old MODIFIED", 2, 2, 3, 1],
      [300, "pod n1 ADDED", 2, 2, 3, 2], // overshoot 1: the old ReplicaSet's excess pod not yet terminating
      [350, "pod o2 MODIFIED", 2, 2, 2, 2],
      [400, "replicaset web-old MODIFIED", 1, 3, 2, 2],
      [500, "pod n2 ADDED", 1, 3, 2, 3], // overshoot 2
      [520, "pod o1 MODIFIED", 1, 3, 1, 3],
      [600, "replicaset web-old MODIFIED", 0, 3, 0, 3],
    ]);
    const report = assertRolloutBounds(timeline, strategy, tolerance);
    expect([report.steps.length, report.explained]).toEqual([3, 3]);
    expect(report.overshoots.map((o) => showPodOvershoot(timeline, o, report.limit))).toEqual([
      "pods counted 5 > 4 (replicas + maxSurge) for 50ms from +300ms (samples 4–4 of 9)",
      "pods counted 5 > 4 (replicas + maxSurge) for 20ms from +500ms (samples 7–7 of 9)",
    ]);
  });

  test("should fail more overshoots than scale-down steps, each within the tolerance, naming them all", () => {
    const timeline = rollout([
      [0, "initial list", 3, 0, 3, 0],
      [100, "replicaset web-new MODIFIED", 3, 1, 3, 1],
      [200, "replicaset web-old MODIFIED", 2, 2, 3, 1],
      [300, "pod n1 ADDED", 2, 2, 3, 2], // explained by web-old 3 → 2
      [350, "pod o2 MODIFIED", 2, 2, 2, 2],
      [1_000, "pod x1 ADDED", 2, 2, 3, 2], // a pod nothing lowered: unexplained
      [1_100, "pod x1 DELETED", 2, 2, 2, 2],
      [2_000, "pod x2 ADDED", 2, 2, 3, 2], // another
      [2_100, "pod x2 DELETED", 2, 2, 2, 2],
    ]);
    expect(() => assertRolloutBounds(timeline, strategy, tolerance)).toThrowError(BoundViolationError);
    expect(() => assertRolloutBounds(timeline, strategy, tolerance)).toThrowError(
      new RegExp(
        [
          '"pods counted \\(not terminating\\) <= replicas \\+ maxSurge = 4" exceeded 3 times, more than the 1 tolerated',
          " \\(one per replica the old ReplicaSets were scaled down by: 1, in 1 step\\(s\\): web-old 3 → 2 at \\+200ms\\):\n",
          "1\\. exceeded by 1 for 50ms from \\+300ms \\(samples 4–4 of 9\\); peak: counted 5 .*\\[pod n1 ADDED\\]\n",
          "2\\. exceeded by 1 for 100ms from \\+1s \\(samples 6–6 of 9\\); peak: counted 5 .*\\[pod x1 ADDED\\]\n",
          "3\\. exceeded by 1 for 100ms from \\+2s .*\\[pod x2 ADDED\\]",
        ].join(""),
      ),
    );
  });

  test("should tolerate two overshoots after one step of two replicas (two excess pods), and fail a third", () => {
    const rows: Array<[number, string, number, number, number, number]> = [
      [0, "initial list", 3, 1, 3, 1],
      [100, "replicaset web-old MODIFIED", 1, 1, 3, 1], // one step, two excess pods
      [200, "replicaset web-new MODIFIED", 1, 3, 3, 1],
      [300, "pod n1 ADDED", 1, 3, 3, 2], // overshoot 1
      [320, "pod o2 MODIFIED", 1, 3, 2, 2],
      [400, "pod n2 ADDED", 1, 3, 2, 3], // overshoot 2
      [420, "pod o1 MODIFIED", 1, 3, 1, 3],
    ];
    const report = assertRolloutBounds(rollout(rows), strategy, tolerance);
    expect([report.steps.length, report.explained, report.overshoots.length]).toEqual([1, 2, 2]);
    const third: Array<[number, string, number, number, number, number]> = [
      [500, "pod x ADDED", 1, 3, 2, 3],
      [520, "pod x DELETED", 1, 3, 1, 3],
    ];
    expect(() => assertRolloutBounds(rollout([...rows, ...third]), strategy, tolerance)).toThrowError(
      "exceeded 3 times, more than the 2 tolerated",
    );
  });

  test("should fail an overshoot when no old ReplicaSet was scaled down at all", () => {
    const timeline = rollout([
      [0, "initial list", 3, 1, 3, 1],
      [100, "pod x ADDED", 3, 1, 3, 2],
      [150, "pod x DELETED", 3, 1, 3, 1],
    ]);
    expect(() => assertRolloutBounds(timeline, strategy, tolerance)).toThrowError(
      "exceeded 1 times, more than the 0 tolerated (one per replica the old ReplicaSets were scaled down by: 0, in 0 step(s))",
    );
  });

  test("should fail what the controllers guarantee with no tolerance: the ReplicaSets' spec.replicas", () => {
    const timeline = new Timeline<RolloutState>("rollout", 0);
    const sets = [rs("web-old", "1", 2), rs("web-new", "2", 3)];
    timeline.record(rolloutState("replicaset web-new MODIFIED", { status: { availableReplicas: 3 } }, sets, []), 0);
    expect(() => assertRolloutBounds(timeline, strategy, tolerance)).toThrowError(
      '"sum of ReplicaSet spec.replicas <= replicas + maxSurge = 4" violated at +0ms',
    );
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
