/**
 * Named checks on PersistentVolumeClaims and PersistentVolumes, and one line for each that says what
 * `kubectl get pvc,pv` and `kubectl describe pvc` would: phase, class, modes, size, binding, events.
 */
import type { CoreV1Event, V1PersistentVolume, V1PersistentVolumeClaim } from "@kubernetes/client-node";
import type { Kube } from "../framework/kube.ts";
import type { TestNamespace } from "../framework/namespace.ts";
import type { Check } from "../framework/wait.ts";
import { gone } from "./conditions.ts";

/** `data Bound volume=pv-1 class="" modes=RWO requested=500Mi capacity=1Gi` */
export function showClaim(claim: V1PersistentVolumeClaim): string {
  const modes = (claim.spec?.accessModes ?? []).map(shortMode).join(",") || "-";
  const parts = [
    `${claim.metadata?.name} ${claim.metadata?.deletionTimestamp ? "Terminating" : (claim.status?.phase ?? "?")}`,
    `volume=${claim.spec?.volumeName || "-"}`,
    `class=${JSON.stringify(claim.spec?.storageClassName ?? null)}`,
    `modes=${modes}`,
    `requested=${claim.spec?.resources?.requests?.storage ?? "-"}`,
    `capacity=${claim.status?.capacity?.storage ?? "-"}`,
  ];
  return parts.join(" ");
}

/** Where a volume's data lives: `hostPath=/x`, `csi=driver`, `local=/x`. */
function volumeSource(pv: V1PersistentVolume): string | undefined {
  const spec = pv.spec;
  if (spec?.hostPath) return `hostPath=${spec.hostPath.path}`;
  if (spec?.csi) return `csi=${spec.csi.driver}`;
  if (spec?.local) return `local=${spec.local.path}`;
  return undefined;
}

/** `pv-1 Released claim=ns/data reclaim=Retain class="" modes=RWO capacity=1Gi node=w1 hostPath=/x` */
export function showVolume(pv: V1PersistentVolume): string {
  const claim = pv.spec?.claimRef ? `${pv.spec.claimRef.namespace}/${pv.spec.claimRef.name}` : "-";
  const nodes = pv.spec?.nodeAffinity?.required?.nodeSelectorTerms
    ?.flatMap((t) => [...(t.matchExpressions ?? []), ...(t.matchFields ?? [])])
    .flatMap((e) => e.values ?? []);
  const parts = [
    `${pv.metadata?.name} ${pv.metadata?.deletionTimestamp ? "Terminating" : (pv.status?.phase ?? "?")}`,
    `claim=${claim}`,
    `reclaim=${pv.spec?.persistentVolumeReclaimPolicy ?? "-"}`,
    `class=${JSON.stringify(pv.spec?.storageClassName ?? "")}`,
    `modes=${(pv.spec?.accessModes ?? []).map(shortMode).join(",") || "-"}`,
    `capacity=${pv.spec?.capacity?.storage ?? "-"}`,
    nodes?.length ? `node=${nodes.join(",")}` : undefined,
    volumeSource(pv),
    pv.status?.message ? `(${pv.status.message})` : undefined,
  ];
  return parts.filter(Boolean).join(" ");
}

/** `Normal FailedBinding: no persistent volumes available for this claim and no storage class is set (x3)` */
export function showEvent(event: CoreV1Event): string {
  const count = (event.count ?? 1) > 1 ? ` (x${event.count})` : "";
  return `${event.type ?? ""} ${event.reason ?? ""}: ${(event.message ?? "").trim()}${count}`;
}

/** ReadWriteOnce → RWO, as kubectl prints access modes. */
export function shortMode(mode: string): string {
  const short: Record<string, string> = {
    ReadWriteOnce: "RWO",
    ReadOnlyMany: "ROX",
    ReadWriteMany: "RWX",
    ReadWriteOncePod: "RWOP",
  };
  return short[mode] ?? mode;
}

/** The claim `name` is in `phase` (Pending, Bound, Lost). */
export function claimPhase(ns: TestNamespace, name: string, phase: string): Check<V1PersistentVolumeClaim> {
  return {
    observe: () => ns.kube.core.readNamespacedPersistentVolumeClaim({ name, namespace: ns.name }),
    ok: (claim) => claim.status?.phase === phase && claim.metadata?.deletionTimestamp === undefined,
    show: showClaim,
  };
}

/** The PersistentVolume `name` is in `phase` (Available, Bound, Released, Failed). */
export function volumePhase(kube: Kube, name: string, phase: string): Check<V1PersistentVolume> {
  return {
    observe: () => kube.core.readPersistentVolume({ name }),
    ok: (pv) => pv.status?.phase === phase,
    show: showVolume,
  };
}

/** The PersistentVolume `name` no longer exists. */
export function volumeGone(kube: Kube, name: string): Check<V1PersistentVolume | undefined> {
  return gone(() => kube.core.readPersistentVolume({ name }), showVolume);
}

/** Events of the claim whose reason is `reason` and whose message contains `message`. */
export function claimEvent(ns: TestNamespace, claim: string, reason: string, message: string): Check<CoreV1Event[]> {
  return {
    observe: async () =>
      (
        await ns.kube.core.listNamespacedEvent({
          namespace: ns.name,
          fieldSelector: `involvedObject.kind=PersistentVolumeClaim,involvedObject.name=${claim}`,
        })
      ).items,
    ok: (events) => events.some((e) => e.reason === reason && (e.message ?? "").includes(message)),
    show: (events) =>
      `no ${reason} event saying "${message}"; events of claim ${claim}: ${events.map(showEvent).join("; ") || "none"}`,
  };
}

/** The claim `name` no longer exists. */
export function claimGone(ns: TestNamespace, name: string): Check<V1PersistentVolumeClaim | undefined> {
  return gone(() => ns.kube.core.readNamespacedPersistentVolumeClaim({ name, namespace: ns.name }), showClaim);
}
