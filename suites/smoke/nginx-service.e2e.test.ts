/**
 * Testname: Smoke, nginx Deployment behind a ClusterIP Service
 * Description: A Deployment of 2 nginx replicas MUST become available (2 updated, ready and available
 *   replicas, condition Available=True). Its Service MUST list 2 ready endpoints, and an HTTP GET to the
 *   Service's ClusterIP from a client pod in the same namespace MUST return 200 with nginx's welcome page.
 *   It is the harness's own end-to-end proof: namespace, apply, waits, exec, reports, cleanup.
 * Not covered: cluster DNS (the request goes to the ClusterIP), NodePort/LoadBalancer, rollouts.
 * Serial or disruptive: no; everything lives in the test's namespace.
 * On purpose: KOC_SMOKE_SABOTAGE=1 makes it expect a page nginx does not serve, so it fails and the
 *   report shows the failure diagnostics (events, pods, logs, describe).
 */

import { config } from "../../helpers/framework/config.ts";
import { describe, expect, podSecurity, test } from "../../helpers/framework/fixtures.ts";
import { capability, step } from "../../helpers/framework/report.ts";
import { T } from "../../helpers/framework/timeouts.ts";
import { waitFor } from "../../helpers/framework/wait.ts";
import { apply } from "../../helpers/manifests/apply.ts";
import { deploymentAvailable, serviceEndpointsReady } from "../../helpers/observe/conditions.ts";
import { httpAnswers, startHttpClient } from "../../helpers/traffic/exec.ts";

podSecurity("baseline"); // root images (nginx, busybox), no host access

const WELCOME = config().smokeSabotage ? "Welcome to a page nginx does not serve" : "Welcome to nginx!";

describe.concurrent("Smoke: nginx Deployment behind a ClusterIP Service", () => {
  test("should answer HTTP through its ClusterIP Service from a client pod @smoke", async ({ ns }) => {
    await capability("Smoke", "Deployment and Service");

    const client = await step("arrange: apply the nginx Deployment and Service, start a curl client", async () => {
      await apply(ns, "smoke/nginx-service");
      return startHttpClient(ns);
    });

    await step("assert: the Deployment is available with 2 replicas", () =>
      waitFor(`deployment ${ns.name}/web has 2 available replicas`, deploymentAvailable(ns, "web", 2), T.rollout),
    );
    await step("assert: the Service has 2 ready endpoints", () =>
      waitFor(`service ${ns.name}/web has 2 ready endpoints`, serviceEndpointsReady(ns, "web", 2), T.serviceReachable),
    );

    const response = await step("act: GET the Service's ClusterIP from the client pod", async () => {
      const service = await ns.kube.core.readNamespacedService({ name: "web", namespace: ns.name });
      const url = `http://${service.spec?.clusterIP}/`;
      // kube-proxy may program the rules a moment after the endpoints turn ready: wait for the first answer.
      return waitFor(`GET ${url} from pod ${client} answers 200`, httpAnswers(ns, client, url), T.serviceReachable);
    });

    await step("assert: the answer is nginx's welcome page", () => {
      expect(response.body, `body of GET http://web.${ns.name} (ClusterIP)`).toContain(WELCOME);
    });
  });
});
