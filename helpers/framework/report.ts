/**
 * What a test says in the Allure report: named steps, attachments, log lines, labels.
 * Everything passes through the redactor first, so a Secret value never reaches a report or a log.
 */
import { appendFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import * as allure from "allure-js-commons";
import type { Range, Unit } from "../../bin/baseline.ts";
import { redactor } from "./redact.ts";

export type { Range };

/**
 * A named step: `await step("act: scale web to 3", () => ...)`. Steps nest; a failing step is marked
 * failed in the report, and a timeout error names the step that was running.
 */
export function step<R>(name: string, body: () => R | Promise<R>): Promise<R> {
  return Promise.resolve(allure.step(redactor.scrub(name), () => body()));
}

/** Attaches text (YAML, logs, tables) to the current test or step, with Secret values scrubbed. */
export async function attach(name: string, content: string, contentType = "text/plain"): Promise<void> {
  const extensions: Record<string, string> = {
    "application/yaml": "yaml",
    "application/json": "json",
    "image/svg+xml": "svg",
    "text/html": "html",
    "text/markdown": "md",
  };
  const fileExtension = extensions[contentType] ?? "txt";
  if (process.env.VITEST === undefined) return; // the CLI (e.g. deploying canaries) has no report to attach to
  await allure.attachment(redactor.scrub(name), redactor.scrub(content), { contentType, fileExtension });
}

/** A log line on stdout (vitest shows it under the test; JUnit keeps it as system-out), scrubbed. */
export function log(message: string): void {
  console.log(redactor.scrub(message));
}

/** The file the scenarios' measurements go to, one JSON object a line; a baseline and a compare read it. */
export const MEASUREMENTS_FILE = "measurements.jsonl";

/**
 * Records a figure the test measured (`await measure(ns, "Secret volume update delay", 812, "ms")`): a log
 * line, an Allure parameter, and a line in <reports>/measurements.jsonl keyed like the test's JUnit verdict
 * (`ns.scenario`), so a baseline stores it and a compare sets it beside the new value.
 *
 * `expected: [min, max]` declares the natural range a healthy cluster gives, from its own timers (a sync
 * period, a probe's settings; the caller says which): a compare never flags a new value inside it as drift
 * (bin/baseline.ts compareMeasurements). Without it, the factor rule alone judges the value.
 */
export async function measure(
  test: { scenario?: string },
  name: string,
  value: number,
  unit: Unit,
  options: { expected?: Range } = {},
): Promise<void> {
  const { expected } = options;
  const range = expected === undefined ? "" : ` (natural range ${expected[0]}-${expected[1]} ${unit})`;
  log(`measured: ${name} = ${Number(value.toPrecision(6))} ${unit}${range}`);
  if (process.env.VITEST === undefined || test.scenario === undefined) return; // no test to key it by
  const dir = process.env.KOC_REPORTS_DIR?.trim() || "reports";
  mkdirSync(dir, { recursive: true });
  const line = { scenario: test.scenario, name, value, unit, ...(expected === undefined ? {} : { expected }) };
  appendFileSync(join(dir, MEASUREMENTS_FILE), `${JSON.stringify(line)}\n`);
  await allure.parameter(name, `${value} ${unit}${range}`);
}

/** Report labels for the capability a file checks: epic = area (e.g. "Workloads"), feature = capability. */
export async function capability(epic: string, feature: string): Promise<void> {
  await allure.epic(epic);
  await allure.feature(feature);
}

/** `@smoke` and other tags written in a test title (`should answer HTTP @smoke` → ["smoke"]). */
export function titleTags(title: string): string[] {
  return [...title.matchAll(/(?:^|\s)@([a-z0-9][\w-]*)/gi)].map((m) => m[1] ?? "");
}
