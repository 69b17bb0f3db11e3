/**
 * Testname: Rolling update, maxSurge/maxUnavailable bounds observed at every event
 * Description: For a 3-replica Deployment with strategy RollingUpdate maxSurge/maxUnavailable = 0/1, 1/1
 *   and 1/0, changing the image (as `kubectl set image`) MUST replace every pod while, at every watch
 *   event on its pods, ReplicaSets and the Deployment, what the Deployment controller guarantees holds:
 *   - Σ ReplicaSet .spec.replicas MUST NOT exceed replicas + maxSurge (upstream's invariant);
 *   - the Deployment's availableReplicas and the ready pods (not terminating, Ready) MUST NOT drop below
 *     replicas - maxUnavailable.
 *   The pods counted toward the rollout (not terminating, not finished, as the ReplicaSet controller counts
 *   them) follow their ReplicaSets' spec.replicas a moment later: each ReplicaSet's worker acts on its own,
 *   so the new ReplicaSet's pod can appear one event before the old one's excess pod is marked terminating.
 *   They MUST stay within replicas + maxSurge except for such an overshoot, by at most POD_OVERSHOOT (1) pod,
 *   back within BOUNDS.podsFollowReplicaSets (5 s, not scaled), and at most one per scale-down step of an old
 *   ReplicaSet (the lowerings of its spec.replicas in the watched timeline: only those explain one), or one
 *   per replica when a step removes several at once (each leaves its own excess pod). Every tolerated
 *   overshoot (start, duration, pods counted, bound) and the steps are reported in the result (log and
 *   attachment); one beyond the tolerance, or more overshoots than the steps explain, fails naming them. A terminating pod still exists (kubectl shows it as Terminating) and is recorded and drawn, not
 *   bounded.
 *   The rollout MUST complete: 3 pods, all with the new image, the old ReplicaSet scaled to 0 with no pods.
 * Not covered: minReadySeconds, proportional scaling of a paused or stalled rollout, traffic (see
 *   zero-downtime.e2e.test.ts). Bounds are checked from the start of an already available Deployment,
 *   so the creation/scaling window upstream excludes never occurs.
 * Serial or disruptive: no; everything lives in the test's namespace.
 * On purpose: KOC_ROLLOUTS_SABOTAGE=1 adds pods no ReplicaSet explains while the watch still records: once
 *   the rollout has settled, 4 times (replicas + 1: the old ReplicaSet goes from 3 to 0, so its steps explain
 *   at most 3 overshoots), maxSurge + 1 Pending pods labelled app=web (counted, owned by no ReplicaSet, held off every
 *   node) are created and deleted again. Each is an overshoot by 1 pod for well under 5 s, within the
 *   tolerance on its own; the count fails naming every overshoot and the steps. The guaranteed bounds were
 *   made to fail by a temporary edit passing maxSurge - 1 and maxUnavailable - 1 to assertRolloutBounds: the
 *   error names the bound, the event and the states around it. Duration and size of an overshoot:
 *   helpers/observe/rollout.test.ts on a recorded timeline (tolerated within them; failing by 2 pods, after
 *   6 s, or with no tolerance).
 */

import { parseBoolean } from "../../helpers/framework/config.ts";
import { describe, expect, podSecurity, test } from "../../helpers/framework/fixtures.ts";
import type { TestNamespace } from "../../helpers/framework/namespace.ts";
import { attach, capability, log, step } from "../../helpers/framework/report.ts";
import { BOUNDS, formatDuration, POD_OVERSHOOT, T } from "../../helpers/framework/timeouts.ts";
import { type Check, waitFor } from "../../helpers/framework/wait.ts";
import { apply } from "../../helpers/manifests/apply.ts";
import {
  assertRolloutBounds,
  type RolloutState,
  rolloutSettled,
  setImage,
  showPodOvershoot,
  showRolloutState,
  showScaleDownStep,
  type WatchedRollout,
  watchRollout,
} from "../../helpers/observe/rollout.ts";
import { extremes } from "../../helpers/observe/timeline.ts";
import { attachRolloutPicture } from "../../helpers/traffic/rollout-picture.ts";

podSecurity("baseline"); // root images (nginx, busybox), no host access

const REPLICAS = 3;
const STRATEGIES = [
  { maxSurge: 0, maxUnavailable: 1 },
  { maxSurge: 1, maxUnavailable: 1 },
  { maxSurge: 1, maxUnavailable: 0 },
] as const;
const SABOTAGE = parseBoolean("KOC_ROLLOUTS_SABOTAGE", process.env.KOC_ROLLOUTS_SABOTAGE);
const STRAY = "k8s-ops-conformance/stray";

/** A Check on the watch's latest state (what the timeline recorded last). */
function latestState(watched: WatchedRollout, ok: (s: RolloutState) => boolean): Check<RolloutState | undefined> {
  return {
    observe: async () => watched.timeline.samples.at(-1)?.value,
    ok: (s) => s !== undefined && ok(s),
    show: (s) => (s === undefined ? "no state recorded yet" : showRolloutState(s)),
  };
}

/**
 * The sabotage: `rounds` times, `count` pods labelled app=web appear and are deleted once the watch counted
 * them. No ReplicaSet adopts them (its selector has a pod-template-hash) and a nodeSelector no node matches
 * keeps them Pending, so they only raise the pods counted, from a settled rollout: overshoots no scale-down
 * step explains.
 */
async function strayPods(ns: TestNamespace, watched: WatchedRollout, count: number, rounds: number): Promise<void> {
  for (let round = 1; round <= rounds; round++) {
    const names = Array.from({ length: count }, (_, i) => `stray-${round}-${i + 1}`);
    for (const name of names) {
      await ns.kube.core.createNamespacedPod({
        namespace: ns.name,
        body: {
          metadata: { name, labels: { app: "web", [STRAY]: "true" } },
          spec: {
            nodeSelector: { [STRAY]: "no-such-node" },
            containers: [{ name: "stray", image: ns.images.busybox, command: ["sleep", "3600"] }],
          },
        },
      });
    }
    await waitFor(
      `the watch of ${ns.name}/web counts ${REPLICAS} pods and ${count} stray ones (round ${round} of ${rounds})`,
      latestState(watched, (s) => s.counted >= REPLICAS + count),
      T.apiCall,
      { signal: ns.signal },
    );
    for (const name of names) {
      await ns.kube.core.deleteNamespacedPod({ name, namespace: ns.name, gracePeriodSeconds: 0 });
    }
    await waitFor(
      `the watch of ${ns.name}/web sees the stray pods gone (round ${round} of ${rounds})`,
      latestState(watched, (s) => s.objects === REPLICAS),
      T.apiCall,
      { signal: ns.signal },
    );
  }
}

describe.concurrent("Rolling update bounds", () => {
  for (const { maxSurge, maxUnavailable } of STRATEGIES) {
    test(`should keep at most ${REPLICAS + maxSurge} pods and at least ${REPLICAS - maxUnavailable} ready while replacing all with maxSurge=${maxSurge} maxUnavailable=${maxUnavailable}`, async ({
      ns,
    }) => {
      await capability("Workloads", "Rolling update bounds");
      const selector = "app=web";
      await step(`arrange: 3 nginx replicas, RollingUpdate ${maxSurge}/${maxUnavailable}, available`, async () => {
        await apply(ns, "rollouts/bounds", { maxSurge: String(maxSurge), maxUnavailable: String(maxUnavailable) });
        await waitFor(`deployment ${ns.name}/web rolled out`, rolloutSettled(ns, "web", selector, REPLICAS), T.rollout);
      });

      const watched = await watchRollout(ns, "web", selector);
      const started = Date.now();
      const timeline = await step(`act: set image nginx=${ns.images.nginxNext}, watching every event`, async () => {
        await setImage(ns, "web", "nginx", ns.images.nginxNext);
        await waitFor(
          `deployment ${ns.name}/web replaced every pod`,
          rolloutSettled(ns, "web", selector, REPLICAS),
          T.rollout,
        );
        if (SABOTAGE) {
          // the old ReplicaSet goes from 3 to 0: its steps explain 3 overshoots at most, so 4 are too many
          await step(`sabotage: ${REPLICAS + 1} times, ${maxSurge + 1} stray pods labelled app=web come and go`, () =>
            strayPods(ns, watched, maxSurge + 1, REPLICAS + 1),
          );
        }
        return watched.stop();
      });
      const [oldRs, newRs] = watched.replicaSets().map((rs) => rs.metadata?.name ?? "?");
      await attachRolloutPicture(
        {
          title: `set image with maxSurge=${maxSurge} maxUnavailable=${maxUnavailable}`,
          origin: watched.origin,
          states: timeline.samples,
          records: [],
          versionOf: watched.versionOf,
          bounds: [
            { label: "replicas + maxSurge", value: REPLICAS + maxSurge },
            { label: "replicas - maxUnavailable", value: REPLICAS - maxUnavailable },
          ],
          marks: [{ label: "set image", at: started }],
        },
        showRolloutState,
      );

      await step(`assert: the bounds held at each of ${timeline.samples.length} watch events`, async () => {
        const tolerance = { by: POD_OVERSHOOT, forMs: BOUNDS.podsFollowReplicaSets };
        const report = assertRolloutBounds(timeline, { replicas: REPLICAS, maxSurge, maxUnavailable }, tolerance);
        const peak = extremes(timeline, (s) => s.counted);
        const objects = extremes(timeline, (s) => s.objects);
        const ready = extremes(timeline, (s) => s.ready);
        log(
          `peak counted ${peak?.max.value.counted}, peak pod objects ${objects?.max.value.objects}, ` +
            `lowest ready ${ready?.min.value.ready}, over ${timeline.samples.length} events in ${Math.round((Date.now() - started) / 100) / 10}s`,
        );
        const steps = report.steps.map(showScaleDownStep);
        const lines = [
          `scale-down steps of the old ReplicaSet: ${steps.length}${steps.length ? ` (${steps.join(", ")})` : ""}`,
          `overshoots tolerated: ${report.overshoots.length} of at most ${report.explained} (one per step, or per replica of a larger step), each by at most ${POD_OVERSHOOT} pod for at most ${formatDuration(BOUNDS.podsFollowReplicaSets)}`,
          ...report.overshoots.map(
            (o, i) =>
              `overshoot ${i + 1}: ${showPodOvershoot(timeline, o, report.limit)}; ${showRolloutState(o.peak.value)}`,
          ),
        ];
        for (const line of lines) log(line);
        await attach(
          `overshoots of the pods counted (${report.overshoots.length} of at most ${report.explained})`,
          lines.join("\n"),
        );
      });

      await step(`assert: all pods run ${ns.images.nginxNext}, ${oldRs} scaled to 0`, async () => {
        const final = timeline.samples.at(-1)?.value;
        expect(
          final?.replicaSets.map((rs) => `${rs.name} spec=${rs.spec} pods=${rs.counted}`),
          "ReplicaSets at the end",
        ).toEqual([`${oldRs} spec=0 pods=0`, `${newRs} spec=3 pods=3`]);
        const pods = (await ns.kube.core.listNamespacedPod({ namespace: ns.name, labelSelector: selector })).items;
        expect(
          pods.map((p) => p.spec?.containers[0]?.image),
          `images of the pods of ${ns.name}/web`,
        ).toEqual(Array(REPLICAS).fill(ns.images.nginxNext));
      });
    });
  }
});
