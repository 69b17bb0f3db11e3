/**
 * Testname: Production app, configuration, placement and a restart that brings new configuration
 * Description: The production-style app of the field notes (ConfigMap with nginx.conf mounted by subPath and
 *   app.env, Secret as env, 3 replicas with requests 100m/128Mi and limits 200m/256Mi, liveness /health,
 *   readiness /ready, RollingUpdate maxSurge 1 / maxUnavailable 1, a ClusterIP and a NodePort Service).
 *   Its 3 pods MUST run on 3 distinct nodes and MUST have QoS class Burstable in their status. The ClusterIP
 *   Service MUST answer "Hello from Production App v1.0" from a client pod in its namespace by its short name
 *   (`http://production-app/`), its FQDN and its ClusterIP (a failure names the ways that failed), and so
 *   MUST the NodePort on every Ready node (from a client pod, and from outside the cluster: this host); a node
 *   that is not Ready is left out and named in the test's log (the NodePort prober does the same).
 *   Changing only the ConfigMap MUST NOT change the answer: nginx.conf is mounted by subPath, which the
 *   kubelet never refreshes in a running container, and nginx reads its configuration once, at start. The
 *   answer is held at v1 until the change has demonstrably reached the pods (app.env, a plain ConfigMap volume,
 *   shows the new version), and the subPath file still holds v1 then. `rollout restart` MUST then bring
 *   "Hello from Production App v2.0 - UPDATED!" with no failed request, inside the cluster and through the NodePort.
 *   Every answer's version is recorded: the X-App-Version header nginx.conf sets (the file the pod started
 *   with). Before the restart every answer MUST say v1.0, while old and new pods answer v1.0 or v2.0, and
 *   once only new pods answer (after the last answer of an old pod, at the latest when the rollout completed)
 *   v2.0; a pod of the new ReplicaSet MUST never say v1.0, an answer without a version is a failure
 *   (helpers/traffic/prober.ts assertAnsweredVersions). Which ReplicaSet a pod belongs to comes from a watch
 *   (pod-template-hash label): an answer from a pod of neither is a failure; each prober MUST cover the restart
 *   (assertCoverage). The in-cluster prober's records are judged on this host's clock, corrected by its node's
 *   measured offset (helpers/traffic/clocks.ts; a node too far off or too uncertain, or whose offset moved
 *   while the prober ran: ClockSkewError).
 * Not covered: the Secret's values inside the container (suites on Secrets cover that), liveness restarts,
 *   the NodePort Service's DNS name (NodePort requests go to node addresses).
 * Serial or disruptive: no; each test has its own namespace and the API assigns the NodePort (the field notes'
 *   fixed 30080 would collide between concurrent tests). On the local test bed the restart's probed window
 *   takes turns with the zero-downtime scenarios (helpers/traffic/traffic-slot.ts): their probers and
 *   rollouts on the same 2 cores paused this file's in-cluster prober for 1.2-1.8 s.
 * Requires: 3 nodes a pod of the app can be scheduled on (Ready, not cordoned, no NoSchedule/NoExecute
 *   taint), for every test of this file: the topology spread puts one replica per node, so with fewer none of
 *   the three can become available. Each test skips naming the unusable nodes and why; on the local test bed,
 *   which promises three schedulable nodes, it fails naming them instead (helpers/manifests/prereq.ts). Requests
 *   from this host go only to node addresses inside the node network the test bed publishes
 *   (helpers/traffic/node-access.ts); elsewhere that test is skipped with the reason.
 * On purpose (each made to fail once by a temporary edit): limits equal to requests in
 *   30-deployment.yaml → "pods whose status.qosClass is not Burstable" lists 3 Guaranteed pods; no preStop and
 *   terminationGracePeriodSeconds 0 → FailedRequestsError naming each outage (connection refused); a NodePort
 *   Service selecting no pods → timeouts naming the node URL and "ECONNREFUSED"; a pod-template annotation
 *   carrying the config version (the Helm checksum pattern, which does restart pods) → HoldViolationError
 *   "violated after 1.6s: HTTP 200, body: Hello from Production App v2.0 - UPDATED!"; the v1 ConfigMap
 *   applied again just before the restart (`await apply(ns, "production-app/app/10-config.yaml", V1)` before
 *   restartRollout) → the new pods start with the v1 nginx.conf: VersionSwitchError "once only new pods
 *   answered ...: answers other than v2.0: v1.0 ×N from production-app-<new hash>-..." and "pods answering
 *   another version than their ReplicaSet's" (the watch alone counted them v2). Live on the test bed: a worker
 *   whose kubelet is stopped (`docker exec k8s-ops-conformance-worker systemctl stop kubelet`, NotReady after
 *   about 40 s) fails every test with TestbedBrokenError "the local test bed is broken: ... unusable:
 *   k8s-ops-conformance-worker: NotReady (Kubelet stopped posting node status)" instead of skipping them.
 *   A node made NotReady by a temporary edit of nodeAddress (helpers/traffic/node-access.ts) is left out of
 *   both NodePort checks and the NodePort prober, each logging "left out, not Ready: <node> (<address>): ...".
 */
import type { V1Pod } from "@kubernetes/client-node";
import { config } from "../../helpers/framework/config.ts";
import { describe, expect, podSecurity, type TestNamespace, test } from "../../helpers/framework/fixtures.ts";
import { attach, capability, log, step } from "../../helpers/framework/report.ts";
import { BOUNDS, formatDuration, POLL, T } from "../../helpers/framework/timeouts.ts";
import { type Check, holdsFor, waitFor } from "../../helpers/framework/wait.ts";
import { apply } from "../../helpers/manifests/apply.ts";
import { requireSchedulableNodes } from "../../helpers/manifests/prereq.ts";
import { deploymentAvailable, isPodReady } from "../../helpers/observe/conditions.ts";
import { restartRollout, rolloutSettled, watchRollout } from "../../helpers/observe/rollout.ts";
import { assertBound, sampleWhile, Timeline } from "../../helpers/observe/timeline.ts";
import { exec, type HttpResult, httpAnswers, httpGet, showHttp, startHttpClient } from "../../helpers/traffic/exec.ts";
import {
  hostAnswers,
  readyNodeAddresses,
  requireHostNodeAccess,
  showLeftOut,
} from "../../helpers/traffic/node-access.ts";
import {
  assertAnsweredVersions,
  assertCoverage,
  assertNoFailedRequests,
  assertVersionSwitch,
  showSummary,
  startNodePortProber,
  startPodProber,
  summarize,
  versionSegments,
} from "../../helpers/traffic/prober.ts";
import { reachService } from "../../helpers/traffic/service-routes.ts";
import { takeTrafficSlot } from "../../helpers/traffic/traffic-slot.ts";

podSecurity("baseline"); // root images (nginx, busybox), no host access

const APP = "production-app";
const V1 = { answer: "Hello from Production App v1.0", version: "v1.0" };
const V2 = { answer: "Hello from Production App v2.0 - UPDATED!", version: "v2.0" };
// A ConfigMap change reaches a plain volume within the kubelet's sync period plus its cache TTL (about a
// minute); upstream GetPodSecretUpdateTimeout allows 240 s.
const VOLUME_UPDATE = 2 * T.podStart;

/** The app's pods that are not terminating, with the node each runs on. */
async function appPods(ns: TestNamespace): Promise<V1Pod[]> {
  const pods = await ns.kube.core.listNamespacedPod({ namespace: ns.name, labelSelector: `app=${APP}` });
  return pods.items.filter((p) => p.metadata?.deletionTimestamp === undefined);
}

const placement = (pods: V1Pod[]): string[] =>
  pods.map((p) => `${p.metadata?.name} on ${p.spec?.nodeName} (${p.status?.qosClass})`).sort();

/** Applies the app with `config`, starts a client pod and waits until 3 replicas are available. */
async function startApp(
  ns: TestNamespace,
  config = V1,
): Promise<{ client: string; clusterIP: string; nodePort: number }> {
  return step(`arrange: apply the production app answering "${config.answer}", start a curl client`, async () => {
    await apply(ns, "production-app/app", config);
    const client = await startHttpClient(ns);
    await waitFor(`deployment ${ns.name}/${APP} has 3 available replicas`, deploymentAvailable(ns, APP, 3), T.rollout, {
      signal: ns.signal,
    });
    const [service, nodePortService] = await Promise.all([
      ns.kube.core.readNamespacedService({ name: APP, namespace: ns.name }),
      ns.kube.core.readNamespacedService({ name: `${APP}-nodeport`, namespace: ns.name }),
    ]);
    return {
      client,
      clusterIP: service.spec?.clusterIP ?? "",
      nodePort: nodePortService.spec?.ports?.[0]?.nodePort ?? 0,
    };
  });
}

/** A Check: GET `url` from the client pod answers 200 with `text`. */
const answers = (ns: TestNamespace, client: string, url: string, text: string) =>
  httpAnswers(ns, client, url, 200, text);

/** The file `path` in every Ready app pod contains `text` (one line per pod). */
function everyPodShows(ns: TestNamespace, path: string, text: string): Check<string[]> {
  return {
    observe: async () =>
      Promise.all(
        (await appPods(ns)).filter(isPodReady).map(async (pod) => {
          const name = pod.metadata?.name ?? "";
          const content = (await exec(ns, name, ["cat", path], { container: "nginx" })).stdout;
          return `${name}: ${content.trim().replace(/\n/g, " | ")}`;
        }),
      ),
    ok: (lines) => lines.length > 0 && lines.every((line) => line.includes(text)),
    show: (lines) => `${path} in ${ns.name}: ${lines.join("; ").slice(0, 1200)}`,
  };
}

describe.concurrent("Production app: ConfigMap, Secret, Burstable replicas spread over nodes, ClusterIP and NodePort", () => {
  test("should spread 3 Burstable replicas over 3 nodes and answer v1 through the ClusterIP and every node's NodePort", async ({
    ns,
    kube,
    skip,
  }) => {
    await capability("Workloads", "Production app");
    await requireSchedulableNodes({ kube, skip }, 3);
    const app = await startApp(ns);

    await step("assert: the 3 pods run on 3 distinct nodes, each with QoS class Burstable", async () => {
      const pods = await appPods(ns);
      const nodes = new Set(pods.map((p) => p.spec?.nodeName));
      expect(nodes.size, `distinct nodes of ${ns.name}/${APP}: ${placement(pods).join(", ")}`).toBe(3);
      expect(
        placement(pods).filter((line) => !line.endsWith("(Burstable)")),
        "pods whose status.qosClass is not Burstable",
      ).toEqual([]);
    });

    const inside = await step(
      `assert: GET ${APP} by short name, FQDN and ClusterIP from the client pod answers "${V1.answer}"`,
      () => reachService(ns, app.client, APP, (r) => r.body.includes(V1.answer)),
    );
    for (const answer of inside) expect(answer.body.trim(), `body of GET ${APP} from the client pod`).toBe(V1.answer);

    // A NotReady node's NodePort is not what this checks: only Ready nodes are asked, the others are named.
    const { ready, leftOut } = await readyNodeAddresses(kube);
    log(
      `NodePort ${app.nodePort} checked from the client pod on the ${ready.length} Ready nodes; ${showLeftOut(leftOut)}`,
    );
    expect(ready.length, `Ready nodes to check NodePort ${app.nodePort} on; ${showLeftOut(leftOut)}`).toBeGreaterThan(
      0,
    );
    for (const node of ready) {
      const nodeUrl = `http://${node.address}:${app.nodePort}/`;
      await step(`assert: GET ${nodeUrl} (NodePort on ${node.name}) from the client pod answers "${V1.answer}"`, () =>
        waitFor(
          `GET ${nodeUrl} from pod ${app.client} answers "${V1.answer}"`,
          answers(ns, app.client, nodeUrl, V1.answer),
          T.serviceReachable,
        ),
      );
    }
  });

  test("should answer v1 through the NodePort of every node from outside the cluster", async ({ ns, kube, skip }) => {
    await capability("Workloads", "Production app");
    await requireSchedulableNodes({ kube, skip }, 3);
    const access = await requireHostNodeAccess({ kube, skip });
    const app = await startApp(ns);
    log(
      `NodePort ${app.nodePort} checked from this host on the ${access.nodes.length} Ready nodes; ${showLeftOut(access.leftOut)}`,
    );

    for (const node of access.nodes) {
      const nodeUrl = `http://${node.address}:${app.nodePort}/`;
      const answer = await step(
        `assert: GET ${nodeUrl} (NodePort on ${node.name}) from this host answers "${V1.answer}"`,
        () =>
          waitFor(
            `GET ${nodeUrl} from this host answers "${V1.answer}"`,
            hostAnswers(node.address, app.nodePort, V1.answer),
            T.serviceReachable,
          ),
      );
      expect(answer.body.trim(), `body of GET ${nodeUrl} from this host`).toBe(V1.answer);
    }
  });
});

describe.concurrent("Production app: configuration changes and rollout restart", () => {
  test(
    "should keep answering v1 when only the ConfigMap changes, and answer v2 after rollout restart with no failed request",
    async ({ ns, kube, skip }) => {
      await capability("Workloads", "Production app");
      await requireSchedulableNodes({ kube, skip }, 3);
      const app = await startApp(ns);
      const url = `http://${app.clusterIP}/`;
      await step(`arrange: GET ${url} (ClusterIP) answers "${V1.answer}"`, () =>
        waitFor(`GET ${url} answers "${V1.answer}"`, answers(ns, app.client, url, V1.answer), T.serviceReachable),
      );

      await step(`act: apply the ConfigMap with "${V2.answer}" (nothing else changes)`, () =>
        apply(ns, "production-app/app/10-config.yaml", V2),
      );

      const seen = new Timeline<HttpResult>(`GET ${url} while the new ConfigMap reaches the pods`);
      await step(
        `assert: the answer stays "${V1.answer}" until app.env in every pod shows the new version`,
        async () => {
          const started = performance.now();
          await sampleWhile(
            seen,
            () => httpGet(ns, app.client, url),
            POLL.normal,
            waitFor(
              `/etc/app/app.env (a plain ConfigMap volume) shows APP_VERSION=${V2.version} in every pod: the kubelet delivered the change`,
              everyPodShows(ns, "/etc/app/app.env", `APP_VERSION=${V2.version}`),
              VOLUME_UPDATE,
              { interval: POLL.slow, signal: ns.signal },
            ),
          );
          const took = formatDuration(performance.now() - started);
          await attach(`answers until the change reached every pod (${took})`, seen.render(showHttp));
          assertBound(seen, {
            description: `GET ${url} answers "${V1.answer}"`,
            holds: (r) => r.status === 200 && r.body.trim() === V1.answer,
            show: showHttp,
          });
        },
      );
      await step(`assert: the answer stays "${V1.answer}" for ${formatDuration(T.holdWindow)} more`, () =>
        holdsFor(
          `GET ${url} answers "${V1.answer}" although app.env in every pod shows ${V2.version}`,
          answers(ns, app.client, url, V1.answer),
          T.holdWindow,
          { interval: POLL.normal, signal: ns.signal },
        ),
      );
      await step("assert: nginx.conf, mounted by subPath, still holds the v1 answer in every pod", async () => {
        const check = everyPodShows(ns, "/etc/nginx/nginx.conf", V1.answer);
        const files = await check.observe();
        expect(check.ok(files), check.show?.(files)).toBe(true);
      });

      const release = await step("arrange: the test bed's traffic slot (one probed scenario at a time)", () =>
        takeTrafficSlot(ns, "production-app rollout restart"),
      );
      const probers = await step(
        "act: start continuous requests to the ClusterIP (in-cluster) and the NodePort",
        async () => {
          const started = [
            await startPodProber(ns, url, { name: "clusterip" }),
            await startNodePortProber(ns, `${APP}-nodeport`, { name: "nodeport" }),
          ];
          for (const prober of started)
            ns.defer(`stop prober ${prober.source}`, async () => void (await prober.stop()));
          return started;
        },
      );
      const watched = await watchRollout(ns, APP, `app=${APP}`);
      const restart = { label: "rollout restart", from: Date.now(), to: 0 };
      await step("act: rollout restart, wait until only the new ReplicaSet's 3 pods are left", async () => {
        await restartRollout(ns, APP);
        await waitFor(`deployment ${ns.name}/${APP} rolled out`, rolloutSettled(ns, APP, `app=${APP}`, 3), T.rollout, {
          signal: ns.signal,
        });
      });
      restart.to = Date.now();
      const records = (await Promise.all(probers.map((p) => p.stop()))).flat();
      await watched.stop();
      release();

      await step("assert: no request failed, and every answer said v1, then v1 or v2, then only v2", async () => {
        // Each answer's version is the X-App-Version it carried (from the nginx.conf its pod started with);
        // the pods the watch saw (pod-template-hash label) say which ReplicaSet answered: an answer from any
        // other pod is a failure, and a new pod answering v1 is one, never counted as v2.
        const sets = watched.replicaSets().map((rs) => rs.metadata?.name ?? "?");
        expect(sets, "ReplicaSets of the rollout restart: the v1 one, then exactly one new one").toHaveLength(2);
        const [v1Set, v2Set] = sets;
        const versions = new Map([
          [v1Set, V1.version],
          [v2Set, V2.version],
        ]);
        const versionOf = (pod: string): string | undefined => versions.get(watched.versionOf(pod));
        const summaries = summarize(records).map(showSummary);
        const segments = versionSegments(records, versionOf).map((s) => `${s.source}: ${s.version} ×${s.answers}`);
        await attach("requests during rollout restart", [...summaries, "", ...segments].join("\n"));
        assertCoverage(records, [restart], probers, BOUNDS.proberGap);
        assertNoFailedRequests(records, { maxFailureRatio: config().maxFailedRequestRatio });
        assertVersionSwitch(records, versionOf, { from: V1.version, to: V2.version });
        assertAnsweredVersions(
          records,
          probers.map((p) => p.source),
          {
            from: V1.version,
            to: V2.version,
            started: restart.from,
            completed: restart.to,
            sideOf: (pod) => {
              const version = versionOf(pod);
              return version === V1.version ? "from" : version === V2.version ? "to" : undefined;
            },
          },
        );
      });
      await step(`assert: GET ${url} (ClusterIP) answers "${V2.answer}"`, async () => {
        const answer = await httpGet(ns, app.client, url);
        expect(answer.body.trim(), `body of GET ${url} after the restart`).toBe(V2.answer);
      });
    },
    T.test + T.trafficSlot,
  ); // may first wait for the test bed's traffic slot
});
