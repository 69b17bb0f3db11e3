/**
 * Testname: Probing container, the recommended startup + liveness + readiness combination
 * Description: An nginx pod with the field notes' recommended probes (startup /health with a 30 × 1 s
 *   budget, liveness /health, readiness /ready; periods shortened to 1 s) whose /health appears START_S s
 *   after it starts MUST NOT be restarted while starting (the startup probe holds liveness back) and MUST
 *   become started no earlier than START_S and within START_S + 2 periods + allowance, with no readiness
 *   probe before it. Started but without /ready it MUST NOT be Ready: the Service lists it with ready=false.
 *   With /ready it MUST become a ready endpoint and answer through the Service; without /ready again it MUST
 *   leave the ready set and MUST NOT be restarted. Once /health is removed, liveness MUST restart it inside
 *   failureThreshold × period + timeout + allowance (the Killing event, and at least failureThreshold failed
 *   /health probes in the killed container's access log: the kubelet's spam filter keeps 25 Warning events
 *   per pod, which this scenario's readiness failures use up, so Unhealthy events may be dropped), and the new container
 *   MUST go through the startup probe again: started no earlier than START_S after its own start and within
 *   the same bound, then restartCount staying 1 and not Ready (its /ready is gone). Its first readiness probe
 *   is reported, not asserted: right after a restart the kubelet may run one readiness probe before the new
 *   container's startup probe succeeds (seen 0.9 s after the restart, while the pod status still carried the
 *   previous container's started=true); the outcome that matters, not Ready, is asserted.
 *   Start times are measured from the node's timestamps only: the container's state.running.startedAt and
 *   the kubelet's probe requests in nginx's access log read with timestamps (the first startup request
 *   answered 200 is the moment the kubelet marks the container started; readiness runs only after it). The
 *   runner's clock is never compared with the node's.
 *   Each "must not happen" window lasts periodSeconds × failureThreshold + timeoutSeconds of the probe it is
 *   about, as the server stored it, plus T.probeVerdictMargin (liveness 1 × 2 + 2 + 5 = 9 s, readiness
 *   1 × 1 + 1 + 5 = 7 s by default, scaled): a wrong restart or Ready change acts within the probe's period
 *   × failureThreshold (+ timeout) and reaches the API server within the margin, so the window sees it.
 * Not covered: rolling updates with these probes, ConfigMap/Secret parts of the field notes' production app.
 * Serial or disruptive: no; one pod and one Service in the test's namespace.
 * On purpose: KOC_PROBES_SABOTAGE=1 points the liveness probe at /ready (a common misconfiguration): the
 *   started pod is restarted although only readiness should fail, so "not restarted" is violated. The start
 *   bounds were seen failing by setting START_S to 0 in the bound only ("started 5.3 s after ..., bound 2.0 s").
 */

import { describe, expect, podSecurity, test } from "../../helpers/framework/fixtures.ts";
import type { TestNamespace } from "../../helpers/framework/namespace.ts";
import { capability, step } from "../../helpers/framework/report.ts";
import { T } from "../../helpers/framework/timeouts.ts";
import { holdsFor, waitFor } from "../../helpers/framework/wait.ts";
import { apply } from "../../helpers/manifests/apply.ts";
import { sameAddresses, serviceEndpoints } from "../../helpers/observe/endpointslices.ts";
import { podEvents } from "../../helpers/observe/events.ts";
import {
  containerCheck,
  containerStatus,
  kubeletAllowanceS,
  LIVENESS_RESTART_EVENTS,
  previousProbeRequests,
  probeHoldWindow,
  probeRequestsOf,
  probesSabotage,
  probeTiming,
  RestartCounter,
  restartsOf,
  restartWindow,
  startEvidence,
} from "../../helpers/observe/probe-evidence.ts";
import { httpAnswers, shell, startHttpClient } from "../../helpers/traffic/exec.ts";

podSecurity("baseline"); // root images (nginx, busybox), no host access

const SABOTAGE = probesSabotage();
const LIVENESS_KILLING = LIVENESS_RESTART_EVENTS.filter((e) => e.reason === "Killing");
const START_S = 5;
const HTML = "/usr/share/nginx/html";

async function sh(ns: TestNamespace, script: string): Promise<void> {
  await shell(ns, "app", script);
}

/**
 * Checks from the node's timestamps that the running instance of app/nginx became started no earlier than
 * START_S after its own start and no later than `latestS`, and (with `readinessGated`) that no readiness
 * probe ran before that.
 */
async function assertStartedOnTime(
  ns: TestNamespace,
  instance: string,
  latestS: number,
  readinessGated: boolean,
): Promise<void> {
  const what = `${instance} of ${ns.name}/app/nginx`;
  const { startedAt, evidence } = await waitFor(
    `the access log of ${what} shows a startup probe answered 200 and a readiness probe after it`,
    {
      observe: async () => {
        const pod = await ns.kube.core.readNamespacedPod({ name: "app", namespace: ns.name });
        const startedAt = containerStatus(pod, "nginx")?.state?.running?.startedAt;
        const requests = await probeRequestsOf(ns, "app", "nginx");
        const paths = { startup: "/health", readiness: "/ready" };
        return { startedAt, evidence: startedAt ? startEvidence(requests, startedAt, paths) : undefined };
      },
      ok: ({ evidence }) =>
        evidence !== undefined && !Number.isNaN(evidence.startedAfterS) && !Number.isNaN(evidence.firstReadinessAfterS),
      show: (seen) => JSON.stringify(seen),
    },
    T.podStart,
    { signal: ns.signal },
  );
  if (evidence === undefined) throw new Error(`${what}: no startedAt`);
  const at = `(startedAt ${new Date(startedAt ?? 0).toISOString()})`;
  await step(
    `measured: ${instance} started ${evidence.startedAfterS}s after its start, after ${evidence.failuresBefore} failed startup probes (not before ${START_S - 1}s, bound ${latestS}s); first readiness probe at ${evidence.firstReadinessAfterS}s`,
    () => {
      const started = `seconds from startedAt to the first startup probe answered 200, ${what} ${at}`;
      expect(evidence.startedAfterS, started).toBeGreaterThanOrEqual(START_S - 1);
      expect(evidence.startedAfterS, started).toBeLessThanOrEqual(latestS);
      if (readinessGated)
        expect(
          evidence.firstReadinessAfterS,
          `seconds to the first readiness probe, which must not run before started (${evidence.startedAfterS}s), ${what} ${at}`,
        ).toBeGreaterThanOrEqual(evidence.startedAfterS);
    },
  );
}

describe.concurrent("Probing container: startup, liveness and readiness together", () => {
  test("should start slowly without restarts, gate traffic on readiness, and restart only on liveness", async ({
    ns,
  }) => {
    await capability("Probes", "Recommended probe combination");
    const counter = new RestartCounter(`container ${ns.name}/app/nginx`);
    const restarts = (n: number) => restartsOf(ns, "app", "nginx", (count) => count === n, counter);
    const started = (n: number) =>
      containerCheck(ns, "app", "nginx", (s) => s?.started === true && s.restartCount === n, counter);
    const noneReady = serviceEndpoints(ns, "app", (s) => s.ready.length === 0 && s.notReady.length === 1);

    const { client, pod } = await step(
      `arrange: the pod (/health after ${START_S}s), its Service, a client`,
      async () => {
        await apply(ns, "probes/recommended-combination", {
          startSeconds: String(START_S),
          livenessPath: SABOTAGE ? "/ready" : "/health",
        });
        return {
          client: await startHttpClient(ns),
          pod: await ns.kube.core.readNamespacedPod({ name: "app", namespace: ns.name }),
        };
      },
    );
    const startup = restartWindow(probeTiming(pod, "nginx", "startupProbe"), { allowanceS: kubeletAllowanceS() });
    const livenessHold = probeHoldWindow(probeTiming(pod, "nginx", "livenessProbe"));
    const readinessHold = probeHoldWindow(probeTiming(pod, "nginx", "readinessProbe"));
    // /health written START_S after the start (timestamps have 1 s resolution), seen by the next startup probe.
    const latestStart = START_S + 2 + kubeletAllowanceS();
    const liveness = restartWindow(probeTiming(pod, "nginx", "livenessProbe"), {
      failingFromS: 0,
      allowanceS: kubeletAllowanceS(),
      reference: "/health was removed",
    });

    const startedPod = await step(`assert: started without a restart (startup budget: ${startup.explain})`, () =>
      waitFor(`container ${ns.name}/app/nginx started, restartCount 0`, started(0), T.podStart, { signal: ns.signal }),
    );
    await assertStartedOnTime(ns, "the first container", latestStart, true);

    await step(
      `assert: started but without /ready: listed not ready (${readinessHold.explain}), not restarted (${livenessHold.explain})`,
      async () => {
        await waitFor(`service ${ns.name}/app lists the pod with ready=false`, noneReady, T.serviceReachable);
        await Promise.all([
          holdsFor(`container ${ns.name}/app/nginx is not restarted once started`, restarts(0), livenessHold.ms),
          holdsFor(`service ${ns.name}/app has no ready endpoint`, noneReady, readinessHold.ms),
        ]);
      },
    );

    const ip = startedPod.status?.podIP ?? "";
    await step(
      "act+assert: create /ready; the pod becomes a ready endpoint and answers through the Service",
      async () => {
        await sh(ns, `echo ready > ${HTML}/ready`);
        await waitFor(
          `service ${ns.name}/app: ready endpoints exactly [${ip}]`,
          serviceEndpoints(ns, "app", (s) => sameAddresses(s.ready, [ip])),
          T.serviceReachable,
        );
        const service = await ns.kube.core.readNamespacedService({ name: "app", namespace: ns.name });
        await waitFor(
          "GET /ready through the Service answers 200",
          httpAnswers(ns, client, `http://${service.spec?.clusterIP}/ready`),
          T.serviceReachable,
        );
      },
    );

    await step(
      `act+assert: remove /ready; the pod leaves the ready set and is not restarted (${livenessHold.explain})`,
      async () => {
        await sh(ns, `rm -f ${HTML}/ready`);
        await waitFor(`service ${ns.name}/app: no ready endpoint`, noneReady, T.serviceReachable);
        await holdsFor(`container ${ns.name}/app/nginx is not restarted by readiness`, restarts(0), livenessHold.ms);
      },
    );

    await step(`act+assert: remove /health; liveness restarts the container (${liveness.explain})`, async () => {
      await sh(ns, `rm -f ${HTML}/health`);
      await waitFor(`container ${ns.name}/app/nginx restarted once`, restarts(1), liveness.latestS * 1000);
      await waitFor(
        `events of pod ${ns.name}/app: Killing (failed liveness probe)`,
        podEvents(ns, "app", LIVENESS_KILLING),
        T.apiCall,
      );
      // The Unhealthy events are Warnings, which the kubelet's spam filter caps at 25 per pod: the readiness
      // failures of this scenario use them up, so the liveness failures are read from the access log instead.
      // Only after the first /health answered 200: the earlier 404s were the startup probe's.
      const requests =
        (await waitFor(
          `the killed container ${ns.name}/app/nginx's log (previous)`,
          previousProbeRequests(ns, "app", "nginx"),
          T.apiCall,
          { signal: ns.signal },
        )) ?? [];
      const healthy = requests.findIndex((r) => r.path === "/health" && r.status === 200);
      const failed = requests
        .slice(healthy < 0 ? requests.length : healthy)
        .filter((r) => r.path === "/health" && r.status >= 400);
      expect(
        failed.length,
        `liveness requests of /health answered 404 in the killed container's access log (failureThreshold ${probeTiming(pod, "nginx", "livenessProbe").failureThreshold})`,
      ).toBeGreaterThanOrEqual(probeTiming(pod, "nginx", "livenessProbe").failureThreshold);
    });

    await step("assert: the new container goes through startup again", () =>
      waitFor(`container ${ns.name}/app/nginx started again, restartCount 1`, started(1), startup.latestS * 1000),
    );
    await assertStartedOnTime(ns, "the restarted container", latestStart, false);
    await step(
      `assert: the new container keeps restartCount 1 (${livenessHold.explain}) and is not ready without /ready (${readinessHold.explain})`,
      () =>
        Promise.all([
          holdsFor(
            `container ${ns.name}/app/nginx keeps restartCount 1 after the restart`,
            restarts(1),
            livenessHold.ms,
          ),
          holdsFor(`service ${ns.name}/app has no ready endpoint after the restart`, noneReady, readinessHold.ms),
        ]),
    );
  });
});
