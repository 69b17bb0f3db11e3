/**
 * The in-place upgrade of the test bed, as data: which steps run on which node, in which order (upgrade.ts
 * carries them out), whether an upgrade is allowed at all, the parsing of what the cluster reports, and
 * the steps file a later `run --compare` reads to place failed requests in a step. No I/O here.
 *
 * The order is kubeadm's documented one: the control plane first (`kubeadm upgrade apply`, then its
 * kubelet), then each worker on its own (`kubeadm upgrade node`, then its kubelet). A node is drained
 * before its kubelet is replaced and uncordoned only once it reports the new version and Ready.
 * `kubeadm upgrade node` runs again, a bounded number of times, only after a failure its output shows to be
 * transient (TRANSIENT_FAILURES, retryDecision); each retry is kept in the step's record.
 */
import { minorOf, type Versions } from "./versions.ts";

/** A node as `kubectl get nodes -o json` describes it. */
export interface NodeInfo {
  name: string;
  kubeletVersion: string;
  controlPlane: boolean;
}

export type StepKind =
  | "stage" // new kubeadm, kubelet and kubectl copied into the node, the target's images imported into its containerd
  | "kubeadm" // the new kubeadm installed
  | "upgrade-plan" // kubeadm upgrade plan (logged)
  | "upgrade-apply" // kubeadm upgrade apply (the control plane's static pods, etcd, CoreDNS, kube-proxy)
  | "upgrade-node" // kubeadm upgrade node (a worker's kubelet configuration)
  | "drain"
  | "sandbox-image" // containerd's sandbox_image moved to the target's pause, containerd restarted
  | "kubelet" // new kubelet and kubectl, daemon-reload, kubelet restarted
  | "ready" // the node reports the new kubelet version and Ready
  | "uncordon"
  | "settle"; // the test bed's own settings kubeadm overwrote, Ceph, health

export interface PlanStep {
  kind: StepKind;
  /** The node it runs on, or "cluster". */
  node: string;
}

/** An upgrade the test bed refuses; the CLI prints it as one line and exits 2. */
export class UpgradeRefusedError extends Error {}

/** `kubectl get nodes -o json` -> each node's name, kubelet version and whether it is a control-plane node. */
export function parseNodes(json: string): NodeInfo[] {
  const list = JSON.parse(json) as {
    items?: {
      metadata?: { name?: string; labels?: Record<string, string> };
      status?: { nodeInfo?: { kubeletVersion?: string } };
    }[];
  };
  return (list.items ?? []).map((n) => ({
    name: n.metadata?.name ?? "?",
    kubeletVersion: n.status?.nodeInfo?.kubeletVersion ?? "?",
    controlPlane: Object.hasOwn(n.metadata?.labels ?? {}, "node-role.kubernetes.io/control-plane"),
  }));
}

/** "1.37" -> 37 (NaN when it is not a 1.x minor). */
const minorNumber = (minor: string | undefined): number =>
  minor !== undefined && /^1\.\d+$/.test(minor) ? Number(minor.slice(2)) : Number.NaN;

/**
 * Why this upgrade may not run (undefined: it may). Every node must run either the target version or the
 * minor right before it: a node on the target already is an upgrade stopped half way, resumed from there.
 */
export function refusal(nodes: readonly NodeInfo[], target: Versions): string | undefined {
  if (nodes.length === 0) return "no test bed runs: npm run cluster:up -- --kubernetes <previous minor> first";
  if (!nodes.some((n) => n.controlPlane)) return "no control-plane node found among the nodes";
  const want = minorNumber(target.KUBERNETES_MINOR);
  for (const node of nodes) {
    if (node.kubeletVersion === target.KUBERNETES_VERSION) continue;
    const have = minorNumber(minorOf(node.kubeletVersion));
    const what = `${node.name} runs ${node.kubeletVersion}`;
    if (Number.isNaN(have)) return `${what}, which is no Kubernetes version`;
    if (have === want)
      return `${what}, another patch of ${target.KUBERNETES_MINOR} than the pinned ${target.KUBERNETES_VERSION}: only minor upgrades are supported`;
    if (have > want) return `${what}, newer than ${target.KUBERNETES_VERSION}: downgrades are not supported`;
    if (have < want - 1)
      return `${what}: kubeadm upgrades one minor at a time, upgrade to 1.${have + 1} first (cluster:upgrade --to 1.${have + 1})`;
  }
  return undefined;
}

/** The steps of one node after its kubeadm step: drain, containerd when the pause image moves, kubelet, Ready, uncordon. */
function nodeSteps(node: string, kubeadmSteps: StepKind[], pauseMoves: boolean): PlanStep[] {
  const kinds: StepKind[] = [...kubeadmSteps, "drain", ...(pauseMoves ? ["sandbox-image" as const] : []), "kubelet"];
  return [...kinds, "ready", "uncordon"].map((kind) => ({ kind: kind as StepKind, node }));
}

/**
 * The steps, in order. Every node not yet on the target gets the new binaries and images first (kubeadm
 * upgrade apply rolls the new kube-proxy and CoreDNS out to every node, which must find their images
 * locally); then the control plane, then the workers one at a time, each only when it still runs the old
 * version; then the test bed settles. `from` is the previous minor's row (its pause pin).
 */
export function planUpgrade(nodes: readonly NodeInfo[], from: Versions, target: Versions): PlanStep[] {
  const why = refusal(nodes, target);
  if (why !== undefined) throw new UpgradeRefusedError(why);
  const old = nodes.filter((n) => n.kubeletVersion !== target.KUBERNETES_VERSION);
  if (old.length === 0) return [];
  const pauseMoves = from.PAUSE_IMAGE_TAG !== target.PAUSE_IMAGE_TAG;
  const steps: PlanStep[] = old.map((n) => ({ kind: "stage", node: n.name }));
  const cp = old.find((n) => n.controlPlane);
  if (cp) steps.push(...nodeSteps(cp.name, ["kubeadm", "upgrade-plan", "upgrade-apply"], pauseMoves));
  const workers = old.filter((n) => !n.controlPlane).sort((a, b) => a.name.localeCompare(b.name));
  for (const w of workers) steps.push(...nodeSteps(w.name, ["kubeadm", "upgrade-node"], pauseMoves));
  steps.push({ kind: "settle", node: "cluster" });
  return steps;
}

/** The version the nodes run before the upgrade: the oldest kubelet's. */
export function runningFrom(nodes: readonly NodeInfo[]): string {
  const byMinor = (v: string) => minorNumber(minorOf(v));
  return [...nodes].map((n) => n.kubeletVersion).sort((a, b) => byMinor(a) - byMinor(b))[0] ?? "?";
}

/** An attempt of a step that failed transiently and was run again: when it ended (ISO 8601) and why. */
export interface StepRetry {
  at: string;
  reason: string;
}

/** One line of the steps file (JSON Lines), written when a step ends. */
export interface StepRecord {
  step: StepKind;
  node: string;
  /** ISO 8601. */
  startedAt: string;
  endedAt: string;
  ok: boolean;
  /** The attempts before the last, each a known transient failure (absent: the first attempt decided). */
  retries?: StepRetry[] | undefined;
}

/**
 * Failures of `kubeadm upgrade node` that come from a control plane which has just restarted and pass by
 * themselves: the API server's authorizer not yet settled (RBAC's caches refusing the node the ConfigMaps
 * `upgrade node` reads, which kubeadm's own Roles grant), the API server not listening yet, etcd electing a
 * leader, a request timing out while it all settles. Anything else is a real failure.
 */
export const TRANSIENT_FAILURES: readonly { reason: string; pattern: RegExp }[] = [
  {
    reason: "the node may not read kubeadm's ConfigMaps yet (forbidden: the authorizer has not settled)",
    pattern: /configmaps? "(kubelet|kubeadm)-config" is forbidden/i,
  },
  { reason: "connection refused (the API server is not listening yet)", pattern: /connection refused/i },
  { reason: "etcd leader changed", pattern: /etcdserver: leader changed/i },
  {
    reason: "a request timed out",
    pattern:
      /i\/o timeout|context deadline exceeded|TLS handshake timeout|Client\.Timeout exceeded|unable to return a response in the time allotted/i,
  },
];

/** The transient failure the output of a failed command shows (TRANSIENT_FAILURES), or undefined. */
export function transientFailure(output: string): string | undefined {
  return TRANSIENT_FAILURES.find((t) => t.pattern.test(output))?.reason;
}

/**
 * Whether a failed attempt (1-based) of at most `attempts` runs again: only when its output shows a known
 * transient failure and an attempt is left. `reason` names the transient failure, also on the last attempt.
 */
export type RetryDecision = { retry: true; reason: string } | { retry: false; reason: string | undefined };

export function retryDecision(output: string, attempt: number, attempts: number): RetryDecision {
  const reason = transientFailure(output);
  return reason !== undefined && attempt < attempts ? { retry: true, reason } : { retry: false, reason };
}

/** The steps file's records; lines that are not records are skipped. */
export function parseSteps(text: string): StepRecord[] {
  const records: StepRecord[] = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      const r = JSON.parse(line) as Partial<StepRecord>;
      const retries = (Array.isArray(r.retries) ? r.retries : []).filter(
        (x) => typeof x?.at === "string" && typeof x?.reason === "string",
      );
      if (typeof r.step === "string" && typeof r.startedAt === "string" && typeof r.endedAt === "string")
        records.push({
          step: r.step,
          node: r.node ?? "?",
          startedAt: r.startedAt,
          endedAt: r.endedAt,
          ok: r.ok === true,
          ...(retries.length > 0 ? { retries } : {}),
        });
    } catch {
      // a line cut short by a killed upgrade
    }
  }
  return records;
}

/** Where a moment (epoch ms) fell: "drain k8s-ops-conformance-worker", "between steps" or "outside the upgrade". */
export function stepAt(steps: readonly StepRecord[], at: number): string {
  const inside = steps.find((s) => Date.parse(s.startedAt) <= at && at <= Date.parse(s.endedAt));
  if (inside) return inside.node === "cluster" ? inside.step : `${inside.step} ${inside.node}`;
  const first = Math.min(...steps.map((s) => Date.parse(s.startedAt)));
  const last = Math.max(...steps.map((s) => Date.parse(s.endedAt)));
  return steps.length > 0 && first <= at && at <= last ? "between steps" : "outside the upgrade";
}
