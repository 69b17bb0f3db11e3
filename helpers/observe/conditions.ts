/**
 * Named checks for waitFor/holdsFor. Each reads one kind of object and shows what matters about it in
 * a line a person can act on ("available 1/2; Available=False MinimumReplicasUnavailable ...").
 */
import type { V1Condition, V1Deployment, V1Pod, V1PodCondition } from "@kubernetes/client-node";
import { isNotFound } from "../framework/kube.ts";
import type { TestNamespace } from "../framework/namespace.ts";
import { replicaFailureByPodSecurity } from "../framework/pod-security.ts";
import type { Check } from "../framework/wait.ts";
import { refusedByPodSecurity } from "../manifests/prereq.ts";

type AnyCondition = Pick<V1Condition, "type" | "status" | "reason" | "message"> | V1PodCondition;

/** `Available=False (MinimumReplicasUnavailable: Deployment does not have minimum availability.)` */
export function showConditions(conditions: readonly AnyCondition[] | undefined): string {
  if (!conditions?.length) return "no conditions";
  return conditions
    .map((c) => {
      const why = [c.reason, c.message].filter(Boolean).join(": ");
      return `${c.type}=${c.status}${why ? ` (${why})` : ""}`;
    })
    .join(", ");
}

/** One line per pod: `web-5d4f 1/1 Running node=w1 restarts=0` plus waiting/terminated reasons. */
export function showPod(pod: V1Pod): string {
  const statuses = pod.status?.containerStatuses ?? [];
  const ready = statuses.filter((s) => s.ready).length;
  const restarts = statuses.reduce((sum, s) => sum + s.restartCount, 0);
  const reasons = statuses
    .map((s) => {
      const waiting = s.state?.waiting;
      const terminated = s.state?.terminated ?? s.lastState?.terminated;
      if (waiting) return `${s.name}: waiting ${waiting.reason ?? ""}${waiting.message ? ` (${waiting.message})` : ""}`;
      if (terminated) return `${s.name}: terminated ${terminated.reason ?? ""} exit ${terminated.exitCode}`;
      return undefined;
    })
    .filter(Boolean);
  const unscheduled = pod.status?.conditions?.find((c) => c.type === "PodScheduled" && c.status === "False");
  const parts = [
    `${pod.metadata?.name} ${ready}/${pod.spec?.containers.length ?? 0} ${pod.metadata?.deletionTimestamp ? "Terminating" : (pod.status?.phase ?? "?")}`,
    `node=${pod.spec?.nodeName ?? "-"}`,
    `restarts=${restarts}`,
    ...reasons,
    unscheduled ? `unschedulable: ${unscheduled.message ?? unscheduled.reason}` : undefined,
  ];
  return parts.filter(Boolean).join(" ");
}

export function isPodReady(pod: V1Pod): boolean {
  return (
    pod.metadata?.deletionTimestamp === undefined &&
    pod.status?.phase === "Running" &&
    pod.status.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true
  );
}

/**
 * The Deployment rolled out: observed the latest generation and `replicas` updated, ready and available.
 * Pods that Pod Security admission refuses (its ReplicaFailure condition) end the wait at once: a skip in a
 * privileged scenario, a failure otherwise (manifests/prereq.ts refusedByPodSecurity), never a timeout.
 */
export function deploymentAvailable(ns: TestNamespace, name: string, replicas: number): Check<V1Deployment> {
  return {
    observe: async () => {
      const d = await ns.kube.apps.readNamespacedDeployment({ name, namespace: ns.name });
      const refusal = replicaFailureByPodSecurity(d.status?.conditions);
      if (refusal !== undefined) refusedByPodSecurity(ns, `the pods of Deployment ${name}`, refusal);
      return d;
    },
    ok: (d) => {
      const s = d.status ?? {};
      return (
        (s.observedGeneration ?? 0) >= (d.metadata?.generation ?? 1) &&
        s.updatedReplicas === replicas &&
        s.availableReplicas === replicas &&
        (s.replicas ?? 0) === replicas &&
        s.conditions?.some((c) => c.type === "Available" && c.status === "True") === true
      );
    },
    show: (d) => {
      const s = d.status ?? {};
      return (
        `deployment ${ns.name}/${name}: generation ${d.metadata?.generation} (observed ${s.observedGeneration ?? "-"}), ` +
        `replicas ${s.replicas ?? 0}, updated ${s.updatedReplicas ?? 0}, ready ${s.readyReplicas ?? 0}, ` +
        `available ${s.availableReplicas ?? 0} of ${replicas} wanted; ${showConditions(s.conditions)}`
      );
    },
  };
}

/** Exactly `count` pods matching `labelSelector` are Running and Ready. */
export function podsReady(ns: TestNamespace, labelSelector: string, count: number): Check<V1Pod[]> {
  return {
    observe: async () => (await ns.kube.core.listNamespacedPod({ namespace: ns.name, labelSelector })).items,
    ok: (pods) => pods.length === count && pods.every(isPodReady),
    show: (pods) =>
      pods.length === 0 ? `no pods match ${labelSelector}` : `${pods.length} pod(s): ${pods.map(showPod).join("; ")}`,
  };
}

/** The pod `name` is Running and Ready. */
export function podReady(ns: TestNamespace, name: string): Check<V1Pod> {
  return {
    observe: () => ns.kube.core.readNamespacedPod({ name, namespace: ns.name }),
    ok: isPodReady,
    show: (pod) => `${showPod(pod)}; ${showConditions(pod.status?.conditions)}`,
  };
}

/** The object `read` returns no longer exists (the read answers 404); `show` describes it while it does. */
export function gone<T>(read: () => Promise<T>, show: (object: T) => string): Check<T | undefined> {
  return {
    observe: () =>
      read().catch((error: unknown) => {
        if (isNotFound(error)) return undefined;
        throw error;
      }),
    ok: (object) => object === undefined,
    show: (object) => (object === undefined ? "gone" : `still there: ${show(object)}`),
  };
}

/** The pod `name` no longer exists (deleted and its termination finished). */
export function podGone(ns: TestNamespace, name: string): Check<V1Pod | undefined> {
  return gone(() => ns.kube.core.readNamespacedPod({ name, namespace: ns.name }), showPod);
}
