import { describe, expect, test } from "vitest";
import { parseCommandLine } from "./args.ts";
import { forwardedEnvironment, runArgv } from "./forward.ts";

describe("run flags forwarded to another run", () => {
  test("should rebuild a command line that parses back to the same options", () => {
    const argv = [
      "run",
      "--context",
      "prod",
      "--suite",
      "smoke",
      "--suite",
      "rollouts",
      "--tag",
      "smoke",
      "--no-cluster-up",
      "--keep-namespace-on-failure",
      "--timeout-scale",
      "2",
      "--run-id",
      "r1",
      "--reports-dir",
      "out",
      "--disruptive",
      "--rwx-storage-class",
      "nfs",
      "--compare",
      "b.json",
      "--keep-canaries",
      "--max-failed-requests",
      "3",
      "--drift",
      "1.5",
      "--drift-fails",
      "--in-cluster",
    ];
    const { options } = parseCommandLine(argv);
    expect(runArgv(options)).toEqual(argv);
    expect(parseCommandLine(runArgv(options)).options).toEqual(options);
  });

  test("should leave out what is unset, and the run inside the cluster gets no target of its own", () => {
    const { options } = parseCommandLine(["run", "--context", "prod", "--in-cluster", "--tag", "smoke"]);
    const inside = runArgv({
      ...options,
      context: undefined,
      clusterUp: false,
      inCluster: false,
      reportsDir: "/results",
    });
    expect(inside).toEqual(["run", "--tag", "smoke", "--no-cluster-up", "--reports-dir", "/results"]);
  });

  test("should pass the compare's limits only with --compare, and only when not the defaults", () => {
    const { options } = parseCommandLine(["run", "--compare", "b.json", "--drift", "3"]);
    expect(runArgv(options)).toEqual(["run", "--compare", "b.json", "--drift", "3"]);
    expect(runArgv({ ...options, compare: undefined, baseline: "b.json" })).toEqual(["run", "--baseline", "b.json"]);
  });

  test("should forward the run's KOC_* variables, not this machine's", () => {
    expect(
      forwardedEnvironment({
        PATH: "/bin",
        KOC_TIMEOUT_SCALE: "2",
        KOC_SMOKE_SABOTAGE: "1",
        KOC_IMAGE_NGINX: "m/nginx:1",
        KOC_CONTEXT: "prod",
        KOC_KUBECONFIG: "/kc",
        KOC_REPORTS_DIR: "out",
        KOC_CACHE_DIR: "/c",
        KOC_UPGRADE_STEPS: "/c/steps.jsonl",
        KOC_MAX_WORKERS: "2",
        KOC_PROBER_RATE: " ",
      }),
    ).toEqual({ KOC_IMAGE_NGINX: "m/nginx:1", KOC_SMOKE_SABOTAGE: "1", KOC_TIMEOUT_SCALE: "2" });
  });
});
