/**
 * Three projects:
 *   unit    helpers and CLI logic, no cluster: `npm test` (typecheck + lint + this)
 *   e2e     scenario suites against a live cluster: run through the CLI (`npm run e2e -- run ...`),
 *           which validates the target and passes its configuration in KOC_* variables.
 *   serial  the `*.disruptive.e2e.test.ts` files: they change cluster-scoped state (cordon a node, node
 *           configuration) that every other test would feel, so they must never run next to anything:
 *           one file at a time (maxWorkers 1, tests of a file in sequence) and only after the whole e2e
 *           project has finished. vitest runs projects of different `sequence.groupOrder` one group after
 *           the other, awaiting every file of a group (its fixtures torn down) before the next group starts;
 *           groupOrder 1 here vs 0 for e2e. Their tests carry @disruptive (helpers/framework/disruptive.ts
 *           decides whether they may run on the target).
 *
 * retry is 0: a conformance verdict is never retried (transport errors are, inside the helpers).
 */
import { defineConfig } from "vitest/config";
import { T } from "./helpers/framework/timeouts.ts";

const reportsDir = process.env.KOC_REPORTS_DIR || "reports";
const isCI = Boolean(process.env.CI);

// Scenarios mostly wait on the cluster, not on the CPU: run more files at once than there are cores.
const e2eWorkers = Number(process.env.KOC_MAX_WORKERS || 4);
const DISRUPTIVE_FILES = "suites/**/*.disruptive.e2e.test.ts";
const e2e = {
  setupFiles: ["allure-vitest/setup"],
  globalSetup: ["./helpers/framework/global-setup.ts"],
  testTimeout: T.test,
  hookTimeout: T.hook,
};

export default defineConfig({
  test: {
    retry: 0,
    allowOnly: !isCI,
    teardownTimeout: T.cleanup + T.hook, // the global teardown sweeps the run's namespaces // a focused test must never reach CI and pass as "everything"
    reporters: [
      isCI ? "default" : "verbose",
      [
        "./helpers/framework/reporters/allure.ts",
        { resultsDir: `${reportsDir}/allure-results`, reportMatchers: false },
      ],
      ["./helpers/framework/reporters/junit.ts", { outputFile: `${reportsDir}/junit.xml` }],
    ],
    projects: [
      {
        test: {
          name: "unit",
          include: ["helpers/**/*.test.ts", "bin/**/*.test.ts", "testbed/**/*.test.ts"],
          exclude: ["**/*.e2e.test.ts", "**/node_modules/**"],
        },
      },
      {
        test: {
          ...e2e,
          name: "e2e",
          include: ["suites/**/*.e2e.test.ts"],
          exclude: [DISRUPTIVE_FILES, "**/node_modules/**"],
          // Tests inside a file run concurrently through describe.concurrent in each scenario file:
          // vitest 4.1 ignores sequence.concurrent set on a project (checked), and the unit project must
          // stay sequential (the redactor is a per-process singleton).
          maxWorkers: Number.isInteger(e2eWorkers) && e2eWorkers > 0 ? e2eWorkers : 4,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          ...e2e,
          name: "serial",
          include: [DISRUPTIVE_FILES],
          maxWorkers: 1,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
