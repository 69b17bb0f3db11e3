/**
 * Testname: Smoke, nginx Deployment behind a ClusterIP Service
 * Description: A Deployment of 2 nginx replicas MUST become available (2 updated, ready and available
 *   replicas, condition Available=True). Its Service MUST list 2 distinct ready pods in its EndpointSlices
 *   (one pod listed twice counts once), and an HTTP GET from a client pod in the same namespace MUST return
 *   200 with nginx's welcome page by each of the three ways a workload reaches a Service: its short name
 *   (`http://web/`, through the pod's DNS search path), its FQDN (`web.<namespace>.svc.<cluster domain>`)
 *   and its ClusterIP. A failure names the ways that failed.
 *   It is the harness's own end-to-end proof: namespace, apply, waits, exec, reports, cleanup.
 * Not covered: NodePort/LoadBalancer, rollouts, DNS of other namespaces.
 * Serial or disruptive: no; everything lives in the test's namespace.
 * On purpose: KOC_SMOKE_SABOTAGE=1 gives the client pod a resolver that answers nothing
 *   (manifests/smoke/client-without-dns.yaml), as on a cluster whose Service names do not resolve: the test
 *   fails with "not reached by short name and FQDN (answered by ClusterIP)" and curl's "Could not resolve
 *   host", and the report shows the failure diagnostics (events, pods, logs, describe).
 */

import { config } from "../../helpers/framework/config.ts";
import { describe, expect, podSecurity, test } from "../../helpers/framework/fixtures.ts";
import { capability, step } from "../../helpers/framework/report.ts";
import { T } from "../../helpers/framework/timeouts.ts";
import { waitFor } from "../../helpers/framework/wait.ts";
import { apply } from "../../helpers/manifests/apply.ts";
import { deploymentAvailable, podReady } from "../../helpers/observe/conditions.ts";
import { readyEndpoints } from "../../helpers/observe/endpointslices.ts";
import { startHttpClient } from "../../helpers/traffic/exec.ts";
import { reachService } from "../../helpers/traffic/service-routes.ts";

podSecurity("baseline"); // root images (nginx, busybox), no host access

const WELCOME = "Welcome to nginx!";

describe.concurrent("Smoke: nginx Deployment behind a ClusterIP Service", () => {
  test("should answer HTTP by Service name, FQDN and ClusterIP from a client pod @smoke", async ({ ns }) => {
    await capability("Smoke", "Deployment and Service");

    const client = await step("arrange: apply the nginx Deployment and Service, start a curl client", async () => {
      await apply(ns, "smoke/nginx-service");
      if (!config().smokeSabotage) return startHttpClient(ns);
      await apply(ns, "smoke/client-without-dns.yaml");
      await waitFor(`pod ${ns.name}/http-client is Ready`, podReady(ns, "http-client"), T.podStart);
      return "http-client";
    });

    await step("assert: the Deployment is available with 2 replicas", () =>
      waitFor(`deployment ${ns.name}/web has 2 available replicas`, deploymentAvailable(ns, "web", 2), T.rollout),
    );
    await step("assert: the Service lists 2 distinct ready pods", () =>
      waitFor(`service ${ns.name}/web has 2 ready pods`, readyEndpoints(ns, "web", 2), T.serviceReachable),
    );

    // kube-proxy may program the rules a moment after the endpoints turn ready: each way waits for its first answer.
    const answers = await step("act+assert: GET web by short name, FQDN and ClusterIP from the client pod", () =>
      reachService(ns, client, "web", (r) => r.body.includes(WELCOME)),
    );
    await step("assert: every answer is nginx's welcome page", () => {
      for (const answer of answers) expect(answer.body, `body of GET web from ${client}`).toContain(WELCOME);
    });
  });
});
