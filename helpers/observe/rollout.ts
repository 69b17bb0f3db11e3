/**
 * Rolling updates: trigger them through the API the way kubectl does, and observe them event by event.
 *
 *   const watched = await watchRollout(ns, "web", "app=web");   // pods, ReplicaSets, the Deployment
 *   await setImage(ns, "web", "nginx", ns.images.nginxNext);    // kubectl set image
 *   await restartRollout(ns, "web");                            // kubectl rollout restart
 *   await undoRollout(ns, "web");                               // kubectl rollout undo
 *   const timeline = await watched.stop();                      // one RolloutState per watch event
 *
 * Which pods count toward a rollout's bounds (see `countedPods`) follows the ReplicaSet controller: a pod
 * that is terminating (deletionTimestamp set) or finished (Succeeded/Failed) is no longer counted, even
 * though it still exists and may still serve during its preStop delay. `kubectl get pods` shows it as
 * Terminating next to its replacement, which is why 0/1 can show 4 pod objects while only 3 count.
 */
import {
  type KubernetesObject,
  PatchStrategy,
  setHeaderOptions,
  type V1Deployment,
  type V1Pod,
  type V1PodTemplateSpec,
  type V1ReplicaSet,
} from "@kubernetes/client-node";
import type { TestNamespace } from "../framework/namespace.ts";
import { log } from "../framework/report.ts";
import { formatDuration } from "../framework/timeouts.ts";
import type { Check } from "../framework/wait.ts";
import { deploymentAvailable, isPodReady, showPod } from "./conditions.ts";
import { assertBound, assertLimit, type Bound, type Overshoot, type Sample, Timeline } from "./timeline.ts";
import { watchObjects } from "./watch.ts";

export const REVISION_ANNOTATION = "deployment.kubernetes.io/revision";
export const RESTARTED_AT_ANNOTATION = "kubectl.kubernetes.io/restartedAt";

/** One ReplicaSet at one instant. */
export interface ReplicaSetState {
  name: string;
  revision: string;
  image: string;
  /** .spec.replicas: what the Deployment controller asked for. */
  spec: number;
  /** Its pods that count (not terminating, not finished). */
  counted: number;
  /** Its counted pods that are Ready. */
  ready: number;
  /** Its pods that are terminating. */
  terminating: number;
  /** Its own .status.availableReplicas (what the Deployment's availableReplicas sums). */
  statusAvailable: number;
}

/** The rollout at one instant, as of one watch event. Times come from the Timeline. */
export interface RolloutState {
  /** The event that produced this state, e.g. "pod web-5d4f-abc MODIFIED". */
  event: string;
  /** Σ ReplicaSet .spec.replicas (upstream's invariant: ≤ replicas + maxSurge). */
  specTotal: number;
  /** Pods that count toward the rollout (see countedPods). */
  counted: number;
  /** Counted pods that are Ready: the pod-level view of "available" (minReadySeconds is 0 here). */
  ready: number;
  /** Every pod object that still exists, terminating ones included (what `kubectl get pods` lists). */
  objects: number;
  /** The Deployment's own .status.availableReplicas. */
  available: number;
  replicaSets: ReplicaSetState[];
}

/** A pod the ReplicaSet controller counts: not terminating and not finished. */
export function isCounted(pod: V1Pod): boolean {
  const phase = pod.status?.phase;
  return pod.metadata?.deletionTimestamp === undefined && phase !== "Succeeded" && phase !== "Failed";
}

export function countedPods(pods: readonly V1Pod[]): V1Pod[] {
  return pods.filter(isCounted);
}

function createdAt(object: KubernetesObject): number {
  return new Date(object.metadata?.creationTimestamp ?? 0).getTime();
}

function ownerName(object: KubernetesObject): string | undefined {
  return object.metadata?.ownerReferences?.find((o) => o.controller)?.name;
}

/** The state of `deployment`'s rollout from the objects a watch currently holds. */
export function rolloutState(
  event: string,
  deployment: V1Deployment | undefined,
  replicaSets: readonly V1ReplicaSet[],
  pods: readonly V1Pod[],
): RolloutState {
  const name = deployment?.metadata?.name;
  const owned = replicaSets.filter((rs) => name === undefined || ownerName(rs) === name);
  const counted = countedPods(pods);
  const states = owned
    .map((rs): ReplicaSetState => {
      const mine = pods.filter((p) => ownerName(p) === rs.metadata?.name);
      const mineCounted = countedPods(mine);
      return {
        name: rs.metadata?.name ?? "?",
        revision: rs.metadata?.annotations?.[REVISION_ANNOTATION] ?? "?",
        image: rs.spec?.template?.spec?.containers.map((c) => c.image).join(",") ?? "?",
        spec: rs.spec?.replicas ?? 0,
        counted: mineCounted.length,
        ready: mineCounted.filter(isPodReady).length,
        terminating: mine.filter((p) => p.metadata?.deletionTimestamp !== undefined).length,
        statusAvailable: rs.status?.availableReplicas ?? 0,
      };
    })
    .sort((a, b) => Number(a.revision) - Number(b.revision));
  return {
    event,
    specTotal: states.reduce((sum, rs) => sum + rs.spec, 0),
    counted: counted.length,
    ready: counted.filter(isPodReady).length,
    objects: pods.length,
    available: deployment?.status?.availableReplicas ?? 0,
    replicaSets: states,
  };
}

/**
 * `counted 4 (ready 3, objects 5), spec 4, available 3 | web-5d4f r1 spec 2 pods 2/2 ready +1 terminating, status 2 available | ...  [pod web-5d4f-abc MODIFIED @1234]`:
 * the pods as the watch sees them, and what each ReplicaSet reports (a Deployment's availableReplicas is
 * the sum of its ReplicaSets' reports, each written by its own worker).
 */
export function showRolloutState(s: RolloutState): string {
  const sets = s.replicaSets.map(
    (rs) =>
      `${rs.name} r${rs.revision} spec ${rs.spec} pods ${rs.ready}/${rs.counted} ready` +
      (rs.terminating ? ` +${rs.terminating} terminating` : "") +
      `, status ${rs.statusAvailable} available`,
  );
  return `counted ${s.counted} (ready ${s.ready}, objects ${s.objects}), spec ${s.specTotal}, available ${s.available} | ${sets.join(" | ")}  [${s.event}]`;
}

export const TEMPLATE_HASH_LABEL = "pod-template-hash";

/**
 * Pod name → the ReplicaSet (its name) whose pod-template-hash label the pod carries, from objects a watch
 * saw: never parsed from names. Undefined for a pod never seen, or whose hash no seen ReplicaSet has
 * (an answer from it is an answer from an unknown pod, a failure for the caller).
 */
export function versionByTemplateHash(
  pods: readonly V1Pod[],
  replicaSets: readonly V1ReplicaSet[],
): (pod: string) => string | undefined {
  const hashOfPod = new Map(pods.map((p) => [p.metadata?.name ?? "", p.metadata?.labels?.[TEMPLATE_HASH_LABEL]]));
  const setOfHash = new Map(replicaSets.map((rs) => [rs.metadata?.labels?.[TEMPLATE_HASH_LABEL], rs.metadata?.name]));
  return (pod) => {
    const hash = hashOfPod.get(pod);
    return hash === undefined ? undefined : setOfHash.get(hash);
  };
}

export interface RollingStrategy {
  replicas: number;
  maxSurge: number;
  maxUnavailable: number;
}

/**
 * What the Deployment controller guarantees at every event: Σ ReplicaSet spec.replicas <= replicas +
 * maxSurge, and availability (the Deployment's availableReplicas, and its counted pods that are Ready) >=
 * replicas - maxUnavailable.
 */
export function guaranteedBounds({ replicas, maxSurge, maxUnavailable }: RollingStrategy): Bound<RolloutState>[] {
  const most = replicas + maxSurge;
  const least = replicas - maxUnavailable;
  const show = showRolloutState;
  return [
    {
      description: `sum of ReplicaSet spec.replicas <= replicas + maxSurge = ${most}`,
      holds: (s) => s.specTotal <= most,
      show,
    },
    {
      description: `Deployment availableReplicas >= replicas - maxUnavailable = ${least}`,
      holds: (s) => s.available >= least,
      show,
    },
    {
      description: `ready pods (not terminating) >= replicas - maxUnavailable = ${least}`,
      holds: (s) => s.ready >= least,
      show,
    },
  ];
}

/** One lowering of an old ReplicaSet's spec.replicas, as the watch saw it. */
export interface ScaleDownStep {
  /** Index of the sample that first shows the lower spec.replicas, and its time (ms since the timeline began). */
  sample: number;
  at: number;
  replicaSet: string;
  from: number;
  to: number;
}

/**
 * Every scale-down step of an old ReplicaSet in the timeline: a sample where a ReplicaSet whose revision is
 * below the newest one present shows a lower spec.replicas than the last sample that had it. A lowering by
 * several replicas at once is one step; the newest ReplicaSet's own changes are not steps.
 */
export function scaleDownSteps(timeline: Timeline<RolloutState>): ScaleDownStep[] {
  const steps: ScaleDownStep[] = [];
  const lastSpec = new Map<string, number>();
  for (const [index, sample] of timeline.samples.entries()) {
    const revisions = sample.value.replicaSets.map((rs) => Number(rs.revision)).filter((r) => !Number.isNaN(r));
    const newest = Math.max(...revisions);
    for (const rs of sample.value.replicaSets) {
      const before = lastSpec.get(rs.name);
      lastSpec.set(rs.name, rs.spec);
      const old = Number(rs.revision) < newest; // NaN (no revision) is never old: fewer steps, never more
      if (old && before !== undefined && rs.spec < before) {
        steps.push({ sample: index, at: sample.at, replicaSet: rs.name, from: before, to: rs.spec });
      }
    }
  }
  return steps;
}

/** `web-old 3 → 2 at +1.2s`. */
export function showScaleDownStep(step: ScaleDownStep): string {
  return `${step.replicaSet} ${step.from} → ${step.to} at +${formatDuration(step.at)}`;
}

/** What assertRolloutBounds tolerated, for the report. */
export interface RolloutBoundsReport {
  /** replicas + maxSurge: the bound on the pods counted. */
  limit: number;
  /** The overshoots of the pods counted above `limit` that were tolerated. */
  overshoots: Overshoot<RolloutState>[];
  /** The old ReplicaSets' scale-down steps. */
  steps: ScaleDownStep[];
  /** How many overshoots the steps explain: one per replica they removed (one per step of one replica). */
  explained: number;
}

/** One overshoot per replica the steps removed: each removed replica leaves one excess pod to be marked. */
export function overshootsExplained(steps: readonly ScaleDownStep[]): number {
  return steps.reduce((sum, step) => sum + step.from - step.to, 0);
}

/** `pods counted 5 > 4 (replicas + maxSurge) for 40ms from +300ms (samples 4–4 of 5)`. */
export function showPodOvershoot(timeline: Timeline<RolloutState>, o: Overshoot<RolloutState>, limit: number): string {
  const start = timeline.samples[o.first] as Sample<RolloutState>;
  return (
    `pods counted ${o.peak.value.counted} > ${limit} (replicas + maxSurge) for ${formatDuration(o.lastedMs)}` +
    `${o.unresolved ? " (still above at the end)" : ""} from +${formatDuration(start.at)} ` +
    `(samples ${o.first + 1}–${o.last + 1} of ${timeline.samples.length})`
  );
}

/**
 * Checks a rollout's timeline: every guaranteed bound at every event, and the counted pods within replicas +
 * maxSurge except transient overshoots within `tolerance` (pods follow their ReplicaSets' spec.replicas a
 * moment later). Only a scale-down of an old ReplicaSet explains an overshoot: its excess pod is marked
 * terminating an event after the new ReplicaSet's pod appears. So at most one overshoot per scale-down step
 * is tolerated, or per replica when a step removes several at once (each leaves its own excess pod); more
 * fail, naming every overshoot and the steps. Returns what was tolerated (report it); throws
 * BoundViolationError otherwise.
 */
export function assertRolloutBounds(
  timeline: Timeline<RolloutState>,
  strategy: RollingStrategy,
  tolerance: { by: number; forMs: number },
): RolloutBoundsReport {
  for (const bound of guaranteedBounds(strategy)) assertBound(timeline, bound);
  const limit = strategy.replicas + strategy.maxSurge;
  const steps = scaleDownSteps(timeline);
  const explained = overshootsExplained(steps);
  const shown = steps.map(showScaleDownStep).join(", ");
  const overshoots = assertLimit(
    timeline,
    {
      description: `pods counted (not terminating) <= replicas + maxSurge = ${limit}`,
      measure: (s) => s.counted,
      limit,
      show: showRolloutState,
    },
    {
      ...tolerance,
      count: explained,
      why: `one per replica the old ReplicaSets were scaled down by: ${explained}, in ${steps.length} step(s)${shown ? `: ${shown}` : ""}`,
    },
  );
  return { limit, overshoots, steps, explained };
}

export interface WatchedRollout {
  /** Epoch ms of the timeline's start: sample `at` + origin is comparable with ProbeRecord.at. */
  readonly origin: number;
  /** Version (ReplicaSet name, by pod-template-hash) of a pod this watch saw, deleted pods included. */
  versionOf(pod: string): string | undefined;
  /** The ReplicaSets seen, oldest first (by creation). */
  replicaSets(): V1ReplicaSet[];
  /** Ends the watches and returns the timeline (one state per event). */
  stop(): Promise<Timeline<RolloutState>>;
  readonly timeline: Timeline<RolloutState>;
}

/**
 * Watches the pods (`selector`), ReplicaSets and the Deployment `name` in `ns`; records a RolloutState on
 * every event of any of them. Resolves once all three watches are connected and have delivered the
 * existing objects (the Deployment's ReplicaSets and pods are seen at least once).
 */
export async function watchRollout(ns: TestNamespace, name: string, selector: string): Promise<WatchedRollout> {
  const origin = Date.now();
  const timeline = new Timeline<RolloutState>(`rollout of deployment ${ns.name}/${name}`, origin);
  let started = false;
  const record = (event: string): void => {
    if (!started) return;
    const state = rolloutState(event, deployments.cache.current()[0], sets.cache.current(), pods.cache.current());
    timeline.record(state, Date.now());
  };
  const describeEvent = (kind: string) => (e: { type: string; object: KubernetesObject }) =>
    record(`${kind} ${e.object.metadata?.name} ${e.type} @${e.object.metadata?.resourceVersion ?? "?"}`);
  const base = `namespaces/${ns.name}`;
  const namespace = ns.name;
  const pods = watchObjects<V1Pod>(
    ns.kube,
    `/api/v1/${base}/pods`,
    { labelSelector: selector },
    () => ns.kube.core.listNamespacedPod({ namespace, labelSelector: selector }),
    describeEvent("pod"),
  );
  const sets = watchObjects<V1ReplicaSet>(
    ns.kube,
    `/apis/apps/v1/${base}/replicasets`,
    { labelSelector: selector },
    () => ns.kube.apps.listNamespacedReplicaSet({ namespace, labelSelector: selector }),
    describeEvent("replicaset"),
  );
  const fieldSelector = `metadata.name=${name}`;
  const deployments = watchObjects<V1Deployment>(
    ns.kube,
    `/apis/apps/v1/${base}/deployments`,
    { fieldSelector },
    () => ns.kube.apps.listNamespacedDeployment({ namespace, fieldSelector }),
    describeEvent("deployment"),
  );
  await Promise.all([pods.connected, sets.connected, deployments.connected]);
  started = true;
  record("initial list");
  return {
    origin,
    timeline,
    versionOf: (pod) => versionByTemplateHash(pods.cache.everSeen(), sets.cache.everSeen())(pod),
    // By creation, not revision: `rollout undo` moves an old ReplicaSet to the newest revision.
    replicaSets: () =>
      sets.cache
        .everSeen()
        .sort((a, b) => createdAt(a) - createdAt(b) || (a.metadata?.name ?? "").localeCompare(b.metadata?.name ?? "")),
    stop: async () => {
      await Promise.all([pods.stop(), sets.stop(), deployments.stop()]);
      return timeline;
    },
  };
}

async function patchDeployment(
  ns: TestNamespace,
  name: string,
  body: object,
  strategy: PatchStrategy,
): Promise<V1Deployment> {
  return ns.kube.apps.patchNamespacedDeployment(
    { name, namespace: ns.name, body, fieldManager: "k8s-ops-conformance-rollout" },
    setHeaderOptions("Content-Type", strategy),
  );
}

/** `kubectl set image deployment/<name> <container>=<image>`: a strategic merge patch of the pod template. */
export async function setImage(
  ns: TestNamespace,
  name: string,
  container: string,
  image: string,
): Promise<V1Deployment> {
  log(`set image deployment ${ns.name}/${name} ${container}=${image}`);
  const body = { spec: { template: { spec: { containers: [{ name: container, image }] } } } };
  return patchDeployment(ns, name, body, PatchStrategy.StrategicMergePatch);
}

/** `kubectl rollout restart`: stamps the pod template with the restartedAt annotation, so every pod is replaced. */
export async function restartRollout(ns: TestNamespace, name: string, at: Date = new Date()): Promise<V1Deployment> {
  log(`rollout restart deployment ${ns.name}/${name}`);
  const body = { spec: { template: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: at.toISOString() } } } } };
  return patchDeployment(ns, name, body, PatchStrategy.MergePatch);
}

/** The template a Deployment rolls back to: the ReplicaSet's, without the pod-template-hash label the controller added. */
export function templateForUndo(rs: V1ReplicaSet): V1PodTemplateSpec {
  const template = structuredClone(rs.spec?.template ?? {});
  if (template.metadata?.labels) delete template.metadata.labels["pod-template-hash"];
  return template;
}

/** The ReplicaSet with the highest revision below the current one (what `kubectl rollout undo` picks). */
export function previousReplicaSet(replicaSets: readonly V1ReplicaSet[], current: string): V1ReplicaSet | undefined {
  const revision = (rs: V1ReplicaSet): number => Number(rs.metadata?.annotations?.[REVISION_ANNOTATION] ?? 0);
  return replicaSets.filter((rs) => revision(rs) < Number(current)).sort((a, b) => revision(b) - revision(a))[0];
}

/** `kubectl rollout undo`: replaces the pod template with the previous revision's ReplicaSet template. */
export async function undoRollout(ns: TestNamespace, name: string): Promise<{ to: string }> {
  const deployment = await ns.kube.apps.readNamespacedDeployment({ name, namespace: ns.name });
  const current = deployment.metadata?.annotations?.[REVISION_ANNOTATION] ?? "0";
  const selector = Object.entries(deployment.spec?.selector.matchLabels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
  const sets = (await ns.kube.apps.listNamespacedReplicaSet({ namespace: ns.name, labelSelector: selector })).items;
  const previous = previousReplicaSet(
    sets.filter((rs) => ownerName(rs) === name),
    current,
  );
  if (previous === undefined)
    throw new Error(`deployment ${ns.name}/${name} has no revision before ${current} to undo to`);
  log(`rollout undo deployment ${ns.name}/${name}: revision ${current} → template of ${previous.metadata?.name}`);
  const body = [{ op: "replace", path: "/spec/template", value: templateForUndo(previous) }];
  await patchDeployment(ns, name, body, PatchStrategy.JsonPatch);
  return { to: previous.metadata?.name ?? "?" };
}

/**
 * The rollout is over, old pods included: the Deployment is available with `replicas` updated pods
 * (deploymentAvailable), and exactly `replicas` pods exist, none terminating, all from one ReplicaSet.
 */
export function rolloutSettled(
  ns: TestNamespace,
  name: string,
  selector: string,
  replicas: number,
): Check<{ deployment: V1Deployment; pods: V1Pod[] }> {
  const available = deploymentAvailable(ns, name, replicas);
  const owners = (pods: readonly V1Pod[]): string[] => [...new Set(pods.map((p) => ownerName(p) ?? "?"))];
  return {
    observe: async () => ({
      deployment: await available.observe(),
      pods: (await ns.kube.core.listNamespacedPod({ namespace: ns.name, labelSelector: selector })).items,
    }),
    ok: ({ deployment, pods }) =>
      available.ok(deployment) && pods.length === replicas && pods.every(isCounted) && owners(pods).length === 1,
    show: ({ deployment, pods }) =>
      `${available.show?.(deployment)}; ${pods.length} pod(s) from ${owners(pods).join(", ")}: ${pods.map(showPod).join("; ")}`,
  };
}
