/**
 * Why a claim is not Bound, or why a pod that mounts claims is not Ready, in the words an operator needs:
 * each claim with the node it was meant for (the scheduler's `volume.kubernetes.io/selected-node`), its
 * provisioner and its events, then the provisioner's own last log lines. A storage wait that times out
 * appends this as its diagnosis (`waitFor(..., { diagnose })`).
 *
 * The provisioner's pods are found by the name the StorageClass gives (`provisionerPods`): a container
 * whose command, args or env carry it, else a pod whose name carries its last segment. What cannot be
 * read (403, gone) is said in one line; the diagnosis itself never fails the wait.
 */
import type { V1Container, V1PersistentVolumeClaim, V1Pod } from "@kubernetes/client-node";
import { formatEvents } from "../framework/diagnostics.ts";
import { describeApiError } from "../framework/kube.ts";
import type { TestNamespace } from "../framework/namespace.ts";
import { showClaim } from "./volumes.ts";

/** Log lines of each provisioner pod in a diagnosis. */
const PROVISIONER_LOG_LINES = 20;

function mentions(container: V1Container, name: string): boolean {
  const words = [
    ...(container.command ?? []),
    ...(container.args ?? []),
    ...(container.env ?? []).map((e) => e.value ?? ""),
  ];
  return words.some((w) => w === name || w.endsWith(`=${name}`));
}

/**
 * The pods that serve `provisioner` (a StorageClass's provisioner name): those with a container that names it
 * in its command, args or env (local-path-provisioner's --provisioner-name, a CSI driver's --drivername), else
 * those whose pod name carries its last segment (`rancher.io/local-path` → `local-path-provisioner-…`).
 */
export function provisionerPods(pods: readonly V1Pod[], provisioner: string): V1Pod[] {
  const named = pods.filter((p) => (p.spec?.containers ?? []).some((c) => mentions(c, provisioner)));
  if (named.length > 0) return named;
  const segment = provisioner.split("/").pop()?.toLowerCase() ?? "";
  if (segment.length < 3) return [];
  return pods.filter((p) => (p.metadata?.name ?? "").toLowerCase().includes(segment));
}

/** The claims a pod mounts. */
export function claimsOf(pod: V1Pod): string[] {
  return (pod.spec?.volumes ?? []).flatMap((v) => (v.persistentVolumeClaim ? [v.persistentVolumeClaim.claimName] : []));
}

/** One paragraph per claim: `showClaim`, the node it was meant for, its provisioner, its events. */
export function describeClaim(claim: V1PersistentVolumeClaim, events: string): string {
  const annotations = claim.metadata?.annotations ?? {};
  const node = annotations["volume.kubernetes.io/selected-node"];
  const provisioner =
    annotations["volume.kubernetes.io/storage-provisioner"] ??
    annotations["volume.beta.kubernetes.io/storage-provisioner"];
  return [
    `claim ${showClaim(claim)}`,
    `  meant for node: ${node ?? "(none selected)"}; provisioner: ${provisioner ?? "(none asked)"}`,
    `  events:\n    ${events.replace(/\n/g, "\n    ")}`,
  ].join("\n");
}

async function claimParagraph(ns: TestNamespace, name: string): Promise<{ text: string; class?: string | undefined }> {
  try {
    const claim = await ns.kube.core.readNamespacedPersistentVolumeClaim({ name, namespace: ns.name });
    const events = await ns.kube.core
      .listNamespacedEvent({
        namespace: ns.name,
        fieldSelector: `involvedObject.kind=PersistentVolumeClaim,involvedObject.name=${name}`,
      })
      .then((list) => formatEvents(list.items))
      .catch((e) => `(events not readable: ${describeApiError(e)})`);
    return { text: describeClaim(claim, events), class: claim.spec?.storageClassName };
  } catch (error) {
    return { text: `claim ${ns.name}/${name}: not readable (${describeApiError(error)})` };
  }
}

async function provisionerLogs(ns: TestNamespace, storageClass: string): Promise<string> {
  try {
    const sc = await ns.kube.storage.readStorageClass({ name: storageClass });
    const pods = provisionerPods((await ns.kube.core.listPodForAllNamespaces({})).items, sc.provisioner);
    if (pods.length === 0) return `provisioner ${sc.provisioner} (class ${storageClass}): no pod of it found`;
    const logs = await Promise.all(
      pods.map(async (p) => {
        const where = `${p.metadata?.namespace}/${p.metadata?.name} on ${p.spec?.nodeName ?? "(no node)"}`;
        const text = await ns.kube.core
          .readNamespacedPodLog({
            name: p.metadata?.name ?? "",
            namespace: p.metadata?.namespace ?? "",
            container: p.spec?.containers[0]?.name,
            tailLines: PROVISIONER_LOG_LINES,
          })
          .catch((e) => `(not readable: ${describeApiError(e)})`);
        return `provisioner pod ${where}, last ${PROVISIONER_LOG_LINES} log lines:\n    ${String(text).trimEnd().replace(/\n/g, "\n    ")}`;
      }),
    );
    return logs.join("\n");
  } catch (error) {
    return `provisioner of class ${storageClass}: not readable (${describeApiError(error)})`;
  }
}

/** The claims' paragraphs, then the last log lines of each provisioner they wait for. */
export async function diagnoseClaims(ns: TestNamespace, claims: readonly string[]): Promise<string> {
  if (claims.length === 0) return "(the pod mounts no claim)";
  const paragraphs = await Promise.all(claims.map((c) => claimParagraph(ns, c)));
  const classes = [...new Set(paragraphs.flatMap((p) => (p.class ? [p.class] : [])))];
  const logs = await Promise.all(classes.map((c) => provisionerLogs(ns, c)));
  return [...paragraphs.map((p) => p.text), ...logs].join("\n");
}

/** For a pod's wait: the claims it mounts, diagnosed (nothing when it mounts none). */
export async function diagnosePodClaims(ns: TestNamespace, pod: string): Promise<string> {
  const claims = claimsOf(await ns.kube.core.readNamespacedPod({ name: pod, namespace: ns.name }));
  return claims.length === 0 ? "" : diagnoseClaims(ns, claims);
}
