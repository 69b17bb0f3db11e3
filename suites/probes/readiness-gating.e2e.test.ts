/**
 * Testname: Probing container, readiness gates a Service's endpoints
 * Description: Three nginx replicas whose readiness probe is httpGet /ready, with no /ready yet, MUST run but
 *   not be Ready; the Service's EndpointSlices (discovery.k8s.io/v1) MUST list all three with ready=false and
 *   none ready (held over the readiness window below), and a request through the Service's ClusterIP MUST get no answer.
 *   Once /ready exists in one pod, exactly that pod's IP MUST become ready, and the Service MUST route to it
 *   (GET /ready answers with that pod's name). Once it exists in all three, all three IPs MUST be ready.
 *   When it is removed from one, that IP MUST leave the ready set (still listed, ready=false) and that pod
 *   MUST NOT be restarted: a readiness failure never restarts.
 *   Every "must not happen" window (no ready endpoint, exactly one ready, not restarted, stays not ready)
 *   lasts periodSeconds × failureThreshold + timeoutSeconds of the readiness probe as the server stored it,
 *   plus T.probeVerdictMargin (1 × 1 + 1 + 5 = 7 s by default, scaled): a probe result that wrongly made a
 *   pod ready, or a kubelet that restarted on a readiness failure, acts within period × failureThreshold
 *   (+ timeout) and shows in the pod status and the EndpointSlices within the margin, so the window sees it.
 * Not covered: publishNotReadyAddresses, terminating endpoints, kube-proxy lag measurements, NodePort.
 * Serial or disruptive: no; everything lives in the test's namespace.
 * On purpose: KOC_PROBES_SABOTAGE=1 also creates /ready in a second pod, 4 s after the first (later than a
 *   window of 2 probe periods would look), so "exactly that pod's IP" (awaited, then held over the readiness
 *   window) fails after a few seconds and names both ready addresses.
 */
import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, podSecurity, test } from "../../helpers/framework/fixtures.ts";
import type { TestNamespace } from "../../helpers/framework/namespace.ts";
import { capability, step } from "../../helpers/framework/report.ts";
import { T } from "../../helpers/framework/timeouts.ts";
import { holdsFor, waitFor } from "../../helpers/framework/wait.ts";
import { apply } from "../../helpers/manifests/apply.ts";
import { showPod } from "../../helpers/observe/conditions.ts";
import { sameAddresses, serviceEndpoints } from "../../helpers/observe/endpointslices.ts";
import {
  containerStatus,
  probeHoldWindow,
  probesSabotage,
  probeTiming,
  restartsOf,
} from "../../helpers/observe/probe-evidence.ts";
import { httpAnswers, httpGet, shell, showHttp, startHttpClient } from "../../helpers/traffic/exec.ts";

podSecurity("baseline"); // root images (nginx, busybox), no host access

const SABOTAGE = probesSabotage();
const READY_FILE = "/usr/share/nginx/html/ready";
const SABOTAGE_DELAY_S = 4;

/**
 * Writes the pod's own name into /ready (so a GET through the Service says which pod answered), or removes
 * it; `afterS` seconds later, in the background, when given.
 */
async function setReady(ns: TestNamespace, pod: string, ready: boolean, afterS?: number): Promise<void> {
  const now = ready ? `hostname > ${READY_FILE}` : `rm -f ${READY_FILE}`;
  await shell(ns, pod, afterS === undefined ? now : `(sleep ${afterS}; ${now}) >/dev/null 2>&1 &`);
}

describe.concurrent("Probing container: readiness gating Service endpoints", () => {
  test("should list only pods whose readiness probe passes as ready endpoints, and never restart the others", async ({
    ns,
  }) => {
    await capability("Probes", "Readiness probe");

    const { client, pods, window } = await step(
      "arrange: 3 nginx replicas without /ready, a Service, a curl client",
      async () => {
        await apply(ns, "probes/readiness-gating");
        const client = await startHttpClient(ns);
        const pods = await waitFor(
          `3 pods of ${ns.name}/web running (with pod IPs)`,
          {
            observe: async () =>
              (await ns.kube.core.listNamespacedPod({ namespace: ns.name, labelSelector: "app=web" })).items,
            ok: (items: V1Pod[]) =>
              items.length === 3 && items.every((p) => p.status?.podIP && containerStatus(p, "nginx")?.state?.running),
            show: (items: V1Pod[]) => items.map(showPod).join("; ") || "no pods",
          },
          T.podStart,
        );
        return {
          client,
          pods: pods.map((p) => ({ name: p.metadata?.name ?? "", ip: p.status?.podIP ?? "" })),
          window: probeHoldWindow(probeTiming(pods[0] as V1Pod, "nginx", "readinessProbe")),
        };
      },
    );
    const [first, second, third] = pods;
    if (!first || !second || !third) throw new Error(`expected 3 pods of ${ns.name}/web, got ${pods.length}`);
    const all = pods.map((p) => p.ip);
    const service = await ns.kube.core.readNamespacedService({ name: "web", namespace: ns.name });
    const url = `http://${service.spec?.clusterIP}/ready`;

    await step(`assert: the EndpointSlices list 3 endpoints, none ready, over ${window.explain}`, async () => {
      const noneReady = serviceEndpoints(ns, "web", (s) => s.ready.length === 0 && sameAddresses(s.notReady, all));
      await waitFor(`service ${ns.name}/web lists ${all.join(", ")} with ready=false`, noneReady, T.serviceReachable);
      await holdsFor(`service ${ns.name}/web has no ready endpoint`, noneReady, window.ms);
    });
    await step(`assert: GET ${url} through the Service gets no answer`, async () => {
      const answer = await httpGet(ns, client, url);
      expect(answer.status, `GET ${url} with no ready endpoint: ${showHttp(answer)}`).toBe(0);
    });

    await step(`act: create /ready in ${first.name} only`, async () => {
      if (SABOTAGE) await setReady(ns, second.name, true, SABOTAGE_DELAY_S);
      await setReady(ns, first.name, true);
    });
    await step(`assert: exactly ${first.ip} (${first.name}) is ready, and the Service routes to it`, async () => {
      const onlyFirst = serviceEndpoints(
        ns,
        "web",
        (s) => sameAddresses(s.ready, [first.ip]) && s.notReady.length === 2,
      );
      await waitFor(`service ${ns.name}/web: ready endpoints exactly [${first.ip}]`, onlyFirst, T.serviceReachable);
      await holdsFor(`service ${ns.name}/web: ready endpoints stay exactly [${first.ip}]`, onlyFirst, window.ms);
      const answer = await waitFor(`GET ${url} answers 200`, httpAnswers(ns, client, url), T.serviceReachable);
      expect(answer.body.trim(), `pod that answered GET ${url}`).toBe(first.name);
    });

    await step("act+assert: create /ready in all three; all three IPs are ready", async () => {
      await setReady(ns, second.name, true);
      await setReady(ns, third.name, true);
      await waitFor(
        `service ${ns.name}/web: ready endpoints exactly [${all.join(", ")}]`,
        serviceEndpoints(ns, "web", (s) => sameAddresses(s.ready, all) && s.notReady.length === 0),
        T.serviceReachable,
      );
    });

    await step(`act: remove /ready from ${second.name}`, () => setReady(ns, second.name, false));
    await step(`assert: ${second.ip} leaves the ready set and ${second.name} is never restarted`, async () => {
      const others = [first.ip, third.ip];
      const secondOut = serviceEndpoints(
        ns,
        "web",
        (s) => sameAddresses(s.ready, others) && sameAddresses(s.notReady, [second.ip]),
      );
      await waitFor(
        `service ${ns.name}/web: ${second.ip} listed with ready=false, others ready`,
        secondOut,
        T.serviceReachable,
      );
      await Promise.all([
        holdsFor(
          `container ${ns.name}/${second.name}/nginx is not restarted by a failing readiness probe`,
          restartsOf(ns, second.name, "nginx", (n) => n === 0),
          window.ms,
        ),
        holdsFor(`service ${ns.name}/web keeps ${second.ip} not ready`, secondOut, window.ms),
      ]);
    });
  });
});
