import { describe, expect, test } from "vitest";
import {
  contextFolder,
  contextTable,
  kubernetesFromEnvironment,
  perContext,
  regressionsFromCompare,
  worstExit,
} from "./many.ts";

describe("several contexts: the exit code", () => {
  test.each([
    [[], 0],
    [[0, 0], 0],
    [[0, 1, 0], 1],
    [[1, 4], 4],
    [[4, 3, 1], 3],
    [[3, 2], 2],
    [[2, 99], 99],
    [[99, 143], 143],
    [[143, 130, 2], 130],
  ])("should be the worst of %j: %i", (codes, worst) => {
    expect(worstExit(codes)).toBe(worst);
  });
});

describe("several contexts: folders and files", () => {
  test("should make a folder name of any context name", () => {
    expect(contextFolder("kind-k8s-ops-conformance")).toBe("kind-k8s-ops-conformance");
    expect(contextFolder("arn:aws:eks:eu-west-1:1:cluster/prod")).toBe("arn_aws_eks_eu-west-1_1_cluster_prod");
    expect(contextFolder("..")).toBe("_");
  });

  test("should put the context into a baseline file name", () => {
    expect(perContext("baselines/before-{context}.json", "gke_p/x")).toBe("baselines/before-gke_p_x.json");
  });

  test("should read the server version and the regressions a run wrote", () => {
    expect(kubernetesFromEnvironment("context=a\nkubernetesVersion=v1.36.3\nnodes=3")).toBe("v1.36.3");
    expect(kubernetesFromEnvironment("context=a")).toBeUndefined();
    const compare = JSON.stringify({ canaries: { regressions: ["x"] }, verdicts: { regressed: [{}, {}] } });
    expect(regressionsFromCompare(compare)).toBe(3);
    expect(regressionsFromCompare("{")).toBeUndefined();
  });

  test("should count a compare's regressions as its exit code did: its own count, or every kind of regression", () => {
    expect(regressionsFromCompare(JSON.stringify({ regressions: 5, canaries: { regressions: [] } }))).toBe(5);
    const compare = {
      canaries: { regressions: ["host prober: 3 failed request(s)"] },
      verdicts: { regressed: [{}], missing: [{}, {}] },
      runner: "vitest exited 137",
      measurements: [{ drifted: true }, { drifted: false }],
      driftFails: true,
    };
    expect(regressionsFromCompare(JSON.stringify(compare))).toBe(6);
    expect(regressionsFromCompare(JSON.stringify({ ...compare, driftFails: false }))).toBe(5);
  });
});

describe("several contexts: the table", () => {
  const rows = [
    {
      context: "staging",
      kubernetes: "v1.36.3",
      counts: { passed: 45, failed: 1, skipped: 2 },
      wallMs: 512_000,
      regressions: 1,
      exitCode: 1,
    },
    { context: "prod", kubernetes: undefined, counts: undefined, wallMs: 4_000, regressions: undefined, exitCode: 3 },
  ];

  test("should show one aligned row per context, regressions only when comparing", () => {
    expect(contextTable(rows, false).split("\n")).toEqual([
      "context  Kubernetes  passed  failed  skipped  wall time  exit",
      "-------  ----------  ------  ------  -------  ---------  ----",
      "staging  v1.36.3     45      1       2        8m32s      1",
      "prod     ?           -       -       -        4s         3",
    ]);
    expect(contextTable(rows, true).split("\n")[0]).toBe(
      "context  Kubernetes  passed  failed  skipped  wall time  regressions  exit",
    );
    expect(contextTable(rows, true).split("\n")[3]).toBe(
      "prod     ?           -       -       -        4s         -            3",
    );
  });
});
