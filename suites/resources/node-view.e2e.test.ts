/**
 * Testname: QoS classes on the node, seen from inside the containers
 * Description: For a Guaranteed pod (100m/64Mi, requests = limits), two Burstable pods (memory requests
 *   256Mi and 1Gi, limits cpu 200m and memory 2Gi) and a BestEffort pod, each container's main process
 *   MUST run with the oom_score_adj the kubelet's policy gives its class: BestEffort highest (1000),
 *   Burstable between and lower for the larger memory request (1000 - 1000 x request / node memory, exact),
 *   Guaranteed lowest (-997). Each container's cgroup, read from inside (cgroup v1 or v2, whichever the node
 *   runs), MUST carry its memory limit and its cpu limit as a CFS quota; the BestEffort container MUST have
 *   neither. The report carries a table of class, oom_score_adj and cgroup limits per pod.
 * Local test bed: its host lacks CAP_SYS_RESOURCE, so containerd runs with restrict_oom_score_adj and never
 *   gives a container a score below its own. cluster:up measures containerd's score on every node and
 *   publishes it (ConfigMap kube-public/k8s-ops-conformance-testbed, containerdOomScoreAdj); there
 *   Guaranteed MUST run with exactly max(-997, that score), and the report names the cause. Elsewhere
 *   exactly -997.
 * Not covered: the kernel's oom_score itself, cpu shares/weight values (reported, not asserted), pod-level
 *   cgroups, swap.
 * Serial or disruptive: no; four idle pods in the test's namespace.
 * On purpose: KOC_RESOURCES_SABOTAGE=1 swaps the two Burstable memory requests, so the pod named "small"
 *   gets the lower score and the order assertion fails naming both scores. The Guaranteed check failed
 *   live when the test bed's ConfigMap said containerdOomScoreAdj -999 (kubectl edit), expecting -997
 *   and reading 0.
 */

import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, podSecurity, test } from "../../helpers/framework/fixtures.ts";
import { isNotFound } from "../../helpers/framework/kube.ts";
import type { TestNamespace } from "../../helpers/framework/namespace.ts";
import { attach, capability, log, step } from "../../helpers/framework/report.ts";
import { T } from "../../helpers/framework/timeouts.ts";
import { waitFor } from "../../helpers/framework/wait.ts";
import { apply } from "../../helpers/manifests/apply.ts";
import { podReady } from "../../helpers/observe/conditions.ts";
import {
  expectedOomScoreAdj,
  GUARANTEED_OOM_SCORE_ADJ,
  memoryRequestOf,
  parseQuantity,
  type QosClass,
  resourcesOf,
  resourcesSabotage,
  runtimeOomScoreAdj,
} from "../../helpers/observe/qos.ts";
import { cgroupView } from "../../helpers/traffic/cgroup-view.ts";
import { TESTBED_CONFIGMAP } from "../../helpers/traffic/prober.ts";
import { type QosRow, qosTableHtml, qosTableMarkdown } from "../../helpers/traffic/qos-table.ts";

podSecurity("baseline"); // root images (busybox), no host access

const SABOTAGE = resourcesSabotage();
const PODS: Array<{ pod: string; qos: QosClass }> = [
  { pod: "qos-besteffort", qos: "BestEffort" },
  { pod: "qos-burstable-small", qos: "Burstable" },
  { pod: "qos-burstable-large", qos: "Burstable" },
  { pod: "qos-guaranteed", qos: "Guaranteed" },
];

/** The pod, its node's memory capacity and its container's own view: one row of the report table. */
async function readRow(ns: TestNamespace, name: string): Promise<QosRow & { spec: V1Pod }> {
  const pod = await ns.kube.core.readNamespacedPod({ name, namespace: ns.name });
  const node = await ns.kube.core.readNode({ name: pod.spec?.nodeName ?? "" });
  const capacity = parseQuantity(String(node.status?.capacity?.memory ?? ""));
  const qosClass = (pod.status?.qosClass ?? "unknown") as QosClass;
  return {
    pod: name,
    container: "app",
    qosClass,
    resources: resourcesOf(pod, "app"),
    expectedOomScoreAdj: expectedOomScoreAdj(qosClass, memoryRequestOf(pod, "app"), capacity),
    view: await cgroupView(ns, name, "app"),
    spec: pod,
  };
}

/**
 * The floor the local test bed's runtime puts under every score (its published containerd oom_score_adj);
 * undefined on any other cluster. A test bed that published none is broken: an error, never "no floor".
 */
async function testbedOomFloor(ns: TestNamespace): Promise<number | undefined> {
  let data: Record<string, string> | undefined;
  try {
    data = (await ns.kube.core.readNamespacedConfigMap(TESTBED_CONFIGMAP)).data;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
  const raw = data?.containerdOomScoreAdj;
  if (raw === undefined || !/^-?\d+$/.test(raw))
    throw new Error(
      `the local test bed's ConfigMap ${TESTBED_CONFIGMAP.namespace}/${TESTBED_CONFIGMAP.name} has no containerdOomScoreAdj ` +
        `(got ${JSON.stringify(raw)}): run npm run cluster:up again`,
    );
  return Number(raw);
}

function limitOf(pod: V1Pod, resource: "cpu" | "memory"): number | null {
  const quantity = pod.spec?.containers[0]?.resources?.limits?.[resource];
  if (quantity === undefined) return null;
  const value = parseQuantity(String(quantity));
  return resource === "cpu" ? Math.round(value * 1000) : value;
}

describe.concurrent("QoS classes on the node", () => {
  test("should rank oom_score_adj by class and put each container's limits in its cgroup", async ({ ns }) => {
    await capability("Resources", "QoS on the node");
    const requests = SABOTAGE
      ? { smallRequest: "1Gi", largeRequest: "256Mi" }
      : { smallRequest: "256Mi", largeRequest: "1Gi" };

    await step("arrange: a Guaranteed, two Burstable and a BestEffort pod, all running", async () => {
      await apply(ns, "resources/node-view", requests);
      for (const { pod } of PODS) {
        await waitFor(`pod ${ns.name}/${pod} is ready`, podReady(ns, pod), T.podStart, { signal: ns.signal });
      }
    });

    const rows = await step("act: read each container's oom_score_adj and cgroup from inside it", () =>
      Promise.all(PODS.map(({ pod }) => readRow(ns, pod))),
    );
    const floor = await testbedOomFloor(ns);
    const guaranteedScore = runtimeOomScoreAdj(GUARANTEED_OOM_SCORE_ADJ, floor);
    const row = (pod: string) => {
      const found = rows.find((r) => r.pod === pod);
      if (found === undefined) throw new Error(`no row for ${pod}`);
      return found;
    };
    const [besteffort, small, large, guaranteed] = [
      row("qos-besteffort"),
      row("qos-burstable-small"),
      row("qos-burstable-large"),
      row("qos-guaranteed"),
    ];
    const notes = [
      `cgroup v${rows[0]?.view.version} on the nodes; "kubelet asks" is the kubelet's policy for the class and the node's memory capacity.`,
      ...(floor !== undefined && guaranteedScore !== GUARANTEED_OOM_SCORE_ADJ
        ? [
            `Local test bed: Guaranteed must run with ${guaranteedScore}, not the kubelet's ${GUARANTEED_OOM_SCORE_ADJ}: its host lacks CAP_SYS_RESOURCE, so containerd runs with restrict_oom_score_adj and raises any lower score to its own (${floor}, measured on every node by cluster:up).`,
          ]
        : []),
    ];
    await attach("QoS per pod: class, oom_score_adj, cgroup limits", qosTableHtml(rows, notes), "text/html");
    log(`${qosTableMarkdown(rows)}\n${notes.join("\n")}`);

    await step("assert: status.qosClass of each pod", () => {
      for (const [i, { pod, qos }] of PODS.entries()) expect(rows[i]?.qosClass, `qosClass of ${pod}`).toBe(qos);
    });

    await step("assert: each cgroup carries its container's memory limit and cpu quota (none for BestEffort)", () => {
      for (const r of rows) {
        const where = `${r.pod}/app (${r.resources}), cgroup v${r.view.version}`;
        expect(r.view.memoryLimitBytes, `memory limit in the cgroup of ${where}`).toBe(limitOf(r.spec, "memory"));
        expect(r.view.cpuLimitMillis, `cpu quota (millicores) in the cgroup of ${where}`).toBe(limitOf(r.spec, "cpu"));
      }
    });

    const scores = rows.map((r) => `${r.pod} ${r.view.oomScoreAdj}`).join(", ");
    await step(`assert: oom_score_adj BestEffort > Burstable 256Mi > Burstable 1Gi > Guaranteed (${scores})`, () => {
      expect(besteffort.view.oomScoreAdj, `BestEffort above Burstable (${scores})`).toBeGreaterThan(
        small.view.oomScoreAdj,
      );
      expect(small.view.oomScoreAdj, `Burstable 256Mi above Burstable 1Gi (${scores})`).toBeGreaterThan(
        large.view.oomScoreAdj,
      );
      expect(large.view.oomScoreAdj, `Burstable above Guaranteed (${scores})`).toBeGreaterThan(
        guaranteed.view.oomScoreAdj,
      );
    });

    await step("assert: BestEffort and Burstable scores are exactly the kubelet's policy", () => {
      for (const r of [besteffort, small, large]) {
        expect(r.view.oomScoreAdj, `oom_score_adj of ${r.pod} (${r.resources})`).toBe(r.expectedOomScoreAdj);
      }
    });

    await step(`assert: Guaranteed runs with exactly ${guaranteedScore}`, () => {
      const why = floor === undefined ? "the kubelet's policy" : `the kubelet's policy raised to containerd's ${floor}`;
      expect(guaranteed.view.oomScoreAdj, `oom_score_adj of qos-guaranteed (${why})`).toBe(guaranteedScore);
    });
  });
});
