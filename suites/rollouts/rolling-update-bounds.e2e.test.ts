/**
 * Testname: Rolling update, maxSurge/maxUnavailable bounds observed at every event
 * Description: For a 3-replica Deployment with strategy RollingUpdate maxSurge/maxUnavailable = 0/1, 1/1
 *   and 1/0, changing the image (as `kubectl set image`) MUST replace every pod while, at every watch
 *   event on its pods, ReplicaSets and the Deployment:
 *   - the pods counted toward the rollout MUST NOT exceed replicas + maxSurge (0/1: never more than 3).
 *     Counted = not terminating and not finished, as the ReplicaSet controller counts them; a terminating
 *     pod still exists (kubectl shows it as Terminating) but the controller has already let it go, so
 *     0/1 may show 4 pod objects while only 3 count. The pod objects are recorded and drawn, not bounded;
 *   - Σ ReplicaSet .spec.replicas MUST NOT exceed replicas + maxSurge (upstream's invariant);
 *   - ready pods (not terminating, Ready) and the Deployment's availableReplicas MUST NOT drop below
 *     replicas - maxUnavailable.
 *   The rollout MUST complete: 3 pods, all with the new image, the old ReplicaSet scaled to 0 with no pods.
 * Not covered: minReadySeconds, proportional scaling of a paused or stalled rollout, traffic (see
 *   zero-downtime.e2e.test.ts). Bounds are checked from the start of an already available Deployment,
 *   so the creation/scaling window upstream excludes never occurs.
 * Serial or disruptive: no; everything lives in the test's namespace.
 * On purpose: made to fail by asserting maxSurge - 1 as the upper bound (the error names the bound, the
 *   event and the states around it).
 */

import { describe, expect, podSecurity, test } from "../../helpers/framework/fixtures.ts";
import { capability, log, step } from "../../helpers/framework/report.ts";
import { T } from "../../helpers/framework/timeouts.ts";
import { waitFor } from "../../helpers/framework/wait.ts";
import { apply } from "../../helpers/manifests/apply.ts";
import {
  type RolloutState,
  rolloutSettled,
  setImage,
  showRolloutState,
  watchRollout,
} from "../../helpers/observe/rollout.ts";
import { assertBound, type Bound, extremes } from "../../helpers/observe/timeline.ts";
import { attachRolloutPicture } from "../../helpers/traffic/rollout-picture.ts";

podSecurity("baseline"); // root images (nginx, busybox), no host access

const REPLICAS = 3;
const STRATEGIES = [
  { maxSurge: 0, maxUnavailable: 1 },
  { maxSurge: 1, maxUnavailable: 1 },
  { maxSurge: 1, maxUnavailable: 0 },
] as const;

function boundsFor(maxSurge: number, maxUnavailable: number): Bound<RolloutState>[] {
  const most = REPLICAS + maxSurge;
  const least = REPLICAS - maxUnavailable;
  const show = showRolloutState;
  return [
    {
      description: `pods counted (not terminating) <= replicas + maxSurge = ${most}`,
      holds: (s) => s.counted <= most,
      show,
    },
    { description: `sum of ReplicaSet spec.replicas <= ${most}`, holds: (s) => s.specTotal <= most, show },
    { description: `ready pods >= replicas - maxUnavailable = ${least}`, holds: (s) => s.ready >= least, show },
    { description: `Deployment availableReplicas >= ${least}`, holds: (s) => s.available >= least, show },
  ];
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

      await step(`assert: the bounds held at each of ${timeline.samples.length} watch events`, () => {
        for (const bound of boundsFor(maxSurge, maxUnavailable)) assertBound(timeline, bound);
        const peak = extremes(timeline, (s) => s.counted);
        const objects = extremes(timeline, (s) => s.objects);
        const ready = extremes(timeline, (s) => s.ready);
        log(
          `peak counted ${peak?.max.value.counted}, peak pod objects ${objects?.max.value.objects}, ` +
            `lowest ready ${ready?.min.value.ready}, over ${timeline.samples.length} events in ${Math.round((Date.now() - started) / 100) / 10}s`,
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
