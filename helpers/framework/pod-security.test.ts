/**
 * On purpose: with podSecurityRefusal accepting any 403 (the "violates PodSecurity" test taken out), the RBAC
 * case failed (an RBAC refusal recognised as Pod Security: a missing permission would have become a skip); with
 * privilegedNamespaceRefusal's level check taken out, the baseline row failed; with its ABOUT_POD_SECURITY
 * test taken out, the webhook refusing for another reason failed.
 */
import { ApiException } from "@kubernetes/client-node";
import { describe, expect, test } from "vitest";
import {
  apiRefusal,
  podSecurityRefusal,
  podSecuritySkipReason,
  privilegedNamespaceRefusal,
  replicaFailureByPodSecurity,
} from "./pod-security.ts";

/** An API answer as @kubernetes/client-node throws it: the Status body as the server sent it (text). */
const refused = (code: number, message: string, reason = "Forbidden"): ApiException<string> =>
  new ApiException(
    code,
    `HTTP ${code}`,
    JSON.stringify({ kind: "Status", status: "Failure", message, reason, code }),
    {},
  );

const PSA =
  'pods "writer" is forbidden: violates PodSecurity "baseline:latest": hostPath volumes (volume "data"), privileged (container "rm" must not set securityContext.privileged=true)';
const RBAC =
  'pods is forbidden: User "system:serviceaccount:ci:runner" cannot create resource "pods" in API group "" in the namespace "koc-hostpath-node-local-ab12c"';
const WEBHOOK =
  'admission webhook "validate.kyverno.svc-fail" denied the request: \n\nresource Namespace//koc-static-binding-ab12c was blocked due to the following policies\n\nrestrict-namespace-levels:\n  deny-privileged: namespaces may not set pod-security.kubernetes.io/enforce=privileged';
const POLICY =
  "namespaces \"koc-static-binding-ab12c\" is invalid: : ValidatingAdmissionPolicy 'no-privileged-namespaces' with binding 'no-privileged-namespaces' denied request: the privileged Pod Security level is reserved for platform namespaces";
const OTHER_WEBHOOK =
  'admission webhook "namespaces.example.com" denied the request: every namespace needs the label team=<owner>';

describe("recognising a refusal by Pod Security", () => {
  test("reads the code and the Status message, whether the client parsed the body or not", () => {
    expect(apiRefusal(refused(403, PSA))).toEqual({ code: 403, message: PSA });
    expect(apiRefusal(new ApiException(403, "HTTP 403", { message: PSA }, {}))).toEqual({ code: 403, message: PSA });
    expect(apiRefusal(new Error("socket hang up"))).toBeUndefined();
  });

  test("a pod refused by the Pod Security admission plugin, and nothing else", () => {
    expect(podSecurityRefusal(refused(403, PSA))).toBe(PSA);
    expect(podSecurityRefusal(refused(403, RBAC))).toBeUndefined();
    expect(podSecurityRefusal(refused(422, `${PSA} (as if invalid)`, "Invalid"))).toBeUndefined();
    expect(podSecurityRefusal(new Error(PSA))).toBeUndefined();
  });

  test.each([
    ["a webhook denying the privileged level", "privileged", refused(400, WEBHOOK, "BadRequest"), WEBHOOK],
    ["a ValidatingAdmissionPolicy denying it", "privileged", refused(422, POLICY, "Invalid"), POLICY],
    ["Pod Security itself", "privileged", refused(403, PSA), PSA],
    ["RBAC refusing the namespace", "privileged", refused(403, RBAC), undefined],
    ["a webhook refusing for another reason", "privileged", refused(400, OTHER_WEBHOOK, "BadRequest"), undefined],
    ["a namespace at level baseline", "baseline", refused(400, WEBHOOK, "BadRequest"), undefined],
    ["the API server failing", "privileged", refused(500, WEBHOOK, "InternalError"), undefined],
  ] as const)("a namespace refused: %s", (_case, level, error, expected) => {
    expect(privilegedNamespaceRefusal(level, error)).toBe(expected);
  });

  test("a Deployment whose pods Pod Security refused says so in its ReplicaFailure condition", () => {
    const failure = { type: "ReplicaFailure", status: "True", message: PSA };
    expect(replicaFailureByPodSecurity([{ type: "Available", status: "False" }, failure])).toBe(PSA);
    expect(replicaFailureByPodSecurity([{ ...failure, status: "False" }])).toBeUndefined();
    expect(replicaFailureByPodSecurity([{ ...failure, message: 'exceeded quota: "pods"' }])).toBeUndefined();
    expect(replicaFailureByPodSecurity(undefined)).toBeUndefined();
  });

  test("the skip reason carries what was refused and the admission message", () => {
    expect(podSecuritySkipReason("Pod writer", PSA)).toBe(
      `Pod Security forbids what this scenario needs (level privileged, for host access) on this cluster: Pod writer refused: ${PSA}`,
    );
  });
});
