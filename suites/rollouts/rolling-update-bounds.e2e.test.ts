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
 *   They MUST stay within replicas + maxSurge except for such an overshoot, by at most POD_OVERSHOOT (1) pod
 *   and back within BOUNDS.podsFollowReplicaSets (5 s, not scaled); every tolerated overshoot is reported in
 *   the result (log and attachment), and one beyond the tolerance fails with the events around it. A terminating pod
 *   still exists (kubectl shows it as Terminating) and is recorded and drawn, not bounded.
 *   The rollout MUST complete: 3 pods, all with the new image, the old ReplicaSet scaled to 0 with no pods.
 * Not covered: minReadySeconds, proportional scaling of a paused or stalled rollout, traffic (see
 *   zero-downtime.e2e.test.ts). Bounds are checked from the start of an already available Deployment,
 *   so the creation/scaling window upstream excludes never occurs.
 * Serial or disruptive: no; everything lives in the test's namespace.
 * On purpose: KOC_ROLLOUTS_SABOTAGE=1 checks each rollout against maxSurge - 1 and maxUnavailable - 1: every
 *   strategy then fails on a guaranteed bound, and the error names the bound, the event and the states
 *   around it. The tolerance itself is proven by helpers/observe/rollout.test.ts on a recorded timeline of
 *   the overshoot (tolerated within it; failing by 2 pods, after 6 s, or with no tolerance).
 */

import { parseBoolean } from "../../helpers/framework/config.ts";
import { describe, expect, podSecurity, test } from "../../helpers/framework/fixtures.ts";
import { attach, capability, log, step } from "../../helpers/framework/report.ts";
import { BOUNDS, POD_OVERSHOOT, T } from "../../helpers/framework/timeouts.ts";
import { waitFor } from "../../helpers/framework/wait.ts";
import { apply } from "../../helpers/manifests/apply.ts";
import {
  assertRolloutBounds,
  rolloutSettled,
  setImage,
  showRolloutState,
  watchRollout,
} from "../../helpers/observe/rollout.ts";
import { extremes, showOvershoot } from "../../helpers/observe/timeline.ts";
import { attachRolloutPicture } from "../../helpers/traffic/rollout-picture.ts";

podSecurity("baseline"); // root images (nginx, busybox), no host access

const REPLICAS = 3;
const STRATEGIES = [
  { maxSurge: 0, maxUnavailable: 1 },
  { maxSurge: 1, maxUnavailable: 1 },
  { maxSurge: 1, maxUnavailable: 0 },
] as const;
const SABOTAGE = parseBoolean("KOC_ROLLOUTS_SABOTAGE", process.env.KOC_ROLLOUTS_SABOTAGE);

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
        const checked = SABOTAGE
          ? { maxSurge: maxSurge - 1, maxUnavailable: maxUnavailable - 1 }
          : { maxSurge, maxUnavailable };
        const tolerance = { by: POD_OVERSHOOT, forMs: BOUNDS.podsFollowReplicaSets };
        const tolerated = assertRolloutBounds(timeline, { replicas: REPLICAS, ...checked }, tolerance);
        const peak = extremes(timeline, (s) => s.counted);
        const objects = extremes(timeline, (s) => s.objects);
        const ready = extremes(timeline, (s) => s.ready);
        log(
          `peak counted ${peak?.max.value.counted}, peak pod objects ${objects?.max.value.objects}, ` +
            `lowest ready ${ready?.min.value.ready}, over ${timeline.samples.length} events in ${Math.round((Date.now() - started) / 100) / 10}s`,
        );
        if (tolerated.length > 0) {
          const lines = tolerated.map(
            (o) =>
              `pods counted above ${REPLICAS + maxSurge}: ${showOvershoot(timeline, o)}; ${showRolloutState(o.peak.value)}`,
          );
          for (const line of lines) log(`tolerated overshoot: ${line}`);
          await attach(
            `tolerated overshoots (${tolerated.length}, within ${POD_OVERSHOOT} pod for ${BOUNDS.podsFollowReplicaSets} ms)`,
            lines.join("\n"),
          );
        }
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
