/**
 * The permission preflight: before any test runs, ask the API server (SelfSubjectAccessReview, one per
 * resource and verb, all at once) whether the identity of the kubeconfig may do what the selected suites
 * need. A missing permission is one line naming the identity, the permission and the scenario (exit 4),
 * instead of a 403 stack trace deep in a test.
 */
import { AuthenticationV1Api, AuthorizationV1Api, type KubeConfig } from "@kubernetes/client-node";
import { describeApiError } from "../helpers/framework/kube.ts";
import { type Need, parseResource } from "../helpers/framework/permissions.ts";
import { T } from "../helpers/framework/timeouts.ts";
import { withDeadline } from "../helpers/framework/wait.ts";
import { UnreachableError } from "./target.ts";

/** The user name the API server sees (SelfSubjectReview), or the kubeconfig's user entry when it cannot say. */
export async function whoAmI(kc: KubeConfig): Promise<string> {
  try {
    const review = await kc.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({
      body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" },
    });
    const name = review.status?.userInfo?.username;
    if (name) return name;
  } catch {
    // older servers or a denied review: the kubeconfig's user entry still names the identity
  }
  return `kubeconfig user ${kc.getCurrentUser()?.name ?? "?"}`;
}

async function allowed(api: AuthorizationV1Api, need: Need): Promise<boolean> {
  const { group, resource, subresource } = parseResource(need.resource);
  const review = await api.createSelfSubjectAccessReview({
    body: {
      apiVersion: "authorization.k8s.io/v1",
      kind: "SelfSubjectAccessReview",
      spec: {
        resourceAttributes: {
          group,
          resource,
          verb: need.verb,
          ...(subresource ? { subresource } : {}),
          ...(need.namespace ? { namespace: need.namespace } : {}),
        },
      },
    },
  });
  return review.status?.allowed === true;
}

/** The needs the identity may not satisfy, in the order given; throws UnreachableError when it cannot ask. */
export async function missingPermissions(kc: KubeConfig, wanted: readonly Need[]): Promise<Need[]> {
  const api = kc.makeApiClient(AuthorizationV1Api);
  try {
    const answers = await withDeadline(
      `answers to ${wanted.length} SelfSubjectAccessReviews`,
      T.apiCall, // dozens of small requests at once: a busy API server needs more than a reachability check
      Promise.all(wanted.map((need) => allowed(api, need))),
    );
    return wanted.filter((_, i) => !answers[i]);
  } catch (error) {
    throw new UnreachableError(`cannot check permissions (SelfSubjectAccessReview): ${describeApiError(error)}`);
  }
}
