/**
 * Recognising a refusal by Pod Security, so that a scenario declared `podSecurity("privileged")` (it needs host
 * access: hostPath volumes) is SKIPPED with the admission message where the cluster forbids that, as the README
 * promises for a missing prerequisite, instead of failing as if the cluster misbehaved. Two places refuse:
 *
 *   - the namespace: a cluster whose policy forbids the privileged level refuses the namespace labelled with it
 *     (an admission webhook or a ValidatingAdmissionPolicy naming Pod Security or the privileged level);
 *   - a pod: the Pod Security admission plugin answers 403 `... violates PodSecurity "baseline:latest": hostPath
 *     volumes ...` when the namespace's level is not the one the suite set (a policy rewrote the labels, or the
 *     cluster's admission configuration overrides them); for pods a controller creates, the same message is
 *     the ReplicaSet's, and the Deployment's, ReplicaFailure condition.
 *
 * Only a privileged scenario is skipped: in a namespace at the level a scenario declared lower, a refusal means
 * the scenario's manifests break their own declaration, which is a failure (PodSecurityRefusedError).
 */
import { ApiException, type V1DeploymentCondition } from "@kubernetes/client-node";
import type { PodSecurityLevel } from "./namespace.ts";

/** What the Pod Security admission plugin says when it refuses a pod (staging/src/k8s.io/pod-security-admission). */
const VIOLATES = /violates PodSecurity/;
/** How an admission webhook or a ValidatingAdmissionPolicy words a denial. */
const ADMISSION_DENIAL =
  /admission webhook ".*" denied the request|ValidatingAdmissionPolicy .* denied request|violates PodSecurity/i;
/** A denial about Pod Security or the privileged level, rather than about something else of the namespace. */
const ABOUT_POD_SECURITY = /pod-security|PodSecurity|pod security|privileged/i;

/** A refusal by Pod Security: the scenario ends here, skipped or failed (see refusedByPodSecurity in manifests/prereq.ts). */
export class PodSecurityRefusedError extends Error {
  override name = "PodSecurityRefusedError";
}

/** The HTTP status and the Status message of an API error; undefined when the server did not answer. */
export function apiRefusal(error: unknown): { code: number; message: string } | undefined {
  if (!(error instanceof ApiException)) return undefined;
  const body: unknown = error.body;
  let message: unknown;
  if (typeof body === "string") {
    try {
      message = (JSON.parse(body) as { message?: unknown }).message;
    } catch {
      message = body;
    }
  } else if (body !== null && typeof body === "object") {
    message = (body as { message?: unknown }).message;
  }
  return { code: error.code, message: typeof message === "string" ? message : String(error.message) };
}

/** The admission message when `error` is the Pod Security admission plugin refusing an object (403); else undefined. */
export function podSecurityRefusal(error: unknown): string | undefined {
  const refusal = apiRefusal(error);
  return refusal?.code === 403 && VIOLATES.test(refusal.message) ? refusal.message : undefined;
}

/**
 * The admission message when creating a namespace at `level` was refused because of that level: only for
 * "privileged", only an admission denial (400, 403 or 422 from a webhook, a ValidatingAdmissionPolicy or Pod
 * Security itself) that names Pod Security or the privileged level. Anything else (RBAC's 403 "cannot create
 * resource", a webhook refusing for another reason, a lower level) is undefined: not a reason to skip.
 */
export function privilegedNamespaceRefusal(level: PodSecurityLevel, error: unknown): string | undefined {
  if (level !== "privileged") return undefined;
  const refusal = apiRefusal(error);
  if (refusal === undefined || ![400, 403, 422].includes(refusal.code)) return undefined;
  if (!ADMISSION_DENIAL.test(refusal.message) || !ABOUT_POD_SECURITY.test(refusal.message)) return undefined;
  return refusal.message;
}

/** The message of a Deployment's (or ReplicaSet's) ReplicaFailure condition when Pod Security refused its pods. */
export function replicaFailureByPodSecurity(
  conditions: readonly Pick<V1DeploymentCondition, "type" | "status" | "message">[] | undefined,
): string | undefined {
  const failure = conditions?.find((c) => c.type === "ReplicaFailure" && c.status === "True");
  return failure?.message !== undefined && VIOLATES.test(failure.message) ? failure.message : undefined;
}

/** The skip reason of a privileged scenario the cluster refused: what was refused, and the admission message. */
export function podSecuritySkipReason(what: string, message: string): string {
  return `Pod Security forbids what this scenario needs (level privileged, for host access) on this cluster: ${what} refused: ${message}`;
}
