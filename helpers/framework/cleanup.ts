/**
 * Sweeps what the suite created: namespaces and cluster-scoped objects carrying the managed-by label,
 * optionally only one run's (run-id label). Used after every run by the CLI (also after Ctrl-C), by the
 * global teardown, and by `k8s-ops-conformance cleanup` for leftovers of earlier or killed runs.
 *
 * A kind the cluster does not serve (404) cannot hold our objects and is passed over. Any other error, a
 * permission error (403) above all, is never taken for "nothing to delete": it is returned in `unlisted`
 * or `undeleted`, naming the kind or object and the error, and the caller decides how loudly to fail.
 */
import type { KubernetesObject } from "@kubernetes/client-node";
import { CLUSTER_SCOPED_KINDS } from "../manifests/template.ts";
import { managedSelector } from "./config.ts";
import { describeApiError, isNotFound, type Kube } from "./kube.ts";
import { POLL } from "./timeouts.ts";
import { type Check, WaitTimeoutError, waitFor } from "./wait.ts";

export interface SweepResult {
  /** `Kind/name` of everything a delete was sent for. */
  deleted: string[];
  /** `Kind/name (why)` of what was still there at the deadline. */
  remaining: string[];
  /** Kinds that could not be listed: `StorageClass (storage.k8s.io/v1): 403 Forbidden: ...`. */
  unlisted: string[];
  /** Objects whose delete was refused or failed: `Namespace/koc-x: 403 Forbidden: ...`. */
  undeleted: string[];
}

const SWEPT_KINDS = [{ apiVersion: "v1", kind: "Namespace" }, ...CLUSTER_SCOPED_KINDS];

interface Listed {
  found: KubernetesObject[];
  /** `Kind (apiVersion): error` for every kind that could not be listed. */
  failed: string[];
}

async function listManaged(kube: Kube, selector: string): Promise<Listed> {
  const found: KubernetesObject[] = [];
  const failed: string[] = [];
  for (const { apiVersion, kind } of SWEPT_KINDS) {
    try {
      const list = await kube.objects.list(
        apiVersion,
        kind,
        undefined,
        undefined,
        undefined,
        undefined,
        undefined,
        selector,
      );
      for (const item of list.items) found.push({ ...item, apiVersion, kind });
    } catch (error) {
      // A kind the cluster does not serve cannot hold our objects; anything else is reported.
      if (!isNotFound(error)) failed.push(`${kind} (${apiVersion}): ${describeApiError(error)}`);
    }
  }
  return { found, failed };
}

function label(object: KubernetesObject): string {
  const phase = (object as { status?: { phase?: string } }).status?.phase;
  const finalizers = object.metadata?.finalizers ?? [];
  const why = [phase, finalizers.length ? `finalizers: ${finalizers.join(", ")}` : undefined]
    .filter(Boolean)
    .join("; ");
  return `${object.kind}/${object.metadata?.name}${why ? ` (${why})` : ""}`;
}

/**
 * Deletes every managed object (of `runId` when given; created at least `olderThanMs` ago) and waits up to
 * `timeout` ms for those to be gone.
 * Never throws for leftovers: they are reported in `remaining` so the caller can print them.
 */
export async function sweepManaged(
  kube: Kube,
  options: { runId?: string; timeout: number; olderThanMs?: number },
): Promise<SweepResult> {
  const selector = managedSelector(options.runId);
  const cutoff = Date.now() - (options.olderThanMs ?? 0);
  const listed = await listManaged(kube, selector);
  const unlisted = listed.failed;
  const undeleted: string[] = [];
  const objects = listed.found.filter((o) => new Date(o.metadata?.creationTimestamp ?? 0).getTime() <= cutoff);
  const deleted: string[] = [];
  for (const object of objects) {
    const name = `${object.kind}/${object.metadata?.name}`;
    try {
      await kube.objects.delete(object, undefined, undefined, undefined, undefined, "Background");
      deleted.push(name);
    } catch (error) {
      if (!isNotFound(error)) undeleted.push(`${name}: ${describeApiError(error)}`);
    }
  }
  if (deleted.length === 0) return { deleted, remaining: [], unlisted, undeleted };
  const names = new Set(deleted);
  const ours = async (): Promise<KubernetesObject[]> =>
    (await listManaged(kube, selector)).found.filter((o) => names.has(`${o.kind}/${o.metadata?.name}`));
  const allGone: Check<KubernetesObject[]> = {
    observe: ours,
    ok: (left) => left.length === 0,
    show: (left) => left.map(label).join(", "),
  };
  try {
    await waitFor(`every object labelled ${selector} is gone`, allGone, options.timeout, { interval: POLL.slow });
    return { deleted, remaining: [], unlisted, undeleted };
  } catch (error) {
    if (!(error instanceof WaitTimeoutError)) throw error;
    return { deleted, remaining: (await ours()).map(label), unlisted, undeleted };
  }
}
