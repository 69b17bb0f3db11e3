/**
 * Testname: Rolling update, zero downtime under continuous requests; Recreate as the negative twin
 * Description: While a 3-replica nginx Deployment (RollingUpdate maxSurge 1 / maxUnavailable 0, readiness
 *   probe, preStop delay, grace period: see manifests/rollouts/zero-downtime/deployment.yaml) is rolled out
 *   three times, by `set image`, then `rollout restart`, then `rollout undo`, requests sent back to back,
 *   a new connection each, through the Service's DNS name from a client pod and through the NodePort from
 *   outside the cluster, MUST all succeed (HTTP 200 from one of the Deployment's pods), and in each rollout
 *   the answers MUST switch from the old ReplicaSet's pods to the new one's.
 *   With strategy Recreate, the same change MUST interrupt service, and the prober MUST report the outage.
 * Not covered: long-lived (keep-alive) connections, which a rollout may cut; LoadBalancer Services;
 *   requests slower than the 5 s preStop delay.
 * Serial or disruptive: no; everything lives in the test's namespace (NodePorts are assigned by the cluster).
 * Failure policy: strict (no failed request). Requests from this host go only to node addresses inside the
 *   test bed's published nodeNetwork; elsewhere the NodePort is probed from the client pod (see helpers/traffic/prober.ts).
 * On purpose: made to fail by removing the preStop delay and readiness probe (failed requests, reported
 *   with each outage); the Recreate twin fails whenever the prober misses an outage.
 */

import { config } from "../../helpers/framework/config.ts";
import { describe, expect, podSecurity, test } from "../../helpers/framework/fixtures.ts";
import type { TestNamespace } from "../../helpers/framework/namespace.ts";
import { capability, log, step } from "../../helpers/framework/report.ts";
import { formatDuration, T } from "../../helpers/framework/timeouts.ts";
import { waitFor } from "../../helpers/framework/wait.ts";
import { apply } from "../../helpers/manifests/apply.ts";
import {
  restartRollout,
  rolloutSettled,
  setImage,
  showRolloutState,
  undoRollout,
  type WatchedRollout,
  watchRollout,
} from "../../helpers/observe/rollout.ts";
import { startHttpClient } from "../../helpers/traffic/exec.ts";
import {
  assertNoFailedRequests,
  assertVersionSwitch,
  FailedRequestsError,
  outages,
  type ProbeRecord,
  type Prober,
  showSummary,
  startNodePortProber,
  startPodProber,
  summarize,
} from "../../helpers/traffic/prober.ts";
import { attachRolloutPicture } from "../../helpers/traffic/rollout-picture.ts";

podSecurity("baseline"); // root images (nginx, busybox), no host access

const SELECTOR = "app=web";
const ROLLING = "{type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}";
const RECREATE = "{type: Recreate}";

interface Traffic {
  watched: WatchedRollout;
  probers: Prober[];
}

/** The workload available, a client pod, the rollout watched and both probers sending requests. */
async function arrange(ns: TestNamespace, strategy: string): Promise<Traffic> {
  return step("arrange: 3 nginx replicas behind a ClusterIP and a NodePort Service, probers running", async () => {
    await apply(ns, "rollouts/zero-downtime", { strategy });
    const client = await startHttpClient(ns);
    await waitFor(`deployment ${ns.name}/web rolled out`, rolloutSettled(ns, "web", SELECTOR, 3), T.rollout);
    const watched = await watchRollout(ns, "web", SELECTOR);
    const probers = [
      await startPodProber(ns, client, `http://web.${ns.name}.svc/`, { name: "service" }),
      await startNodePortProber(ns, client, "web-nodeport"),
    ];
    return { watched, probers };
  });
}

/** Stops the probers and the watch; attaches the picture and the probers' summaries. */
async function finish(title: string, traffic: Traffic, marks: { label: string; at: number }[]): Promise<ProbeRecord[]> {
  const records = (await Promise.all(traffic.probers.map((p) => p.stop()))).flat();
  const timeline = await traffic.watched.stop();
  for (const summary of summarize(records)) log(showSummary(summary));
  await attachRolloutPicture(
    {
      title,
      origin: traffic.watched.origin,
      states: timeline.samples,
      records,
      versionOf: traffic.watched.versionOf,
      marks,
    },
    showRolloutState,
  );
  return records;
}

describe.concurrent("Rolling update under continuous requests", () => {
  test("should answer every request while rolling out by set image, rollout restart and rollout undo", async ({
    ns,
  }) => {
    await capability("Workloads", "Zero-downtime rolling update");
    const traffic = await arrange(ns, ROLLING);
    const actions = [
      { label: "set image", run: () => setImage(ns, "web", "nginx", ns.images.nginxNext) },
      { label: "rollout restart", run: () => restartRollout(ns, "web") },
      { label: "rollout undo", run: () => undoRollout(ns, "web") },
    ];
    const marks: { label: string; at: number }[] = [];
    for (const action of actions) {
      await step(`act: ${action.label}, until every old pod is gone`, async () => {
        marks.push({ label: action.label, at: Date.now() });
        await action.run();
        await waitFor(
          `deployment ${ns.name}/web rolled out after ${action.label}`,
          rolloutSettled(ns, "web", SELECTOR, 3),
          T.rollout,
        );
      });
    }
    const end = Date.now();
    const records = await finish("set image, restart, undo under requests", traffic, marks);

    await step("assert: no request failed (or no more than KOC_MAX_FAILED_REQUEST_RATIO)", () =>
      assertNoFailedRequests(records, { maxFailureRatio: config().maxFailedRequestRatio }),
    );
    await step("assert: in each rollout the answers switched from the old ReplicaSet to the new one", () => {
      const [first, second, third, fourth] = traffic.watched.replicaSets().map((rs) => rs.metadata?.name ?? "?");
      expect(fourth, "undo rolls back to the set-image ReplicaSet, it creates no 4th one").toBeUndefined();
      const windows = [
        { from: first, to: second },
        { from: second, to: third },
        { from: third, to: second },
      ];
      windows.forEach((expected, i) => {
        const start = marks[i]?.at ?? 0;
        const stop = marks[i + 1]?.at ?? end;
        const inWindow = records.filter((r) => r.at >= start && r.at < stop);
        assertVersionSwitch(inWindow, traffic.watched.versionOf, {
          from: expected.from ?? "?",
          to: expected.to ?? "?",
        });
      });
    });
  });

  test("should interrupt requests when the strategy is Recreate, and the prober should report the outage", async ({
    ns,
  }) => {
    await capability("Workloads", "Zero-downtime rolling update");
    const traffic = await arrange(ns, RECREATE);
    const at = Date.now();
    await step("act: set image with strategy Recreate, until every new pod is Ready", async () => {
      await setImage(ns, "web", "nginx", ns.images.nginxNext);
      await waitFor(`deployment ${ns.name}/web recreated`, rolloutSettled(ns, "web", SELECTOR, 3), T.rollout);
    });
    const records = await finish("Recreate under requests", traffic, [{ label: "set image (Recreate)", at }]);

    await step("assert: every prober saw an outage, and assertNoFailedRequests reports it", () => {
      for (const source of new Set(records.map((r) => r.source))) {
        const gaps = outages(records).filter((o) => o.source === source);
        expect(gaps.length, `outages seen by prober ${source}`).toBeGreaterThan(0);
        log(`${source}: longest outage ${formatDuration(Math.max(...gaps.map((o) => o.to - o.from)))}`);
      }
      expect(() => assertNoFailedRequests(records)).toThrowError(FailedRequestsError);
    });
  });
});
