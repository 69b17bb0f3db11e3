/**
 * Node memory pressure, sized from what the node itself says: its kubelet's configuration (configz), its
 * allocatable memory and the working set of its pods (stats/summary), both through the API server's node
 * proxy. The plan puts three pods past the kubelet's eviction threshold with allocations that stay far
 * below the cap the kubelet puts on all pods together, so the kubelet evicts before the kernel kills.
 *
 * The kubelet evicts when the pods' working set exceeds allocatable (the allocatableMemory.available signal:
 * capacity - reserved - working set < evictionHard memory.available), one pod per housekeeping pass, ranked:
 * pods using more than their memory request first, then by priority, then by how far usage exceeds request.
 */

import { parseQuantity } from "./qos.ts";

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

/** One pod of the plan: its request and limit (null: none) and how much it writes into its memory volume. */
export interface PlannedPod {
  requestMi: number | null;
  limitMi: number | null;
  fillMi: number;
}

export interface EvictionPlan {
  /** allocatable - the pods' working set now: how much more the pods may use before the kubelet evicts. */
  headroomMi: number;
  guaranteed: PlannedPod;
  burstable: PlannedPod;
  besteffort: PlannedPod;
}

/** Room for busybox and the page tables above what a container writes into its memory volume. */
const OVERHEAD_MI = 64;
/** Never plan to write more than this, whatever the node says (the pods' cgroup cap guards the rest). */
export const MAX_TOTAL_FILL_MI = 4096;

/**
 * Sizes the three pods from the headroom H, in this order of writing:
 *   Guaranteed 0.25 H (within its request), BestEffort 0.45 H: together 0.7 H, no pressure yet;
 *   Burstable 0.85 H with a 0.55 H request: now 1.55 H, past the threshold.
 * The kubelet should evict BestEffort first (its usage over request, 0.45 H, beats Burstable's 0.3 H);
 * Guaranteed + Burstable is still 1.1 H, so Burstable next; Guaranteed alone (0.25 H) is then below.
 * The writes stay below the kernel's cap (H + threshold) only if threshold > 0.55 H: a reason is returned
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
    guaranteed: { requestMi: part(0.25) + OVERHEAD_MI, limitMi: part(0.25) + OVERHEAD_MI, fillMi: part(0.25) },
    besteffort: { requestMi: null, limitMi: null, fillMi: part(0.45) },
    burstable: { requestMi: part(0.55), limitMi: part(0.85) + OVERHEAD_MI, fillMi: part(0.85) },
  };
  const total = plan.guaranteed.fillMi + plan.besteffort.fillMi + plan.burstable.fillMi;
  const requests = (plan.guaranteed.requestMi ?? 0) + (plan.burstable.requestMi ?? 0);
  const freeForRequestsMi = mi(facts.allocatableBytes - facts.requestedBytes);
  if (headroomMi < 256) return { reason: `only ${headroomMi}Mi left before the eviction threshold; needs 256Mi` };
  if (total > MAX_TOTAL_FILL_MI) {
    return {
      reason: `the node would need ${total}Mi written to reach its eviction threshold (allocatable ${mi(facts.allocatableBytes)}Mi); this scenario writes at most ${MAX_TOTAL_FILL_MI}Mi`,
    };
  }
  if (mi(facts.thresholdBytes) < part(0.55) + OVERHEAD_MI) {
    return {
      reason: `eviction threshold memory.available ${mi(facts.thresholdBytes)}Mi is too close to the pods' cap: the kernel could kill before the kubelet evicts (needs > ${part(0.55) + OVERHEAD_MI}Mi)`,
    };
  }
  if (requests > freeForRequestsMi) {
    return {
      reason: `the plan requests ${requests}Mi but only ${freeForRequestsMi}Mi of allocatable is unrequested on the node`,
    };
  }
  return plan;
}
