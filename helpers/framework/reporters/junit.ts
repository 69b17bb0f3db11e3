/**
 * JUnit XML for CI systems: one <testcase> per scenario named `<describe> > <test>`, classname = file.
 *
 * Written here instead of using vitest's built-in junit reporter because that one writes a bare
 * <skipped/>: the reason given to ctx.skip(reason) must reach the CI page that shows the skip.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, relative } from "node:path";
import { stripVTControlCharacters } from "node:util";
import type { Reporter, SerializedError, TestModule } from "vitest/node";

export type JUnitOutcome =
  | { kind: "passed" }
  | { kind: "skipped"; message: string }
  | { kind: "failed"; failures: ReadonlyArray<{ message: string; type: string; detail: string }> };

export interface JUnitCase {
  classname: string;
  name: string;
  seconds: number;
  outcome: JUnitOutcome;
}

export interface JUnitSuite {
  name: string;
  cases: readonly JUnitCase[];
}

// XML 1.0 forbids most control characters even when escaped.
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are exactly the characters to strip
const INVALID_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;

export function escapeXml(text: string): string {
  return text
    .replace(INVALID_XML, "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

function renderCase(c: JUnitCase): string {
  const open = `    <testcase classname="${escapeXml(c.classname)}" name="${escapeXml(c.name)}" time="${c.seconds.toFixed(3)}"`;
  if (c.outcome.kind === "passed") return `${open}/>`;
  if (c.outcome.kind === "skipped")
    return `${open}>\n      <skipped message="${escapeXml(c.outcome.message)}"/>\n    </testcase>`;
  const failures = c.outcome.failures.map(
    (f) =>
      `      <failure message="${escapeXml(f.message)}" type="${escapeXml(f.type)}">${escapeXml(f.detail)}</failure>`,
  );
  return `${open}>\n${failures.join("\n")}\n    </testcase>`;
}

/** The whole document (pure; unit-tested). */
export function renderJUnit(suites: readonly JUnitSuite[], name = "k8s-ops-conformance"): string {
  const count = (kind: JUnitOutcome["kind"], cases: readonly JUnitCase[]): number =>
    cases.filter((c) => c.outcome.kind === kind).length;
  const all = suites.flatMap((s) => s.cases);
  const seconds = (cases: readonly JUnitCase[]): string => cases.reduce((sum, c) => sum + c.seconds, 0).toFixed(3);
  const body = suites.map((s) =>
    [
      `  <testsuite name="${escapeXml(s.name)}" tests="${s.cases.length}" failures="${count("failed", s.cases)}" ` +
        `errors="0" skipped="${count("skipped", s.cases)}" time="${seconds(s.cases)}">`,
      ...s.cases.map(renderCase),
      "  </testsuite>",
    ].join("\n"),
  );
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${escapeXml(name)}" tests="${all.length}" failures="${count("failed", all)}" ` +
      `errors="0" skipped="${count("skipped", all)}" time="${seconds(all)}">`,
    ...body,
    "</testsuites>",
    "",
  ].join("\n");
}

function failure(error: SerializedError): { message: string; type: string; detail: string } {
  const diff = typeof error.diff === "string" ? `\n${error.diff}` : "";
  return {
    message: stripVTControlCharacters(error.message),
    type: error.name ?? "Error",
    detail: stripVTControlCharacters(`${error.stack ?? error.message}${diff}`),
  };
}

function suiteOf(module: TestModule, root: string): JUnitSuite {
  const classname = relative(root, module.moduleId);
  const cases: JUnitCase[] = [];
  for (const test of module.children.allTests()) {
    const result = test.result();
    const seconds = (test.diagnostic()?.duration ?? 0) / 1000;
    const outcome: JUnitOutcome =
      result.state === "failed"
        ? { kind: "failed", failures: result.errors.map(failure) }
        : result.state === "skipped"
          ? { kind: "skipped", message: result.note ?? `skipped (${test.options.mode})` }
          : result.state === "passed"
            ? { kind: "passed" }
            : { kind: "failed", failures: [{ message: "test did not finish", type: "Pending", detail: "" }] };
    cases.push({ classname, name: test.fullName, seconds, outcome });
  }
  const moduleErrors = module.errors();
  if (moduleErrors.length > 0) {
    cases.push({
      classname,
      name: `${classname} (file)`,
      seconds: 0,
      outcome: { kind: "failed", failures: moduleErrors.map(failure) },
    });
  }
  return { name: classname, cases };
}

export default class JUnitReporter implements Reporter {
  readonly #outputFile: string;
  #root = process.cwd();

  constructor(options: { outputFile: string }) {
    this.#outputFile = options.outputFile;
  }

  onInit(vitest: { config: { root: string } }): void {
    this.#root = vitest.config.root;
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<SerializedError>): void {
    const suites = modules.map((m) => suiteOf(m, this.#root));
    if (unhandledErrors.length > 0) {
      const failures = unhandledErrors.map(failure);
      suites.push({
        name: "unhandled errors",
        cases: [{ classname: "vitest", name: "unhandled errors", seconds: 0, outcome: { kind: "failed", failures } }],
      });
    }
    mkdirSync(dirname(this.#outputFile), { recursive: true });
    writeFileSync(this.#outputFile, renderJUnit(suites));
  }
}
