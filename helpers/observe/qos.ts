/**
 * QoS classes and what the kubelet derives from them: the oom_score_adj it asks the runtime to give each
 * container (the side-by-side report table is helpers/traffic/qos-table.ts).
 *
 * The kubelet's policy (pkg/kubelet/qos/policy.go): Guaranteed -997, BestEffort 1000, Burstable
 * 1000 - 1000 × memoryRequest / nodeMemoryCapacity, kept within [3, 999] so it never ties either.
 */
import type { V1Pod, V1PodSpec, V1ResourceRequirements } from "@kubernetes/client-node";
import { parseBoolean } from "../framework/config.ts";

export type QosClass = "Guaranteed" | "Burstable" | "BestEffort";

export const GUARANTEED_OOM_SCORE_ADJ = -997;
export const BESTEFFORT_OOM_SCORE_ADJ = 1000;

const SUFFIXES: Record<string, number> = {
  "": 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
};

/** A resource quantity ("128Mi", "100m", "0.5", "1G") as a plain number (bytes, cores); throws on anything else. */
export function parseQuantity(quantity: string): number {
  const match = /^([0-9]+(?:\.[0-9]+)?)([a-zA-Z]*)$/.exec(quantity.trim());
  const factor = match ? SUFFIXES[match[2] ?? ""] : undefined;
  if (!match || factor === undefined) throw new Error(`not a resource quantity: "${quantity}"`);
  return Number(match[1]) * factor;
}

/** The container's memory request in bytes as the kubelet uses it: the request, else the limit (defaulted), else 0. */
export function memoryRequestOf(pod: V1Pod, container: string): number {
  const spec = pod.spec?.containers.find((c) => c.name === container);
  if (spec === undefined) throw new Error(`pod ${pod.metadata?.name} has no container ${container}`);
  const quantity = spec.resources?.requests?.memory ?? spec.resources?.limits?.memory;
  return quantity === undefined ? 0 : parseQuantity(String(quantity));
}

/** The oom_score_adj the kubelet asks for, given the class, the container's memory request and the node's capacity. */
export function expectedOomScoreAdj(qos: QosClass, memoryRequestBytes: number, nodeCapacityBytes: number): number {
  if (qos === "Guaranteed") return GUARANTEED_OOM_SCORE_ADJ;
  if (qos === "BestEffort") return BESTEFFORT_OOM_SCORE_ADJ;
  const score = 1000 - Math.floor((1000 * memoryRequestBytes) / nodeCapacityBytes);
  return Math.min(BESTEFFORT_OOM_SCORE_ADJ - 1, Math.max(1000 + GUARANTEED_OOM_SCORE_ADJ, score));
}

/** "64Mi", "1.5Gi", "unlimited". */
/**
 * The score a container runs with: the kubelet's policy, raised to the runtime's floor when the runtime
 * restricts scores to its own (containerd's restrict_oom_score_adj, as on the local test bed, which
 * publishes that floor). Without a floor the policy stands.
 */
export function runtimeOomScoreAdj(policy: number, floor: number | undefined): number {
  return floor === undefined ? policy : Math.max(policy, floor);
}

export function formatBytes(bytes: number | null): string {
  if (bytes === null) return "unlimited";
  for (const [unit, size] of [
    ["Gi", 2 ** 30],
    ["Mi", 2 ** 20],
    ["Ki", 2 ** 10],
  ] as const) {
    if (bytes >= size) return `${Math.round((bytes / size) * 10) / 10}${unit}`;
  }
  return `${bytes}B`;
}

/** "cpu 100m/200m, memory 64Mi/-": requests and limits of one container as written in its spec. */
export function resourcesOf(pod: V1Pod, container: string): string {
  const r = pod.spec?.containers.find((c) => c.name === container)?.resources;
  const pair = (name: string) => `${name} ${r?.requests?.[name] ?? "-"}/${r?.limits?.[name] ?? "-"}`;
  return `${pair("cpu")}, ${pair("memory")}`;
}

/**
 * KOC_RESOURCES_SABOTAGE=1: every non-disruptive resources scenario is set up to fail (each file's header
 * says how), so each one is seen failing with its report.
 */
export function resourcesSabotage(env: NodeJS.ProcessEnv = process.env): boolean {
  return parseBoolean("KOC_RESOURCES_SABOTAGE", env.KOC_RESOURCES_SABOTAGE);
}

/** Resources that give a container `target`'s class: equal requests and limits, a memory request only, or none. */
const RESOURCES_OF_CLASS: Record<QosClass, V1ResourceRequirements> = {
  Guaranteed: { requests: { cpu: "50m", memory: "32Mi" }, limits: { cpu: "50m", memory: "32Mi" } },
  Burstable: { requests: { memory: "16Mi" } },
  BestEffort: {},
};

/**
 * The pod with every container's resources replaced so the API computes `target` for it (the resources
 * sabotage: the cluster then reports another class than the manifest's, and the check must see it).
 */
export function withResourcesOfClass<P extends { spec?: V1PodSpec }>(pod: P, target: QosClass): P {
  if (pod.spec === undefined) throw new Error("withResourcesOfClass: not a pod (no spec)");
  const containers = pod.spec.containers.map((c) => ({ ...c, resources: structuredClone(RESOURCES_OF_CLASS[target]) }));
  return { ...pod, spec: { ...pod.spec, containers } };
}
