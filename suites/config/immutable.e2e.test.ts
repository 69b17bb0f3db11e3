/**
 * Testname: ConfigMaps, immutable
 * Description: A ConfigMap created with `immutable: true` MUST reject an update of its data with 422
 *   Invalid, the message saying the field is immutable when `immutable` is set; it MUST equally reject
 *   turning `immutable` off; its data MUST be unchanged afterwards.
 * Not covered: immutable Secrets (same rule), deleting and recreating an immutable ConfigMap, the kubelet
 *   no longer watching immutable objects.
 * Serial or disruptive: no; everything lives in the test's namespace.
 * On purpose (made to fail once by a temporary edit): immutable: false in the manifest.
 */
import type { V1ConfigMap } from "@kubernetes/client-node";
import type { TestNamespace } from "../../helpers/framework/fixtures.ts";
import { describe, expect, podSecurity, test } from "../../helpers/framework/fixtures.ts";
import { describeApiError, statusCode } from "../../helpers/framework/kube.ts";
import { capability, step } from "../../helpers/framework/report.ts";
import { apply } from "../../helpers/manifests/apply.ts";

podSecurity("baseline"); // root images (nginx, busybox), no host access

/** Replaces ConfigMap `frozen` with `change` applied; returns the API's refusal, or "accepted". */
async function tryUpdate(
  ns: TestNamespace,
  change: (cm: V1ConfigMap) => void,
): Promise<{ code?: number; text: string }> {
  const body = await ns.kube.core.readNamespacedConfigMap({ name: "frozen", namespace: ns.name });
  change(body);
  try {
    await ns.kube.core.replaceNamespacedConfigMap({ name: "frozen", namespace: ns.name, body });
    return { text: "accepted" };
  } catch (error) {
    const code = statusCode(error);
    if (code === undefined) throw error;
    return { code, text: describeApiError(error) };
  }
}

describe.concurrent("Config: immutable ConfigMaps", () => {
  test("should reject updates of an immutable ConfigMap", async ({ ns }) => {
    await capability("Config", "Immutable ConfigMaps");
    await step("arrange: apply ConfigMap frozen (immutable: true, mode=v1)", () => apply(ns, "config/immutable"));

    const dataChange = await step("act: replace its data with mode=v2", () =>
      tryUpdate(ns, (cm) => {
        cm.data = { mode: "v2" };
      }),
    );
    await step("assert: the API refuses with 422, field is immutable", () => {
      expect(dataChange, `update of ConfigMap ${ns.name}/frozen`).toMatchObject({ code: 422 });
      expect(dataChange.text).toMatch(/data: Forbidden: field is immutable when `immutable` is set/);
    });

    const unfreeze = await step("act: set immutable: false", () =>
      tryUpdate(ns, (cm) => {
        cm.immutable = false;
      }),
    );
    await step("assert: the API refuses that too", () => {
      expect(unfreeze, `unfreezing ConfigMap ${ns.name}/frozen`).toMatchObject({ code: 422 });
      expect(unfreeze.text).toMatch(/immutable: Forbidden: field is immutable when `immutable` is set/);
    });

    await step("assert: the data is still mode=v1", async () => {
      const cm = await ns.kube.core.readNamespacedConfigMap({ name: "frozen", namespace: ns.name });
      expect(cm.data, `data of ConfigMap ${ns.name}/frozen`).toEqual({ mode: "v1" });
    });
  });
});
