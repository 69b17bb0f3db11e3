/**
 * Testname: Secrets, a pod referencing a key the Secret does not have
 * Description: A container whose env references a missing key of an existing Secret (secretKeyRef without
 *   `optional`) MUST NOT start: it MUST stay waiting with reason CreateContainerConfigError, and an event of
 *   the pod MUST say which key of which Secret is missing. With `optional: true` the same pod MUST start,
 *   and the env var MUST be absent (not empty) in the container. No Secret value may reach the report.
 * Not covered: a missing Secret (as opposed to a missing key), missing ConfigMap keys, volumes of missing Secrets.
 * Serial or disruptive: no; everything lives in the test's namespace.
 * On purpose (made to fail once by a temporary edit): the twins' expectations swapped.
 */
import type { V1Pod } from "@kubernetes/client-node";
import { config } from "../../helpers/framework/config.ts";
import type { TestNamespace } from "../../helpers/framework/fixtures.ts";
import { describe, expect, podSecurity, test } from "../../helpers/framework/fixtures.ts";
import { capability, step } from "../../helpers/framework/report.ts";
import { T } from "../../helpers/framework/timeouts.ts";
import { holdsFor, waitFor } from "../../helpers/framework/wait.ts";
import { apply } from "../../helpers/manifests/apply.ts";
import { assertNoSecretLeaks } from "../../helpers/manifests/leaks.ts";
import { podReady, showPod } from "../../helpers/observe/conditions.ts";
import { podEvents } from "../../helpers/observe/events.ts";
import { envDigest } from "../../helpers/traffic/container-view.ts";

podSecurity("baseline"); // root images (nginx, busybox), no host access

const MANIFESTS = "config/missing-key";

const waitingReason = (pod: V1Pod): string | undefined => pod.status?.containerStatuses?.[0]?.state?.waiting?.reason;

function podWaiting(ns: TestNamespace, reason: string) {
  return {
    observe: () => ns.kube.core.readNamespacedPod({ name: "reader", namespace: ns.name }),
    ok: (pod: V1Pod) => waitingReason(pod) === reason,
    show: showPod,
  };
}

const KEY_MISSING = [{ reason: "Failed", message: "couldn't find key password" }];

describe.concurrent("Config: Secret keys that do not exist", () => {
  test("should keep the container in CreateContainerConfigError when the key is not optional", async ({ ns }) => {
    await capability("Config", "Missing Secret keys");
    await step("arrange: apply a Secret without key `password` and a pod that requires it", async () => {
      await apply(ns, `${MANIFESTS}/secret.yaml`);
      await apply(ns, `${MANIFESTS}/pod-required.yaml`);
    });

    await step("assert: the container waits with reason CreateContainerConfigError", () =>
      waitFor(
        `pod ${ns.name}/reader waits in CreateContainerConfigError`,
        podWaiting(ns, "CreateContainerConfigError"),
        T.podStart,
      ),
    );
    const events = await step("assert: an event of the pod names the missing key and the Secret", () =>
      waitFor(
        `a Failed event of pod ${ns.name}/reader says the key password is missing`,
        podEvents(ns, "reader", KEY_MISSING),
        T.podStart,
      ),
    );
    const failed = events.find((e) => e.reason === "Failed")?.message ?? "";
    expect(failed, "the kubelet's Failed event").toContain(`couldn't find key password in Secret ${ns.name}/partial`);

    // The kubelet retries with a back-off of 10 s, 20 s, ...: 15 s covers at least one retry.
    await step(`assert: it stays there (held ${T.holdWindow / 1000}s)`, () =>
      holdsFor(
        `pod ${ns.name}/reader keeps waiting in CreateContainerConfigError`,
        podWaiting(ns, "CreateContainerConfigError"),
        T.holdWindow,
        { interval: 1_000 },
      ),
    );
  });

  test("should start the container without the env var when the key is optional", async ({ ns }) => {
    await capability("Config", "Missing Secret keys");
    await step("arrange: apply the same Secret and pod, the key marked optional: true", async () => {
      await apply(ns, `${MANIFESTS}/secret.yaml`);
      await apply(ns, `${MANIFESTS}/pod-optional.yaml`);
    });

    await step("assert: the pod becomes Ready", () =>
      waitFor(`pod ${ns.name}/reader is Ready`, podReady(ns, "reader"), T.podStart),
    );
    await step("assert: DB_PASSWORD is not set in the container; DB_USER is", async () => {
      expect(await envDigest(ns, "reader", "DB_PASSWORD"), `$DB_PASSWORD in ${ns.name}/reader`).toBe("unset");
      expect(await envDigest(ns, "reader", "DB_USER"), `$DB_USER in ${ns.name}/reader`).not.toBe("unset");
    });
  });

  test.sequential("should keep the values of its Secrets out of the report and artifacts", async ({ task }) => {
    await capability("Config", "Secrets stay out of reports");
    await assertNoSecretLeaks(task, [MANIFESTS], config().reportsDir);
  });
});
