/**
 * Sweeps what the suite created: namespaces and cluster-scoped objects carrying the managed-by label,
 * optionally only one run's (run-id label). Used after every run by the CLI (also after Ctrl-C), by the
 * global teardown, and by `k8s-ops-conformance cleanup` for leftovers of earlier or killed runs.
 */
import type { KubernetesObject } from "@kubernetes/client-node";
import { CLUSTER_SCOPED_KINDS } from "../manifests/template.ts";
import { managedSelector } from "./config.ts";
import { describeApiError, isNotFound, type Kube, statusCode } from "./kube.ts";
import { POLL } from "./timeouts.ts";
import { type Check, WaitTimeoutError, waitFor } from "./wait.ts";

export interface SweepResult {
  /** `Kind/name` of everything a delete was sent for. */
  deleted: string[];
  /** `Kind/name (why)` of what was still there at the deadline. */
  remaining: string[];
}

const SWEPT_KINDS = [{ apiVersion: "v1", kind: "Namespace" }, ...CLUSTER_SCOPED_KINDS];

async function listManaged(kube: Kube, selector: string): Promise<KubernetesObject[]> {
  const found: KubernetesObject[] = [];
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
      // A kind the cluster does not serve (or we may not list) cannot hold our objects.
      if (!isNotFound(error) && statusCode(error) !== 403) throw error;
    }
  }
  return found;
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
  const objects = (await listManaged(kube, selector)).filter(
    (o) => new Date(o.metadata?.creationTimestamp ?? 0).getTime() <= cutoff,
  );
  const deleted: string[] = [];
  for (const object of objects) {
    try {
      await kube.objects.delete(object, undefined, undefined, undefined, undefined, "Background");
      deleted.push(`${object.kind}/${object.metadata?.name}`);
    } catch (error) {
      if (!isNotFound(error))
        deleted.push(`${object.kind}/${object.metadata?.name} (delete failed: ${describeApiError(error)})`);
    }
  }
  if (objects.length === 0) return { deleted, remaining: [] };
  const names = new Set(objects.map((o) => `${o.kind}/${o.metadata?.name}`));
  const ours = async (): Promise<KubernetesObject[]> =>
    (await listManaged(kube, selector)).filter((o) => names.has(`${o.kind}/${o.metadata?.name}`));
  const allGone: Check<KubernetesObject[]> = {
    observe: ours,
    ok: (left) => left.length === 0,
    show: (left) => left.map(label).join(", "),
  };
  try {
    await waitFor(`every object labelled ${selector} is gone`, allGone, options.timeout, { interval: POLL.slow });
    return { deleted, remaining: [] };
  } catch (error) {
    if (!(error instanceof WaitTimeoutError)) throw error;
    return { deleted, remaining: (await ours()).map(label) };
  }
}
