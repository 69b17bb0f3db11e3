/**
 * Prerequisites: when the cluster cannot run a scenario (too few nodes, no suitable StorageClass), the test
 * is SKIPPED with the reason, which the console, the Allure result and the JUnit XML all show. It never
 * passes silently and never fails for a reason that is not the behaviour under test.
 *
 * Except on the local test bed (ConfigMap kube-public/k8s-ops-conformance-testbed, written by
 * `npm run cluster:up`): what `cluster:up` promises there (TESTBED_PROMISES: three schedulable nodes, a
 * default StorageClass, the StorageClass `cephfs` when it runs its own images, the memory-pressure node when
 * the host has the memory for it, node addresses published for this host) is part of the test bed, so its
 * absence FAILS the test (TestbedBrokenError, naming what is missing): a worker whose kubelet stopped must
 * turn the run red, not into a row of skips. The rule is prerequisiteVerdict; everything below applies it.
 *
 *   test("should ...", async ({ kube, skip, ns }) => {
 *     const nodes = await requireSchedulableNodes({ kube, skip }, 3);   // names of the usable nodes
 */
import type { V1Node, V1StorageClass, V1Taint, V1Toleration } from "@kubernetes/client-node";
import { config } from "../framework/config.ts";
import { TESTBED_INFO } from "../framework/disruptive.ts";
import { isNotFound, type Kube } from "../framework/kube.ts";
import type { TestNamespace } from "../framework/namespace.ts";
import { PodSecurityRefusedError, podSecuritySkipReason } from "../framework/pod-security.ts";
import { log } from "../framework/report.ts";

export interface SkipContext {
  kube: Kube;
  /** vitest's context.skip: throws, ending the test as skipped with `note` as the reason. */
  skip: (note?: string) => never;
}

/** Skips the test with `reason` (logged too, so it shows under the test in the console). */
export function skipBecause(ctx: Pick<SkipContext, "skip">, reason: string): never {
  log(`skipped: ${reason}`);
  return ctx.skip(reason);
}

/** The test bed's CephFS state (testbed/ceph/ceph.ts publishState): storageClass, state ready|failed|skipped, reason. */
export const TESTBED_CEPHFS = { namespace: "kube-public", name: "k8s-ops-conformance-cephfs" } as const;
/** The label of the test bed's memory-pressure node (its second worker, testbed/lifecycle.ts kindConfig). */
export const MEMORY_PRESSURE_LABEL = { key: "k8s-ops-conformance/memory-pressure", value: "true" } as const;
/**
 * Keys of the test bed's ConfigMap (TESTBED_INFO) that say whether `cluster:up` made the memory-pressure node on
 * this host ("true"/"false", testbed/lifecycle.ts publishTestbedInfo) and, when not, why. A ConfigMap written
 * before these keys existed says nothing: the node counts as promised, as it is on any host with the memory.
 */
export const PRESSURE_NODE_KEY = "memoryPressureNode";
export const PRESSURE_NODE_REASON_KEY = "memoryPressureNodeReason";
/**
 * A directory every node of the test bed mounts from CephFS (testbed/ceph/ceph.ts, koc-cephfs.service): a
 * hostPath under it is the same directory on every node. Only sabotage switches use it.
 */
export const TESTBED_SHARED_MOUNT = "/var/lib/koc-cephfs";
/** What `cluster:up` makes: one untainted control plane and two workers, all schedulable. */
export const TESTBED_NODES = 3;
/** The test bed's ReadWriteMany class (testbed/ceph/ceph.ts), made when it runs its own images. */
export const TESTBED_CEPHFS_CLASS = { name: "cephfs", provisioner: "testbed.k8s-ops-conformance/cephfs" } as const;

/** Something a scenario needs from the cluster, as the requireX functions below name it. */
export type Prerequisite =
  | { kind: "schedulable nodes"; count: number }
  | { kind: "default StorageClass" }
  | { kind: "StorageClass"; name?: string | undefined; provisioner?: RegExp | undefined }
  | { kind: "memory-pressure node" }
  | { kind: "node network" };

/** What the local test bed published about itself: its ConfigMap's data and its CephFS state (undefined when absent). */
export interface TestbedFacts {
  info: Readonly<Record<string, string>>;
  cephfs: Readonly<Record<string, string>> | undefined;
  /** The runner is a pod of the test bed (`run --in-cluster`): there is no host outside it. */
  runnerInCluster?: boolean | undefined;
}

/** Whether the test bed promises a prerequisite: what it promises (and a note on its own state), or why not. */
export type TestbedPromise = { promised: true; what: string; note?: string } | { promised: false; why: string };

function isTestbedCephfs(p: { name?: string | undefined; provisioner?: RegExp | undefined }): boolean {
  if (p.name !== undefined) return p.name === TESTBED_CEPHFS_CLASS.name;
  return p.provisioner?.test(TESTBED_CEPHFS_CLASS.provisioner) === true;
}

/** StorageClass cephfs: made by cluster:up with its own images (testbed/ceph/ceph.ts records the state). */
function cephfsPromise(facts: TestbedFacts): TestbedPromise {
  const state = facts.cephfs?.state;
  if (state === "skipped") return { promised: false, why: facts.cephfs?.reason || "cluster:up skipped CephFS" };
  if (state === undefined && facts.info.images === "stock")
    return { promised: false, why: "with stock images it sets up no CephFS" };
  const what = `StorageClass ${TESTBED_CEPHFS_CLASS.name} (provisioner ${TESTBED_CEPHFS_CLASS.provisioner})`;
  if (state === "failed")
    return {
      promised: true,
      what,
      note: `cluster:up reported CephFS failed: ${facts.cephfs?.reason || "no reason given"}`,
    };
  if (state === undefined)
    return {
      promised: true,
      what,
      note: `ConfigMap ${TESTBED_CEPHFS.namespace}/${TESTBED_CEPHFS.name}, where cluster:up records CephFS's state, is missing`,
    };
  return { promised: true, what };
}

/** The test bed's promise for one prerequisite (pure: the facts are what it published). */
export function testbedPromise(p: Prerequisite, facts: TestbedFacts): TestbedPromise {
  switch (p.kind) {
    case "schedulable nodes":
      return p.count <= TESTBED_NODES
        ? { promised: true, what: `${TESTBED_NODES} schedulable nodes (an untainted control plane and two workers)` }
        : { promised: false, why: `it has ${TESTBED_NODES} nodes` };
    case "default StorageClass":
      return { promised: true, what: "a default StorageClass" };
    case "StorageClass":
      return isTestbedCephfs(p)
        ? cephfsPromise(facts)
        : { promised: false, why: "its classes are the default one and cephfs" };
    case "memory-pressure node":
      return facts.info[PRESSURE_NODE_KEY] === "false"
        ? {
            promised: false,
            why: facts.info[PRESSURE_NODE_REASON_KEY] || "cluster:up made no memory-pressure node here",
          }
        : {
            promised: true,
            what: `a Ready node labelled ${MEMORY_PRESSURE_LABEL.key}=${MEMORY_PRESSURE_LABEL.value} (its second worker)`,
          };
    case "node network":
      if (facts.runnerInCluster) {
        return { promised: false, why: "the runner is a pod of it (run --in-cluster), not a host outside it" };
      }
      return {
        promised: true,
        what: `its node network (key nodeNetwork of ConfigMap ${TESTBED_INFO.namespace}/${TESTBED_INFO.name}) for requests from this host`,
      };
  }
}

export type PrerequisiteVerdict = { fail: string } | { skip: string };

/**
 * The rule for a missing prerequisite (`detail` says what is missing and what the cluster has): on the local
 * test bed (`facts` given), one it promises FAILS, naming what is missing; one it does not promise there, and
 * anything on another cluster (`facts` undefined), is a skip with the reason.
 */
export function prerequisiteVerdict(
  p: Prerequisite,
  facts: TestbedFacts | undefined,
  detail: string,
): PrerequisiteVerdict {
  if (facts === undefined) return { skip: detail };
  const promise = testbedPromise(p, facts);
  if (!promise.promised) return { skip: `${detail} (the local test bed does not promise it here: ${promise.why})` };
  return {
    fail:
      `the local test bed is broken: \`npm run cluster:up\` promises ${promise.what}, and it is missing: ${detail}` +
      (promise.note ? `; ${promise.note}` : ""),
  };
}

/** A prerequisite the local test bed promises is missing: the test bed is broken, which is never a skip. */
export class TestbedBrokenError extends Error {
  override name = "TestbedBrokenError";
}

/** What the local test bed published about itself; undefined when the cluster is not one (no ConfigMap). */
export async function testbedFacts(kube: Kube): Promise<TestbedFacts | undefined> {
  const absentAsUndefined = (error: unknown): undefined => {
    if (isNotFound(error)) return undefined;
    throw error;
  };
  const info = await kube.core.readNamespacedConfigMap({ ...TESTBED_INFO }).catch(absentAsUndefined);
  if (info === undefined) return undefined;
  const cephfs = await kube.core
    .readNamespacedConfigMap({ namespace: "kube-public", name: TESTBED_CEPHFS.name })
    .catch(absentAsUndefined);
  return {
    info: info.data ?? {},
    cephfs: cephfs === undefined ? undefined : (cephfs.data ?? {}),
    runnerInCluster: config().inCluster,
  };
}

/**
 * `p` is missing (`detail`: what is missing, what the cluster has): skips the test with the reason, or throws
 * TestbedBrokenError when the local test bed promises it (prerequisiteVerdict).
 */
export async function prerequisiteMissing(ctx: SkipContext, p: Prerequisite, detail: string): Promise<never> {
  const verdict = prerequisiteVerdict(p, await testbedFacts(ctx.kube), detail);
  if ("fail" in verdict) throw new TestbedBrokenError(verdict.fail);
  return skipBecause(ctx, verdict.skip);
}

/**
 * Pod Security admission refused `what` (a pod, or the pods of a Deployment) with `message`. In a namespace the
 * scenario labelled privileged the cluster forbids what it needs: the test is skipped with the admission
 * message. At a lower level the scenario's own manifests break its declaration: PodSecurityRefusedError, a
 * failure. Outside a test (no ns.skip) it is an error too.
 */
export function refusedByPodSecurity(
  ns: Pick<TestNamespace, "name" | "podSecurity" | "skip">,
  what: string,
  message: string,
): never {
  if (ns.podSecurity === "privileged" && ns.skip !== undefined) {
    const skip = ns.skip;
    return skipBecause({ skip: (note) => skip(note ?? message) }, podSecuritySkipReason(what, message));
  }
  throw new PodSecurityRefusedError(
    `${what} refused by Pod Security admission in namespace ${ns.name}, labelled ${ns.podSecurity ?? "(unknown level)"} ` +
      `by the scenario's podSecurity(): ${message}`,
  );
}

/** Why the node is not Ready (`NotReady (Kubelet stopped posting node status)`); undefined when it is. */
export function notReadyBecause(node: V1Node): string | undefined {
  const ready = node.status?.conditions?.find((c) => c.type === "Ready");
  if (ready?.status === "True") return undefined;
  const detail = ready === undefined ? "no Ready condition" : ready.message || ready.reason || `Ready=${ready.status}`;
  return `NotReady (${detail.replace(/\.$/, "")})`;
}

/** Why a pod could not be scheduled on a node; empty when it could. */
export function unusableBecause(node: V1Node, tolerations: readonly V1Toleration[] = []): string[] {
  const why: string[] = [];
  const notReady = notReadyBecause(node);
  if (notReady !== undefined) why.push(notReady);
  if (node.spec?.unschedulable) why.push("cordoned (spec.unschedulable)");
  for (const taint of node.spec?.taints ?? []) {
    if (taint.effect !== "NoSchedule" && taint.effect !== "NoExecute") continue;
    if (tolerations.some((t) => tolerates(t, taint))) continue;
    why.push(`taint ${taint.key}${taint.value ? `=${taint.value}` : ""}:${taint.effect}`);
  }
  return why;
}

/** The scheduler's rule: a toleration matches a taint's key (any key with an empty key and Exists), value and effect. */
export function tolerates(toleration: V1Toleration, taint: V1Taint): boolean {
  if (toleration.effect && toleration.effect !== taint.effect) return false;
  if (toleration.operator === "Exists") return !toleration.key || toleration.key === taint.key;
  return toleration.key === taint.key && (toleration.value ?? "") === (taint.value ?? "");
}

export interface NodeUsability {
  /** Names of the nodes a pod of the test could be scheduled on, sorted. */
  usable: string[];
  /** `k8s-worker2: NotReady (Kubelet stopped posting node status)` for each other node. */
  unusable: string[];
}

/** Splits `nodes` into those a pod with `tolerations` could be scheduled on (Ready, not cordoned, no untolerated taint) and the rest, with why. */
export function nodeUsability(nodes: readonly V1Node[], tolerations: readonly V1Toleration[] = []): NodeUsability {
  const usable: string[] = [];
  const unusable: string[] = [];
  for (const node of [...nodes].sort((a, b) => (a.metadata?.name ?? "").localeCompare(b.metadata?.name ?? ""))) {
    const name = node.metadata?.name ?? "?";
    const why = unusableBecause(node, tolerations);
    if (why.length === 0) usable.push(name);
    else unusable.push(`${name}: ${why.join(", ")}`);
  }
  return { usable, unusable };
}

/**
 * At least `count` nodes a pod of the test (carrying `tolerations`, none by default) could be scheduled on:
 * Ready, not cordoned, and no NoSchedule/NoExecute taint it does not tolerate. Returns their names; skips
 * naming every unusable node and why (fails instead on the local test bed, for up to TESTBED_NODES). Every test
 * of a file that needs these nodes calls it, so they agree.
 */
export async function requireSchedulableNodes(
  ctx: SkipContext,
  count: number,
  tolerations: readonly V1Toleration[] = [],
): Promise<string[]> {
  const { usable, unusable } = nodeUsability((await ctx.kube.core.listNode()).items, tolerations);
  if (usable.length < count) {
    return prerequisiteMissing(
      ctx,
      { kind: "schedulable nodes", count },
      `needs ${count} nodes a pod of this test can be scheduled on, cluster has ${usable.length}` +
        ` (${usable.join(", ") || "none"}); unusable: ${unusable.join("; ") || "none"}`,
    );
  }
  return usable;
}

export interface StorageClassWanted {
  /** A StorageClass with this name; otherwise the cluster's default class. */
  name?: string;
  /** Only classes whose provisioner matches, e.g. /cephfs/ for ReadWriteMany. */
  provisioner?: RegExp;
}

function isDefault(sc: V1StorageClass): boolean {
  return sc.metadata?.annotations?.["storageclass.kubernetes.io/is-default-class"] === "true";
}

/** A StorageClass as described; returns its name. Skips when there is none (fails when the test bed promises it). */
export async function requireStorageClass(ctx: SkipContext, wanted: StorageClassWanted = {}): Promise<string> {
  const classes = (await ctx.kube.storage.listStorageClass()).items;
  const match = classes.find(
    (sc) =>
      (wanted.name === undefined
        ? wanted.provisioner !== undefined || isDefault(sc)
        : sc.metadata?.name === wanted.name) &&
      (wanted.provisioner === undefined || wanted.provisioner.test(sc.provisioner)),
  );
  if (match?.metadata?.name === undefined) {
    const what = wanted.name ? `StorageClass "${wanted.name}"` : "a default StorageClass";
    const how = wanted.provisioner ? ` with a provisioner matching ${wanted.provisioner}` : "";
    const have = classes.map((sc) => `${sc.metadata?.name} (${sc.provisioner}${isDefault(sc) ? ", default" : ""})`);
    const p: Prerequisite =
      wanted.name === undefined && wanted.provisioner === undefined
        ? { kind: "default StorageClass" }
        : { kind: "StorageClass", ...wanted };
    return prerequisiteMissing(ctx, p, `needs ${what}${how}; cluster has: ${have.join(", ") || "none"}`);
  }
  return match.metadata.name;
}

/**
 * A Ready node labelled k8s-ops-conformance/memory-pressure=true (a kubelet that evicts at a small memory
 * threshold); returns its name. Skips when there is none (fails on the local test bed, which makes one).
 */
export async function requireMemoryPressureNode(ctx: SkipContext): Promise<string> {
  const label = `${MEMORY_PRESSURE_LABEL.key}=${MEMORY_PRESSURE_LABEL.value}`;
  const labelled = (await ctx.kube.core.listNode({ labelSelector: label })).items;
  const ready = labelled.filter((n) => notReadyBecause(n) === undefined);
  const name = ready[0]?.metadata?.name;
  if (name !== undefined) return name;
  const seen = labelled.map((n) => `${n.metadata?.name}: ${notReadyBecause(n)}`);
  return prerequisiteMissing(
    ctx,
    { kind: "memory-pressure node" },
    `needs a Ready node labelled ${label} whose kubelet evicts at a small memory threshold; ` +
      (seen.length > 0 ? `the labelled nodes are not Ready: ${seen.join("; ")}` : "this cluster has none"),
  );
}
