/**
 * Testname: Probing container, the recommended startup + liveness + readiness combination
 * Description: An nginx pod with the field notes' recommended probes (startup /health with a 30 × 1 s
 *   budget, liveness /health, readiness /ready; periods shortened to 1 s) whose /health appears START_S s
 *   after it starts MUST NOT be restarted while starting (the startup probe holds liveness back) and MUST
 *   report started=true no earlier than START_S. Started but without /ready it MUST NOT be Ready: the
 *   Service lists it with ready=false. With /ready it MUST become a ready endpoint and answer through the
 *   Service; without /ready again it MUST leave the ready set and MUST NOT be restarted. Once /health is
 *   removed, liveness MUST restart it inside failureThreshold × period + timeout + allowance (Unhealthy and
 *   Killing events), and the new container MUST go through the startup probe again (started after START_S,
 *   restartCount staying 1, not Ready since its /ready is gone).
 * Not covered: rolling updates with these probes, ConfigMap/Secret parts of the field notes' production app.
 * Serial or disruptive: no; one pod and one Service in the test's namespace.
 * On purpose: KOC_PROBES_SABOTAGE=1 points the liveness probe at /ready (a common misconfiguration): the
 *   started pod is restarted although only readiness should fail, so "not restarted" is violated.
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
  probesSabotage,
  probeTiming,
  RestartCounter,
  restartsOf,
  restartWindow,
  secondsBetween,
} from "../../helpers/observe/probe-evidence.ts";
import { httpAnswers, shell, startHttpClient } from "../../helpers/traffic/exec.ts";

podSecurity("baseline"); // root images (nginx, busybox), no host access

const SABOTAGE = probesSabotage();
const START_S = 5;
const PERIOD_MS = 1000; // periodSeconds of all three probes in manifests/probes/recommended-combination
const HTML = "/usr/share/nginx/html";

async function sh(ns: TestNamespace, script: string): Promise<void> {
  await shell(ns, "app", script);
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
    const liveness = restartWindow(probeTiming(pod, "nginx", "livenessProbe"), {
      failingFromS: 0,
      allowanceS: kubeletAllowanceS(),
      reference: "/health was removed",
    });

    const startedPod = await step(`assert: started without a restart (startup budget: ${startup.explain})`, () =>
      waitFor(`container ${ns.name}/app/nginx started, restartCount 0`, started(0), T.podStart, { signal: ns.signal }),
    );
    // started=true has no timestamp in the status: measure from the container's start to when we saw it (poll 250 ms).
    const latestStart = START_S + 2 + kubeletAllowanceS(); // /health written, then within two startup periods
    const startedAfter = secondsBetween(containerStatus(startedPod, "nginx")?.state?.running?.startedAt, new Date());
    await step(
      `measured: started ${Math.round(startedAfter)}s after the container (not before ${START_S}s, bound ${latestStart}s)`,
      () => {
        expect(startedAfter, `seconds to started=true of ${ns.name}/app/nginx`).toBeGreaterThanOrEqual(START_S - 1);
        expect(startedAfter, `seconds to started=true of ${ns.name}/app/nginx`).toBeLessThanOrEqual(latestStart);
      },
    );

    await step("assert: started but without /ready: listed not ready, not restarted, over 3 periods", async () => {
      await waitFor(`service ${ns.name}/app lists the pod with ready=false`, noneReady, T.serviceReachable);
      await holdsFor(`container ${ns.name}/app/nginx is not restarted once started`, restarts(0), 3 * PERIOD_MS);
      await holdsFor(`service ${ns.name}/app has no ready endpoint`, noneReady, PERIOD_MS);
    });

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

    await step("act+assert: remove /ready; the pod leaves the ready set and is not restarted", async () => {
      await sh(ns, `rm -f ${HTML}/ready`);
      await waitFor(`service ${ns.name}/app: no ready endpoint`, noneReady, T.serviceReachable);
      await holdsFor(`container ${ns.name}/app/nginx is not restarted by readiness`, restarts(0), 5 * PERIOD_MS);
    });

    await step(`act+assert: remove /health; liveness restarts the container (${liveness.explain})`, async () => {
      await sh(ns, `rm -f ${HTML}/health`);
      await waitFor(`container ${ns.name}/app/nginx restarted once`, restarts(1), liveness.latestS * 1000);
      await waitFor(
        `events of pod ${ns.name}/app: Unhealthy and Killing`,
        podEvents(ns, "app", LIVENESS_RESTART_EVENTS),
        T.apiCall,
      );
    });

    await step("assert: the new container goes through startup again and is not ready without /ready", async () => {
      await waitFor(`container ${ns.name}/app/nginx started again, restartCount 1`, started(1), startup.latestS * 1000);
      await holdsFor(`service ${ns.name}/app has no ready endpoint after the restart`, noneReady, 2 * PERIOD_MS);
    });
  });
});
