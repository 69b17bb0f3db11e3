/**
 * Node memory pressure, sized from what the node itself says: its kubelet's configuration (configz), its
 * allocatable memory and the working set of its pods (stats/summary), both through the API server's node
 * proxy. The plan puts three pods past the kubelet's eviction threshold with allocations that stay far
 * below the cap the kubelet puts on all pods together, so the kubelet evicts before the kernel kills.
 *
 * The kubelet evicts when the pods' working set exceeds allocatable (the allocatableMemory.available signal:
 * capacity - reserved - working set < evictionHard memory.available), one pod per housekeeping pass, ranked:
 * pods using more than their memory request first, then by priority, then by how far usage exceeds request.
 *
 * The order of evictions is read from the kubelet's own times (evictionOrder), never from when a poll
 * happened to see a pod Failed: two evictions between two polls would otherwise come out in polling order.
 */

import type { CoreV1Event, V1Node, V1Pod } from "@kubernetes/client-node";
import { compareStamps, fromKubelet, occurrences, type Stamp, showStamp, stampOf } from "./events.ts";
import { memoryRequestOf, parseQuantity } from "./qos.ts";

const MiB = 2 ** 20;

/** The parts of a kubelet's configuration the eviction scenario relies on. */
export interface KubeletMemorySettings {
  /** evictionHard["memory.available"] as written ("1024Mi" or "10%"); undefined when not set. */
  memoryAvailable: string | undefined;
  enforceNodeAllocatable: string[];
  systemReserved: string | undefined;
  kubeReserved: string | undefined;
}

/** A node proxy answer: client-node hands JSON over as text or, when it was served as JSON, already parsed. */
function json(answer: unknown): unknown {
  return typeof answer === "string" ? JSON.parse(answer) : answer;
}

/** Parses what the kubelet serves at /configz (`{"kubeletconfig": {...}}`). */
export function parseConfigz(answer: unknown): KubeletMemorySettings {
  const config = (json(answer) as { kubeletconfig?: Record<string, unknown> }).kubeletconfig;
  if (config === undefined) throw new Error(`configz has no kubeletconfig: ${JSON.stringify(answer).slice(0, 200)}`);
  const map = (key: string) => (config[key] ?? {}) as Record<string, string>;
  return {
    memoryAvailable: map("evictionHard")["memory.available"],
    enforceNodeAllocatable: (config.enforceNodeAllocatable as string[] | undefined) ?? [],
    systemReserved: map("systemReserved").memory,
    kubeReserved: map("kubeReserved").memory,
  };
}

/** The memory.available threshold in bytes: a quantity, or a percentage of the node's capacity. */
export function thresholdBytes(memoryAvailable: string, capacityBytes: number): number {
  const percent = /^([0-9.]+)%$/.exec(memoryAvailable.trim());
  return percent ? (Number(percent[1]) / 100) * capacityBytes : parseQuantity(memoryAvailable);
}

/** workingSetBytes of the `pods` system container in a /stats/summary answer (all pods on the node together). */
export function podsWorkingSet(summaryAnswer: unknown): number {
  const summary = json(summaryAnswer) as {
    node?: { systemContainers?: Array<{ name: string; memory?: { workingSetBytes?: number } }> };
  };
  const pods = summary.node?.systemContainers?.find((c) => c.name === "pods");
  const bytes = pods?.memory?.workingSetBytes;
  if (bytes === undefined) throw new Error("stats/summary has no working set for the pods system container");
  return bytes;
}

export interface NodeMemoryFacts {
  allocatableBytes: number;
  thresholdBytes: number;
  podsWorkingSetBytes: number;
  enforceNodeAllocatable: string[];
  /** Sum of the memory requests of the pods already on the node. */
  requestedBytes: number;
}

/** The facts from the node object, its configz and stats/summary answers, and the pods bound to it. */
export function nodeMemoryFacts(from: {
  node: V1Node;
  configz: unknown;
  summary: unknown;
  podsOnNode: readonly V1Pod[];
}): NodeMemoryFacts & { configz: string } {
  const settings = parseConfigz(from.configz);
  const capacity = parseQuantity(String(from.node.status?.capacity?.memory ?? ""));
  const requestedBytes = from.podsOnNode
    .filter((p) => p.status?.phase !== "Succeeded" && p.status?.phase !== "Failed")
    .flatMap((p) => (p.spec?.containers ?? []).map((c) => memoryRequestOf(p, c.name)))
    .reduce((a, b) => a + b, 0);
  return {
    allocatableBytes: parseQuantity(String(from.node.status?.allocatable?.memory ?? "")),
    thresholdBytes: settings.memoryAvailable === undefined ? 0 : thresholdBytes(settings.memoryAvailable, capacity),
    podsWorkingSetBytes: podsWorkingSet(from.summary),
    enforceNodeAllocatable: settings.enforceNodeAllocatable,
    requestedBytes,
    configz: `evictionHard memory.available ${settings.memoryAvailable ?? "unset"}, enforceNodeAllocatable [${settings.enforceNodeAllocatable.join(", ")}], systemReserved memory ${settings.systemReserved ?? "unset"}, kubeReserved memory ${settings.kubeReserved ?? "unset"}`,
  };
}

/** One pod of the plan: its request and limit (null: none) and how much it writes into its memory volume. */
export interface PlannedPod {
  requestMi: number | null;
  limitMi: number | null;
  /** What it writes before the pressure; the Burstable pod writes `thenMi` more to cross the threshold. */
  fillMi: number;
  thenMi: number;
}

export interface EvictionPlan {
  /** allocatable - the pods' working set now: how much more the pods may use before the kubelet evicts. */
  headroomMi: number;
  guaranteed: PlannedPod;
  burstable: PlannedPod;
  besteffort: PlannedPod;
}

/** Room for busybox and the page tables above what a container writes into its memory volume. */
export const OVERHEAD_MI = 64;
/** Never plan to write more than this, whatever the node says (the pods' cgroup cap guards the rest). */
export const MAX_TOTAL_FILL_MI = 4096;

/**
 * Sizes the three pods from the headroom H. First, below the threshold (0.9 H together): Guaranteed writes
 * 0.1 H (request 0.45 H), BestEffort 0.6 H, Burstable 0.2 H (request 0.5 H); the test waits until the
 * kubelet's stats show them. Then Burstable writes 0.8 H more: 1.7 H, past the threshold.
 * The kubelet ranks pods over their request first, then by usage minus request. BestEffort (+0.6 H) goes
 * first whether the kubelet's stats for Burstable are fresh (+0.5 H) or still from before its last write
 * (-0.3 H, not over). Guaranteed + Burstable (1.1 H) is still past it: Burstable goes next, fresh or
 * stale (-0.3 H beats Guaranteed's -0.35 H). Guaranteed alone (0.1 H) is then below.
 * The writes stay below the kernel's cap (H + threshold) only if threshold > 0.7 H: a reason is returned
 * instead of a plan when the node is not configured so that eviction comes first.
 */
export function planEviction(facts: NodeMemoryFacts): EvictionPlan | { reason: string } {
  const mi = (bytes: number) => Math.floor(bytes / MiB);
  if (!facts.enforceNodeAllocatable.includes("pods")) {
    return {
      reason: `the kubelet does not enforce node allocatable on pods (enforceNodeAllocatable: [${facts.enforceNodeAllocatable.join(", ")}]), so nothing caps the pods' memory below the machine's`,
    };
  }
  const headroomMi = mi(facts.allocatableBytes - facts.podsWorkingSetBytes);
  const part = (share: number) => Math.floor(headroomMi * share);
  const plan: EvictionPlan = {
    headroomMi,
    guaranteed: { requestMi: part(0.45), limitMi: part(0.45), fillMi: part(0.1), thenMi: 0 },
    besteffort: { requestMi: null, limitMi: null, fillMi: part(0.6), thenMi: 0 },
    burstable: { requestMi: part(0.5), limitMi: part(1.0) + OVERHEAD_MI, fillMi: part(0.2), thenMi: part(0.8) },
  };
  const total = part(0.1) + part(0.6) + part(1.0);
  const requests = part(0.45) + part(0.5);
  const freeForRequestsMi = mi(facts.allocatableBytes - facts.requestedBytes);
  if (headroomMi < 256) return { reason: `only ${headroomMi}Mi left before the eviction threshold; needs 256Mi` };
  if (total > MAX_TOTAL_FILL_MI) {
    return {
      reason: `the node would need ${total}Mi written to reach its eviction threshold (allocatable ${mi(facts.allocatableBytes)}Mi); this scenario writes at most ${MAX_TOTAL_FILL_MI}Mi`,
    };
  }
  if (mi(facts.thresholdBytes) < part(0.7) + OVERHEAD_MI) {
    return {
      reason: `eviction threshold memory.available ${mi(facts.thresholdBytes)}Mi is too close to the pods' cap: the kernel could kill before the kubelet evicts (needs > ${part(0.7) + OVERHEAD_MI}Mi)`,
    };
  }
  if (requests > freeForRequestsMi) {
    return {
      reason: `the plan requests ${requests}Mi but only ${freeForRequestsMi}Mi of allocatable is unrequested on the node`,
    };
  }
  return plan;
}

/** Working set per pod of `namespace` in a /stats/summary answer, by pod name (pods without memory stats left out). */
export function podWorkingSets(summaryAnswer: unknown, namespace: string): Map<string, number> {
  const summary = json(summaryAnswer) as {
    pods?: Array<{ podRef?: { name?: string; namespace?: string }; memory?: { workingSetBytes?: number } }>;
  };
  const sets = new Map<string, number>();
  for (const pod of summary.pods ?? []) {
    const bytes = pod.memory?.workingSetBytes;
    if (pod.podRef?.namespace === namespace && pod.podRef.name && bytes !== undefined) sets.set(pod.podRef.name, bytes);
  }
  return sets;
}

/**
 * When the kubelet evicted `pod`, by its own clock: the DisruptionTarget condition it sets in the same status
 * update as phase Failed (lastTransitionTime, whole seconds), and the first occurrence of the Evicted event it
 * records just before the kill (eventTime to the microsecond when set, else firstTimestamp or lastTimestamp).
 * `events` may hold any events: only the kubelet's Evicted events about this pod are taken.
 */
export function evictionStamps(pod: V1Pod, events: readonly CoreV1Event[]): Stamp[] {
  const name = pod.metadata?.name;
  const uid = pod.metadata?.uid;
  const stamps: Stamp[] = [];
  const condition = pod.status?.conditions?.find((c) => c.type === "DisruptionTarget" && c.status === "True");
  const transition = stampOf(condition?.lastTransitionTime, "DisruptionTarget lastTransitionTime", "Time");
  if (transition) stamps.push(transition);
  const evicted = events.filter(
    (e) =>
      e.reason === "Evicted" &&
      fromKubelet(e) &&
      e.involvedObject.kind === "Pod" &&
      e.involvedObject.name === name &&
      (uid === undefined || e.involvedObject.uid === undefined || e.involvedObject.uid === uid),
  );
  const firsts = evicted.map((e) => occurrences(e).first).sort((a, b) => a.us - b.us);
  if (firsts[0]) stamps.push({ ...firsts[0], field: `Evicted event ${firsts[0].field}` });
  return stamps;
}

/** One evicted pod and the kubelet's times for its eviction (evictionStamps). */
export interface EvictionTimes {
  pod: string;
  stamps: readonly Stamp[];
}

export class EvictionOrderError extends Error {
  override name = "EvictionOrderError";
}

/** The source of a stamp: a condition and an event are compared only with their own kind. */
function source(stamp: Stamp): string {
  return stamp.field.startsWith("Evicted event") ? "Evicted event" : "DisruptionTarget condition";
}

function showTimes(t: EvictionTimes): string {
  return `${t.pod} at ${t.stamps.length === 0 ? "no time" : t.stamps.map(showStamp).join(", ")}`;
}

/**
 * Which of `a` and `b` was evicted first, comparing each source both pods have (condition with condition,
 * event with event) at its resolution. Throws when no common source keeps them apart (e.g. both in the same
 * second and no microsecond eventTime), or when two sources disagree.
 */
function firstOf(a: EvictionTimes, b: EvictionTimes): "a" | "b" {
  const verdicts = a.stamps.flatMap((sa) =>
    b.stamps
      .filter((sb) => source(sb) === source(sa))
      .map((sb) => ({ source: source(sa), order: compareStamps(sa, sb) })),
  );
  const decided = verdicts.filter((v) => v.order !== "same");
  const orders = new Set(decided.map((v) => v.order));
  if (orders.size > 1) {
    throw new EvictionOrderError(
      `the kubelet's times disagree on which of ${a.pod} and ${b.pod} was evicted first: ${showTimes(a)}; ${showTimes(b)}`,
    );
  }
  if (decided.length === 0) {
    const why =
      verdicts.length === 0
        ? "they share no kind of time (condition or event)"
        : "their times fall within each other's resolution";
    throw new EvictionOrderError(
      `cannot tell whether ${a.pod} or ${b.pod} was evicted first: ${why}; ${showTimes(a)}; ${showTimes(b)}`,
    );
  }
  return decided[0]?.order === "before" ? "a" : "b";
}

/**
 * The evicted pods in the order the kubelet evicted them, by its own times (evictionStamps), first first.
 * Throws EvictionOrderError, naming the pods and their times, when a pod has no time, when two evictions
 * cannot be told apart, or when the times contradict each other: an order that cannot be shown is never
 * reported as the expected one. An empty list is an error too.
 */
export function evictionOrder(evicted: readonly EvictionTimes[]): string[] {
  if (evicted.length === 0) throw new EvictionOrderError("no evicted pods to order");
  const missing = evicted.filter((t) => t.stamps.length === 0).map((t) => t.pod);
  if (missing.length > 0) {
    throw new EvictionOrderError(
      `no eviction time for ${missing.join(", ")}: neither a DisruptionTarget condition nor an Evicted event from the kubelet`,
    );
  }
  // how many pods were evicted before each one; a strict order gives 0, 1, 2, ...
  const before = new Map(evicted.map((t) => [t.pod, 0]));
  for (const [i, a] of evicted.entries()) {
    for (const b of evicted.slice(i + 1)) {
      const later = firstOf(a, b) === "a" ? b : a;
      before.set(later.pod, (before.get(later.pod) ?? 0) + 1);
    }
  }
  const order = [...evicted].sort((x, y) => (before.get(x.pod) ?? 0) - (before.get(y.pod) ?? 0));
  if (order.some((t, i) => before.get(t.pod) !== i)) {
    throw new EvictionOrderError(`the kubelet's times give no single order: ${evicted.map(showTimes).join("; ")}`);
  }
  return order.map((t) => t.pod);
}

/** `pressure-besteffort at 12:00:01 (DisruptionTarget lastTransitionTime, 1 s resolution), ...`, one pod per line. */
export function showEvictionTimes(evicted: readonly EvictionTimes[]): string {
  return evicted.map(showTimes).join("\n");
}
