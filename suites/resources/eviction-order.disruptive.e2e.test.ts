/**
 * Testname: Eviction order under node memory pressure
 * Description: On a node whose kubelet evicts at a small memory threshold, three pods write into
 *   memory-backed volumes, sized from the node's own figures (configz eviction threshold, allocatable, the
 *   pods' working set from stats/summary): Guaranteed within its request, BestEffort, and Burstable within
 *   its request, together below the threshold; once the kubelet's stats show them, Burstable writes past
 *   its request and crosses it (helpers/observe/eviction.ts planEviction: the order holds whether the
 *   kubelet's stats already show that last write or not). The kubelet MUST evict the BestEffort pod
 *   first (phase Failed, reason Evicted), then the Burstable pod (still over the threshold without the
 *   BestEffort one), and MUST keep the Guaranteed pod running, unrestarted, once the pressure is gone
 *   (held for two housekeeping passes). Every write stays below the cap the kubelet puts on all pods
 *   (enforceNodeAllocatable: pods), so the kernel never kills first and the machine never runs out.
 * Prerequisite: a Ready node labelled k8s-ops-conformance/memory-pressure=true whose kubelet enforces
 *   allocatable on pods and evicts at memory.available > 0.7 x its headroom (the local test bed's second
 *   worker: testbed/cluster.ts kindConfig); anywhere else the test is skipped with the reason.
 * Not covered: soft thresholds and grace periods, priority classes, the node-level (not allocatable)
 *   signal, eviction of pods with local storage.
 * Serial or disruptive: yes (@disruptive): it puts a node under memory pressure, which evicts any other
 *   pod there using more than its request, and taints the node until the pressure clears.
 * On purpose: write the Guaranteed pod's allocation last and largest (swap guaranteed and burstable fills in
 *   the plan) to see the order assertion name the pod evicted out of turn.
 */

import type { V1Node, V1Pod } from "@kubernetes/client-node";
import { describe, expect, podSecurity, test } from "../../helpers/framework/fixtures.ts";
import type { Kube } from "../../helpers/framework/kube.ts";
import type { TestNamespace } from "../../helpers/framework/namespace.ts";
import { attach, capability, log, step } from "../../helpers/framework/report.ts";
import { formatDuration, T } from "../../helpers/framework/timeouts.ts";
import { holdsFor, waitFor } from "../../helpers/framework/wait.ts";
import { apply } from "../../helpers/manifests/apply.ts";
import { type SkipContext, skipBecause } from "../../helpers/manifests/prereq.ts";
import { podReady } from "../../helpers/observe/conditions.ts";
import {
  type EvictionPlan,
  type NodeMemoryFacts,
  nodeMemoryFacts,
  OVERHEAD_MI,
  planEviction,
  podWorkingSets,
} from "../../helpers/observe/eviction.ts";
import { exec } from "../../helpers/traffic/exec.ts";

podSecurity("baseline"); // root images (busybox), no host access

const NODE_LABEL = "k8s-ops-conformance/memory-pressure=true";
const PODS = ["pressure-besteffort", "pressure-burstable", "pressure-guaranteed"] as const;
type PodName = (typeof PODS)[number];

function isReady(node: V1Node): boolean {
  return node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

function memoryPressure(node: V1Node): string {
  return node.status?.conditions?.find((c) => c.type === "MemoryPressure")?.status ?? "unknown";
}

/** Waits until the node reports MemoryPressure False (the kubelet clears it a transition period after relief). */
function noMemoryPressure(ns: TestNamespace, node: string): Promise<V1Node> {
  return waitFor(
    `node ${node} reports MemoryPressure False`,
    {
      observe: () => ns.kube.core.readNode({ name: node }),
      ok: (n) => memoryPressure(n) === "False",
      show: memoryPressure,
    },
    T.memoryPressure,
    { interval: 1000, signal: ns.signal },
  );
}

/** The labelled node, Ready; skips the test when there is none. */
async function pressureNode(ctx: SkipContext): Promise<string> {
  const nodes = (await ctx.kube.core.listNode({ labelSelector: NODE_LABEL })).items.filter(isReady);
  const name = nodes[0]?.metadata?.name;
  if (name === undefined) {
    return skipBecause(
      ctx,
      `needs a Ready node labelled ${NODE_LABEL} whose kubelet evicts at a small memory threshold (the local test bed configures one); this cluster has none`,
    );
  }
  return name;
}

/** The node's memory figures: configz, allocatable, the pods' working set, and what pods there request. */
async function nodeFacts(kube: Kube, name: string): Promise<NodeMemoryFacts & { configz: string }> {
  return nodeMemoryFacts({
    node: await kube.core.readNode({ name }),
    configz: await kube.core.connectGetNodeProxyWithPath({ name, path: "configz" }),
    summary: await kube.core.connectGetNodeProxyWithPath({ name, path: "stats/summary" }),
    podsOnNode: (await kube.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${name}` })).items,
  });
}

function planTable(plan: EvictionPlan): string {
  const row = (pod: string, p: EvictionPlan["guaranteed"]) =>
    `| ${pod} | ${p.requestMi ?? "-"} | ${p.limitMi ?? "-"} | ${p.fillMi} | ${p.thenMi || "-"} |`;
  return [
    `headroom before the eviction threshold: ${plan.headroomMi}Mi`,
    "| pod | request Mi | limit Mi | writes Mi, below the threshold | then writes Mi, crossing it |",
    "| --- | --- | --- | --- | --- |",
    row("pressure-guaranteed", plan.guaranteed),
    row("pressure-besteffort", plan.besteffort),
    row("pressure-burstable", plan.burstable),
  ].join("\n");
}

function isEvicted(pod: V1Pod): boolean {
  return pod.status?.phase === "Failed" && pod.status?.reason === "Evicted";
}

async function fill(ns: TestNamespace, pod: PodName, mebibytes: number, file = "data"): Promise<void> {
  const result = await exec(ns, pod, ["dd", "if=/dev/zero", `of=/fill/${file}`, "bs=1M", `count=${mebibytes}`]);
  expect(result.exitCode, `dd of ${mebibytes}Mi in ${pod}: ${result.stderr.trim()}`).toBe(0);
}

describe("Node memory pressure", () => {
  // Several waits on the kubelet's 10 s passes and a 30 s transition period: more than one scenario's time.
  const timeout = T.test + 2 * T.memoryPressure;
  test("should evict BestEffort first, then Burstable, and keep Guaranteed @disruptive", { timeout }, async ({
    ns,
    kube,
    skip,
  }) => {
    await capability("Resources", "Eviction under node memory pressure");
    const node = await pressureNode({ kube, skip });

    await step(`arrange: node ${node} has no MemoryPressure`, () => noMemoryPressure(ns, node));

    const plan = await step(`arrange: size the allocations from node ${node}'s own figures`, async () => {
      // pods of tests that ran just before may still be terminating on the node: wait for their requests
      // to go, then judge (a node that stays too full skips with the reason)
      await waitFor(
        `node ${node} has room for the eviction plan`,
        {
          observe: async () => planEviction(await nodeFacts(kube, node)),
          ok: (planned) => !("reason" in planned),
          show: (planned) => ("reason" in planned ? planned.reason : "room"),
        },
        T.cleanup,
        { signal: ns.signal },
      ).catch(() => undefined);
      const facts = await nodeFacts(kube, node);
      log(`${node}: ${facts.configz}`);
      const mi = (b: number) => `${Math.round(b / 2 ** 20)}Mi`;
      log(
        `${node}: allocatable ${mi(facts.allocatableBytes)}, threshold ${mi(facts.thresholdBytes)}, pods' working set ${mi(facts.podsWorkingSetBytes)}, requested ${mi(facts.requestedBytes)}`,
      );
      const planned = planEviction(facts);
      if ("reason" in planned) return skipBecause({ skip }, `node ${node}: ${planned.reason}`);
      await attach("eviction plan", planTable(planned), "text/markdown");
      return planned;
    });

    await step("arrange: the three pods running on the node", async () => {
      const m = (n: number | null) => `${n}Mi`;
      await apply(ns, "resources/eviction-order", {
        guaranteedMemory: m(plan.guaranteed.limitMi),
        guaranteedVolume: m(plan.guaranteed.fillMi + OVERHEAD_MI),
        burstableRequest: m(plan.burstable.requestMi),
        burstableLimit: m(plan.burstable.limitMi),
        burstableVolume: m(plan.burstable.fillMi + plan.burstable.thenMi + OVERHEAD_MI),
        besteffortVolume: m(plan.besteffort.fillMi + OVERHEAD_MI),
      });
      for (const pod of PODS) {
        const ready = await waitFor(`pod ${ns.name}/${pod} is ready`, podReady(ns, pod), T.podStart, {
          signal: ns.signal,
        });
        expect(ready.spec?.nodeName, `node of ${pod}`).toBe(node);
      }
    });

    const { guaranteed: g, besteffort: e, burstable: b } = plan;
    await step(
      `act: below the threshold, Guaranteed writes ${g.fillMi}Mi, BestEffort ${e.fillMi}Mi, Burstable ${b.fillMi}Mi`,
      async () => {
        await fill(ns, "pressure-guaranteed", g.fillMi);
        await fill(ns, "pressure-besteffort", e.fillMi);
        await fill(ns, "pressure-burstable", b.fillMi);
      },
    );
    await step("arrange: the kubelet's stats show each pod's writes (the ranking uses them)", () =>
      waitFor(
        `stats/summary of ${node} shows each pod's working set at least what it wrote`,
        {
          observe: async () =>
            podWorkingSets(await kube.core.connectGetNodeProxyWithPath({ name: node, path: "stats/summary" }), ns.name),
          ok: (sets) =>
            [
              ["pressure-guaranteed", g.fillMi],
              ["pressure-besteffort", e.fillMi],
              ["pressure-burstable", b.fillMi],
            ].every(([pod, mi]) => (sets.get(pod as string) ?? 0) >= (mi as number) * 2 ** 20),
          show: (sets) => [...sets].map(([pod, bytes]) => `${pod} ${Math.round(bytes / 2 ** 20)}Mi`).join(", "),
        },
        T.memoryPressure,
        { interval: 1000, signal: ns.signal },
      ),
    );
    const started = performance.now();
    await step(`act: Burstable writes ${b.thenMi}Mi more, past the threshold`, () =>
      fill(ns, "pressure-burstable", b.thenMi, "more"),
    );

    const seen = new Map<PodName, number>();
    const read = async () => {
      const pods = await Promise.all(PODS.map((name) => ns.kube.core.readNamespacedPod({ name, namespace: ns.name })));
      for (const [i, pod] of pods.entries()) {
        const name = PODS[i] as PodName;
        if (isEvicted(pod) && !seen.has(name)) seen.set(name, performance.now() - started);
      }
      return pods;
    };
    const show = (pods: V1Pod[]) =>
      pods
        .map((p) => `${p.metadata?.name} ${p.status?.phase}${p.status?.reason ? ` (${p.status.reason})` : ""}`)
        .join(", ");
    const pods = await step("assert: the kubelet evicts BestEffort and Burstable (or, wrongly, Guaranteed)", () =>
      waitFor(
        "pressure-besteffort and pressure-burstable evicted, or pressure-guaranteed evicted",
        {
          observe: read,
          ok: () =>
            (seen.has("pressure-besteffort") && seen.has("pressure-burstable")) || seen.has("pressure-guaranteed"),
          show,
        },
        T.memoryPressure,
        { interval: 500, signal: ns.signal },
      ),
    );
    const order = [...seen.entries()].sort((a, b) => a[1] - b[1]);
    const evictions = order.map(([name, ms]) => `${name} after ${formatDuration(ms)}`).join(", ");
    for (const pod of pods.filter(isEvicted)) log(`${pod.metadata?.name}: ${pod.status?.message}`);

    await step(`assert: BestEffort evicted first, then Burstable (${evictions})`, () => {
      expect(
        order.map(([name]) => name),
        `eviction order seen: ${evictions}`,
      ).toEqual(["pressure-besteffort", "pressure-burstable"]);
    });

    await step(`assert: Guaranteed keeps running, unrestarted, for ${formatDuration(2 * T.holdWindow)}`, () =>
      holdsFor(
        `pod ${ns.name}/pressure-guaranteed running with restartCount 0, not evicted`,
        {
          observe: () => ns.kube.core.readNamespacedPod({ name: "pressure-guaranteed", namespace: ns.name }),
          ok: (p) => p.status?.phase === "Running" && p.status?.containerStatuses?.[0]?.restartCount === 0,
          show: (p) => show([p]),
        },
        2 * T.holdWindow,
        { interval: 1000, signal: ns.signal },
      ),
    );

    await step(`assert: node ${node} leaves MemoryPressure once the pressure is gone`, () =>
      noMemoryPressure(ns, node),
    );
  });
});
