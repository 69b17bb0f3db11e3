/**
 * allure-vitest's reporter, plus the reason of a dynamic skip (ctx.skip(reason)) in the result's status
 * message. allure-vitest marks such tests skipped but drops the reason; in the report a skip without a
 * reason reads like a hole in coverage.
 */
import type { TestResult } from "allure-js-commons";
import AllureVitestReporter, { type AllureVitestReporterConfig } from "allure-vitest/reporter";
import type { RunnerTask } from "vitest";

export default class AllureReporter extends AllureVitestReporter {
  // handleTask writes each result synchronously, so the listener below sees the note of the task in hand.
  readonly #current: { note: string | undefined };

  constructor(config: AllureVitestReporterConfig) {
    const current: { note: string | undefined } = { note: undefined };
    const addSkipReason = (result: TestResult): void => {
      if (result.status === "skipped" && current.note && !result.statusDetails?.message) {
        result.statusDetails = { ...result.statusDetails, message: `Skipped: ${current.note}` };
      }
    };
    super({ ...config, listeners: [...(config.listeners ?? []), { beforeTestResultWrite: addSkipReason }] });
    this.#current = current;
  }

  override handleTask(task: RunnerTask): void {
    // `note` is set by ctx.skip(note); the runner keeps it on the result but TaskResult does not declare it.
    this.#current.note = task.type === "test" ? (task.result as { note?: string } | undefined)?.note : undefined;
    try {
      super.handleTask(task);
    } finally {
      this.#current.note = undefined;
    }
  }
}
