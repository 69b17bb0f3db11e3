/**
 * What a test says in the Allure report: named steps, attachments, log lines, labels.
 * Everything passes through the redactor first, so a Secret value never reaches a report or a log.
 */
import * as allure from "allure-js-commons";
import { redactor } from "./redact.ts";

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
  };
  const fileExtension = extensions[contentType] ?? "txt";
  if (process.env.VITEST === undefined) return; // the CLI (e.g. deploying canaries) has no report to attach to
  await allure.attachment(redactor.scrub(name), redactor.scrub(content), { contentType, fileExtension });
}

/** A log line on stdout (vitest shows it under the test; JUnit keeps it as system-out), scrubbed. */
export function log(message: string): void {
  console.log(redactor.scrub(message));
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
