import { describe, expect, test } from "vitest";
import {
  checkInClusterAcceptance,
  environmentFor,
  parseCommandLine,
  tagPattern,
  UsageError,
  validateSelection,
} from "./args.ts";

describe("command line", () => {
  test("should parse run with every option", () => {
    const command = parseCommandLine([
      "run",
      "--context",
      "prod",
      "--kubeconfig",
      "/kc",
      "--suite",
      "smoke",
      "--suite",
      "workloads",
      "--tag",
      "@smoke",
      "--no-cluster-up",
      "--keep-namespace-on-failure",
      "--timeout-scale",
      "2",
      "--run-id",
      "r1",
      "--reports-dir",
      "out",
    ]);
    expect(command).toEqual({
      name: "run",
      options: {
        context: "prod",
        contexts: ["prod"],
        inCluster: false,
        canaries: false,
        kubeconfig: "/kc",
        suites: ["smoke", "workloads"],
        tags: ["smoke"],
        clusterUp: false,
        keepNamespaceOnFailure: true,
        timeoutScale: "2",
        runId: "r1",
        reportsDir: "out",
        olderThanMinutes: 0,
        write: false,
        baseline: undefined,
        compare: undefined,
        keepCanaries: false,
        maxFailedRequests: 0,
        drift: 2,
        driftFails: false,
        history: undefined,
      },
    });
  });

  test("should read the compare's limits, with defaults 0 failed requests and a drift factor of 2", () => {
    const options = parseCommandLine([
      "run",
      "--compare",
      "b.json",
      "--max-failed-requests",
      "3",
      "--drift",
      "1.5",
      "--drift-fails",
    ]).options;
    expect([options.maxFailedRequests, options.drift, options.driftFails]).toEqual([3, 1.5, true]);
  });

  test("should take several contexts for run only, each baseline file per context", () => {
    const options = parseCommandLine(["run", "--context", "a", "--context", "b", "--context", "a"]).options;
    expect(options).toMatchObject({ context: undefined, contexts: ["a", "b"] });
    expect(parseCommandLine(["run", "--context", "a"]).options).toMatchObject({ context: "a", contexts: ["a"] });
    expect(() => parseCommandLine(["cleanup", "--context", "a", "--context", "b"])).toThrowError(
      '"cleanup" takes one --context',
    );
    expect(() => parseCommandLine(["run", "--context", "a", "--context", "b", "--compare", "x.json"])).toThrowError(
      "write {context} in it",
    );
    expect(
      parseCommandLine(["run", "--context", "a", "--context", "b", "--baseline", "b-{context}.json"]).options.baseline,
    ).toBe("b-{context}.json");
  });

  test("should bring the test bed up unless told not to", () => {
    expect(parseCommandLine(["run"]).options.clusterUp).toBe(true);
  });

  test("should pass --kubernetes to the test bed it brings up", () => {
    expect(parseCommandLine(["run", "--kubernetes", "1.36"]).options.kubernetes).toBe("1.36");
    expect(parseCommandLine(["run"]).options.kubernetes).toBeUndefined();
  });

  test("should treat --help as the help command", () => {
    expect(parseCommandLine(["--help"]).name).toBe("help");
    expect(parseCommandLine(["run", "-h"]).name).toBe("help");
  });

  test.each([
    [[], "missing command; one of: run, list, cleanup, report, permissions, images, results, help"],
    [["start"], 'unknown command "start"; one of: run, list, cleanup, report, permissions, images, results, help'],
    [["run", "--bogus"], "Unknown option '--bogus'"],
    [["run", "--context"], "Option '--context <value>' argument missing"],
    [["run", "--context", ""], "--context needs a value"],
    [["run", "smoke"], 'unexpected argument "smoke"; options start with --, see --help'],
    [["report", "--context", "x"], '--context does not apply to "report"; see --help'],
    [["list", "--no-cluster-up"], '--no-cluster-up does not apply to "list"; see --help'],
    [["cleanup", "--older-than", "soon"], '--older-than needs a number of minutes >= 0, got "soon"'],
    [["run", "--drift", "3"], "--drift applies to --compare only"],
    [["run", "--drift-fails"], "--drift-fails applies to --compare only"],
    [["run", "--baseline", "b", "--max-failed-requests", "1"], "--max-failed-requests applies to --compare only"],
    [
      ["run", "--compare", "b", "--max-failed-requests=-1"],
      '--max-failed-requests needs a whole number >= 0, got "-1"',
    ],
    [["run", "--compare", "b", "--max-failed-requests", "1.5"], "--max-failed-requests needs a whole number >= 0"],
    [["run", "--compare", "b", "--max-failed-requests", ""], "--max-failed-requests needs a whole number >= 0"],
    [
      ["run", "--compare", "b", "--drift", "1"],
      '--drift needs a factor > 1 (e.g. 2: twice or half the baseline\'s value), got "1"',
    ],
    [["run", "--compare", "b", "--drift", "x"], "--drift needs a factor > 1"],
    [["list", "--drift", "2"], '--drift does not apply to "list"; see --help'],
    [
      ["run", "--kubernetes", "1.20"],
      '--kubernetes: Kubernetes "1.20" is not supported by the test bed; supported: 1.35',
    ],
    [["run", "--kubernetes", "1.36", "--context", "x"], "--kubernetes selects the local test bed's version"],
    [
      ["run", "--kubernetes", "1.36", "--no-cluster-up"],
      "it does not apply with --context, --kubeconfig or --no-cluster-up",
    ],
    [["list", "--kubernetes", "1.36"], '--kubernetes does not apply to "list"; see --help'],
  ])("should reject %j with one line saying what to fix", (argv, message) => {
    expect(() => parseCommandLine(argv)).toThrowError(UsageError);
    expect(() => parseCommandLine(argv)).toThrowError(message);
    try {
      parseCommandLine(argv);
    } catch (error) {
      expect((error as Error).message).not.toContain("\n");
    }
  });

  test("should reject unknown suites and tags, listing what exists", () => {
    const available = { suites: ["smoke", "workloads"], tags: ["smoke"] };
    const opts = parseCommandLine(["run"]).options;
    expect(() => validateSelection({ ...opts, suites: ["smok"] }, available)).toThrowError(
      'no suite "smok" (suites/smok/); available: smoke, workloads',
    );
    expect(() => validateSelection({ ...opts, tags: ["slow"] }, available)).toThrowError(
      "no test title carries @slow; tags in use: @smoke",
    );
    expect(() => validateSelection({ ...opts, tags: ["a b"] }, available)).toThrowError('--tag "a b" is not a tag');
    expect(() => validateSelection({ ...opts, suites: ["smoke"], tags: ["smoke"] }, available)).not.toThrow();
  });

  test("should match tags as whole words", () => {
    const pattern = new RegExp(tagPattern(["smoke", "slow"]) ?? "");
    expect(pattern.test("Smoke > should answer @smoke")).toBe(true);
    expect(pattern.test("x @slow")).toBe(true);
    expect(pattern.test("x @smoke-extended")).toBe(false);
    expect(tagPattern([])).toBeUndefined();
  });

  test("should pass flags to vitest as KOC_ variables, flags winning over the environment", () => {
    const options = parseCommandLine(["run", "--context", "flag", "--keep-namespace-on-failure"]).options;
    const env = environmentFor(options, { KOC_CONTEXT: "env", KOC_TIMEOUT_SCALE: "2", PATH: "/bin" });
    expect(env).toMatchObject({
      KOC_CONTEXT: "flag",
      KOC_TIMEOUT_SCALE: "2",
      KOC_KEEP_NAMESPACE_ON_FAILURE: "1",
      PATH: "/bin",
    });
    expect(Object.values(env)).not.toContain(undefined);
  });
});

describe("command line: disruptive tests and the ReadWriteMany class", () => {
  test("should pass --disruptive and --rwx-storage-class to vitest as KOC_ variables", () => {
    const options = parseCommandLine(["run", "--disruptive", "--rwx-storage-class", "cephfs"]).options;
    expect(options).toMatchObject({ disruptive: true, rwxStorageClass: "cephfs" });
    expect(environmentFor(options, {})).toMatchObject({ KOC_DISRUPTIVE: "1", KOC_RWX_STORAGE_CLASS: "cephfs" });
  });

  test("should leave both off by default and let the environment set them", () => {
    const options = parseCommandLine(["run"]).options;
    expect(options.disruptive).toBeFalsy();
    const env = environmentFor(options, { KOC_DISRUPTIVE: "yes", KOC_RWX_STORAGE_CLASS: "nfs" });
    expect(env).toMatchObject({ KOC_DISRUPTIVE: "yes", KOC_RWX_STORAGE_CLASS: "nfs" });
  });

  test.each([
    [["run", "--rwx-storage-class", " "], "--rwx-storage-class needs a value"],
    [["list", "--disruptive"], '--disruptive does not apply to "list"; see --help'],
  ])("should reject %j", (argv, message) => {
    expect(() => parseCommandLine(argv)).toThrowError(message);
  });
});

describe("command line: --in-cluster with --baseline or --compare", () => {
  const elsewhere = { testbed: false, hostProber: false };
  const run = (argv: string[]) => parseCommandLine(["run", ...argv]).options;

  test("should allow it where no host prober runs: another cluster, whose baseline started none", () => {
    expect(() => checkInClusterAcceptance(run(["--in-cluster", "--baseline", "b.json"]), elsewhere)).not.toThrow();
    expect(() => checkInClusterAcceptance(run(["--in-cluster", "--compare", "b.json"]), elsewhere)).not.toThrow();
  });

  test("should allow a run from here, and --in-cluster without an acceptance, on the test bed", () => {
    const testbed = { testbed: true, hostProber: true };
    expect(() => checkInClusterAcceptance(run(["--compare", "b.json"]), testbed)).not.toThrow();
    expect(() => checkInClusterAcceptance(run(["--in-cluster"]), testbed)).not.toThrow();
  });

  test.each([
    [
      ["--in-cluster", "--baseline", "b.json"],
      { testbed: true, hostProber: false },
      "--in-cluster with --baseline does not apply to the local test bed: its host prober watches the upgrade from this host; leave out --in-cluster",
    ],
    [
      ["--in-cluster", "--compare", "b.json"],
      { testbed: true, hostProber: false },
      "--in-cluster with --compare does not apply to the local test bed",
    ],
    [
      ["--in-cluster", "--compare", "b.json"],
      { testbed: false, hostProber: true },
      "--in-cluster cannot stop the host prober and log follower the baseline started here (b.json.prober.pid, .incluster.pid): run --compare without --in-cluster",
    ],
  ])("should refuse %j on %j as a usage error", (argv, target, message) => {
    const check = () => checkInClusterAcceptance(run(argv), target);
    expect(check).toThrowError(UsageError);
    expect(check).toThrowError(message);
  });
});
