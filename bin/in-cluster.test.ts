import { describe, expect, test } from "vitest";
import type { Permission } from "../helpers/framework/permissions.ts";
import {
  finishedCode,
  progressLine,
  RESULTS_DIR,
  RUNNER_LABEL,
  RUNNER_SCRIPT,
  type RunnerSpec,
  runnerManifests,
  runnerName,
} from "./in-cluster.ts";
import { sortableStamp } from "./in-cluster-run.ts";

const permissions: Permission[] = [
  { resource: "namespaces", verbs: ["create", "delete"], cluster: true, scenarios: ["harness/x"] },
  { resource: "pods/exec", verbs: ["create", "get"], scenarios: ["smoke/nginx-service"] },
  { resource: "configmaps", verbs: ["get"], namespace: "kube-public", scenarios: ["harness/y"] },
];
const spec: RunnerSpec = {
  runId: "20261205-193000-ab12",
  image: "koc.local/k8s-ops-conformance:0.1.0-abc",
  args: ["run", "--suite", "smoke", "--reports-dir", RESULTS_DIR],
  env: { KOC_TIMEOUT_SCALE: "2", KOC_MAX_WORKERS: "2" },
  permissions,
  gracePeriodSeconds: 390,
};

describe("in-cluster runner: what it creates", () => {
  const docs = runnerManifests(spec);
  const byKind = (kind: string) => docs.filter((d) => d.kind === kind);

  test("should name everything after the run and label it as the runner, not as the suites' objects", () => {
    expect(runnerName(spec.runId)).toBe("koc-runner-20261205-193000-ab12");
    expect(docs.map((d) => `${d.kind}/${(d.metadata.namespace as string | undefined) ?? ""}`)).toEqual([
      "Namespace/",
      "ServiceAccount/koc-runner-20261205-193000-ab12",
      "ClusterRole/",
      "ClusterRoleBinding/",
      "Role/kube-public",
      "RoleBinding/kube-public",
      "Job/koc-runner-20261205-193000-ab12",
    ]);
    for (const doc of docs) {
      const labels = doc.metadata.labels as Record<string, string>;
      expect(labels[RUNNER_LABEL]).toBe("koc-runner-20261205-193000-ab12");
      expect(labels["app.kubernetes.io/managed-by"]).toBeUndefined();
    }
  });

  test("should grant the selected suites' permissions: cluster-wide, and per fixed namespace", () => {
    expect(byKind("ClusterRole")[0]?.rules).toEqual([
      { apiGroups: [""], resources: ["namespaces"], verbs: ["create", "delete"] },
      { apiGroups: [""], resources: ["pods/exec"], verbs: ["create", "get"] },
    ]);
    expect(byKind("Role")[0]?.rules).toEqual([{ apiGroups: [""], resources: ["configmaps"], verbs: ["get"] }]);
  });

  test("should run the suite image with the run's flags, variables and workers, as a restricted pod", () => {
    const job = byKind("Job")[0] as unknown as {
      spec: { backoffLimit: number; template: { spec: unknown } };
    };
    expect(job.spec.backoffLimit).toBe(0);
    const pod = job.spec.template.spec as {
      terminationGracePeriodSeconds: number;
      securityContext: { runAsNonRoot: boolean };
      containers: Array<{ image: string; command: string[]; env: Array<{ name: string; value: string }> }>;
      volumes: Array<{ name: string; emptyDir?: object; persistentVolumeClaim?: object }>;
    };
    expect(pod.terminationGracePeriodSeconds).toBe(390);
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    const [container] = pod.containers;
    expect(container?.image).toBe(spec.image);
    expect(container?.command).toEqual(["sh", "-c", RUNNER_SCRIPT, "koc-runner", ...spec.args]);
    expect(container?.env).toEqual(
      expect.arrayContaining([
        { name: "KOC_IN_CLUSTER", value: "1" },
        { name: "KOC_TIMEOUT_SCALE", value: "2" },
        { name: "KOC_MAX_WORKERS", value: "2" },
      ]),
    );
    // results stay in the pod until copied through the API: never on a volume of the storage under test
    expect(pod.volumes.every((v) => v.persistentVolumeClaim === undefined)).toBe(true);
    expect(byKind("Namespace")[0]?.metadata.labels).toMatchObject({
      "pod-security.kubernetes.io/enforce": "restricted",
    });
  });

  test("should hand a compare its baseline in a ConfigMap", () => {
    const withBaseline = runnerManifests({ ...spec, baseline: '{"format":1}' });
    expect(withBaseline.find((d) => d.kind === "ConfigMap")?.data).toEqual({ "baseline.json": '{"format":1}' });
  });
});

describe("in-cluster runner: its log", () => {
  test.each([
    [
      " ✓ suites/smoke/nginx-service.e2e.test.ts > Deployments > should answer @smoke 2301ms",
      "✓ suites/smoke/nginx-service.e2e.test.ts > Deployments > should answer @smoke 2301ms",
    ],
    [
      "\u001b[32m   ×\u001b[39m suites/probes/x.e2e.test.ts > P > should restart 9s",
      "× suites/probes/x.e2e.test.ts > P > should restart 9s",
    ],
    [
      "   ↓ suites/storage/rwx.e2e.test.ts > S > should share [skipped: no RWX]",
      "↓ suites/storage/rwx.e2e.test.ts > S > should share [skipped: no RWX]",
    ],
    ["k8s-ops-conformance: permissions: ok", "k8s-ops-conformance: permissions: ok"],
    ["e2e: 45 passed, 0 failed, 2 skipped", "e2e: 45 passed, 0 failed, 2 skipped"],
    ["  [setup] waiting for pods", undefined],
    ["", undefined],
  ])("should print %j as %j", (line, shown) => {
    expect(progressLine(line)).toBe(shown);
  });

  test("should read the exit code from the runner's last line, and only from it", () => {
    expect(finishedCode("koc-runner: finished with exit code 1")).toBe(1);
    expect(finishedCode("koc-runner: finished with exit code 0\r")).toBe(0);
    expect(finishedCode("echo koc-runner: finished with exit code 1")).toBeUndefined();
  });
});

describe("in-cluster runner: log timestamps", () => {
  test("should compare as text whatever the number of fraction digits", () => {
    expect(sortableStamp("2026-12-05T19:37:59.1Z")).toBe("2026-12-05T19:37:59.100000000Z");
    expect(sortableStamp("2026-12-05T19:37:59Z")).toBe("2026-12-05T19:37:59.000000000Z");
    expect(sortableStamp("2026-12-05T19:37:59.1Z") > sortableStamp("2026-12-05T19:37:59.012Z")).toBe(true);
  });
});
