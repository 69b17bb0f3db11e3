/**
 * Testname: Pods Set QOS Class, for every class and the cpu-limit pitfall
 * Description: The API server MUST report status.qosClass from the pod's resources as written: Guaranteed
 *   when every container has requests equal to limits for cpu and memory (also when only limits are given:
 *   requests default to limits, and the stored pod MUST show them); Burstable when some request is set but
 *   the pod is not Guaranteed (a memory request below its limit; the pitfall of a cpu limit 200m above a
 *   100m request with memory equal); BestEffort when nothing is set. A pod with several containers MUST be
 *   Guaranteed only if every container is. The resource blocks are the field notes' own.
 * Not covered: pod-level resources (spec.resources), init and sidecar containers' share of the class,
 *   in-place resize (qosClass is immutable); what the node does with each class (node-view.e2e.test.ts).
 * Serial or disruptive: no; one pod per test in its own namespace, read right after create.
 * On purpose: KOC_RESOURCES_SABOTAGE=1 applies each pod with its containers' resources replaced by those of
 *   the naive class (what a quick reading of the YAML expects: Guaranteed for the pitfall, Burstable for
 *   limits only; helpers/observe/qos.ts withResourcesOfClass), so the API really computes another class and
 *   every test fails naming the class it reported.
 */

import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, podSecurity, test } from "../../helpers/framework/fixtures.ts";
import { capability, log, step } from "../../helpers/framework/report.ts";
import { apply, applyObject, loadManifests } from "../../helpers/manifests/apply.ts";
import { type QosClass, resourcesOf, resourcesSabotage, withResourcesOfClass } from "../../helpers/observe/qos.ts";

podSecurity("baseline"); // root images (busybox), no host access

const SABOTAGE = resourcesSabotage();

interface Case {
  /** Pod name and manifest file under manifests/resources/qos-classes/. */
  pod: string;
  story: string;
  expected: QosClass;
  /** What someone reading the YAML too quickly would expect (KOC_RESOURCES_SABOTAGE makes the pod this class). */
  naive: QosClass;
}

const CASES: Case[] = [
  { pod: "guaranteed", story: "requests = limits for cpu and memory", expected: "Guaranteed", naive: "Burstable" },
  { pod: "guaranteed-limits-only", story: "limits only", expected: "Guaranteed", naive: "Burstable" },
  { pod: "burstable", story: "memory request 128Mi below limit 256Mi", expected: "Burstable", naive: "Guaranteed" },
  { pod: "besteffort", story: "nothing set", expected: "BestEffort", naive: "Burstable" },
  {
    pod: "cpu-limit-pitfall",
    story: "memory equal but cpu limit 200m above request 100m (the pitfall)",
    expected: "Burstable",
    naive: "Guaranteed",
  },
  { pod: "cpu-limit-fixed", story: "cpu request = cpu limit (the fix)", expected: "Guaranteed", naive: "Burstable" },
  {
    pod: "multi-container-mixed",
    story: "two containers, only one of them Guaranteed",
    expected: "Burstable",
    naive: "Guaranteed",
  },
  {
    pod: "multi-container-guaranteed",
    story: "two containers, both Guaranteed",
    expected: "Guaranteed",
    naive: "Burstable",
  },
];

describe.concurrent("Pods Set QOS Class", () => {
  for (const c of CASES) {
    test(`should be ${c.expected} with ${c.story}`, async ({ ns }) => {
      await capability("Resources", "QoS classes");
      const manifest = `resources/qos-classes/${c.pod}.yaml`;
      if (SABOTAGE)
        await step(`sabotage: apply pod ${c.pod} with the resources of a ${c.naive} pod`, async () => {
          for (const object of loadManifests(ns, manifest))
            await applyObject(ns, withResourcesOfClass(object as V1Pod, c.naive));
        });
      else await step(`arrange: apply pod ${c.pod}`, () => apply(ns, manifest));

      const pod = await step("act: read the pod back from the API", () =>
        ns.kube.core.readNamespacedPod({ name: c.pod, namespace: ns.name }),
      );
      const containers = pod.spec?.containers.map((k) => `${k.name}: ${resourcesOf(pod, k.name)}`) ?? [];
      log(`${c.pod}: qosClass ${pod.status?.qosClass}; ${containers.join("; ")}`);

      await step(`assert: status.qosClass is ${c.expected}`, () => {
        expect(pod.status?.qosClass, `status.qosClass of ${ns.name}/${c.pod} (${containers.join("; ")})`).toBe(
          c.expected,
        );
      });
      if (c.pod === "guaranteed-limits-only") {
        await step("assert: the stored requests were defaulted to the limits", () => {
          const resources = pod.spec?.containers[0]?.resources;
          expect(resources?.requests, "requests stored for a limits-only container").toEqual(resources?.limits);
        });
      }
    });
  }
});
