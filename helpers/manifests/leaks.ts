/**
 * The proof that Secret values stay out of what the suite writes: search the report for the values the
 * manifests put into Secrets, in every form they could take (plain, base64).
 *
 * Where the search can look, and when: allure-vitest keeps a test's steps and attachments in the worker
 * (task.meta) and writes reports/allure-results only when the whole run has ended, in vitest's main
 * process. So a test cannot read its own run's Allure files. `assertNoSecretLeaks`, run as the last test of
 * a file (test.sequential), searches
 *   1. what Allure will write for the file's other tests: step names, attachment contents, parameters,
 *      and their errors, exactly as the reporter will receive them;
 *   2. the files already on disk: reports/artifacts (diagnostics of failed tests, written at once),
 *      reports/allure-results and reports/junit.xml (earlier runs; the manifests' values are fixed, so a
 *      leak from an earlier run is found by the next one).
 * A leak is reported by Secret name, key, form and place, never by value.
 *
 * The run's own proof comes last: after vitest has written everything, the CLI calls `scanReport`, which
 * searches every file of the report for every value the workers' redactors learned while applying
 * (framework/redact.ts), plus every literal value in manifests/. Values templated per test
 * (`koc-db-{{namespace}}`) exist only once applied, so only the learned values cover them.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import type { KubernetesObject } from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { type LearnedValue, REDACTED, readLearnedValues } from "../framework/redact.ts";
import { attach } from "../framework/report.ts";
import { MANIFESTS_DIR, manifestFiles } from "./apply.ts";

export interface SecretValue {
  secret: string;
  key: string;
  /** `Secret db-credentials key password (config/env-injection/secret.yaml)` */
  label: string;
  value: string;
}

export interface ScanSource {
  /** Where the text comes from: a file path, or `pending Allure result of "<test>"`. */
  name: string;
  text: string;
}

export interface Leak {
  secret: string;
  form: "plain" | "base64";
  source: string;
  offset: number;
}

interface SecretManifest extends KubernetesObject {
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

const TEMPLATED = "__koc_placeholder__";

/**
 * The literal values of every Secret in a YAML text (stringData as is, data base64-decoded). A value
 * built from a {{placeholder}} is left out: it is known only once applied (see scanReport).
 */
export function secretValuesOf(yamlText: string, source: string): SecretValue[] {
  const text = yamlText.replace(/\{\{[^}]*\}\}/g, TEMPLATED);
  return parseAllDocuments(text)
    .map((doc) => doc.toJS() as SecretManifest | null)
    .filter((object): object is SecretManifest => object?.kind === "Secret")
    .flatMap((secret) => {
      const name = secret.metadata?.name ?? "?";
      const plain = Object.entries(secret.stringData ?? {}).map(([key, value]) => [key, String(value)] as const);
      const decoded = Object.entries(secret.data ?? {}).map(
        ([key, value]) => [key, Buffer.from(value, "base64").toString("utf8")] as const,
      );
      const literal = [...plain, ...decoded].filter(([, value]) => !value.includes(TEMPLATED));
      return literal.map(([key, value]) => ({
        secret: name,
        key,
        label: `Secret ${name} key ${key} (${source})`,
        value,
      }));
    });
}

/** The Secret values in the manifests at `paths` (files or folders under manifests/). */
export function secretValuesIn(paths: readonly string[], root: string = MANIFESTS_DIR): SecretValue[] {
  return paths
    .flatMap((path) => manifestFiles(path, root))
    .flatMap((file) => secretValuesOf(readFileSync(file, "utf8"), relative(root, file)));
}

/** The Secret values in every manifest under `root` (all of manifests/ by default): what a report must never hold. */
export function allSecretValues(root: string = MANIFESTS_DIR): SecretValue[] {
  return readdirSync(root, { recursive: true, encoding: "utf8" })
    .filter((entry) => /\.ya?ml$/.test(entry))
    .sort()
    .flatMap((entry) => secretValuesOf(readFileSync(join(root, entry), "utf8"), entry));
}

/** The value of one Secret key in the manifests at `paths` (for digests to compare with; never print it). */
export function secretValue(paths: readonly string[], secret: string, key: string, root?: string): string {
  const found = secretValuesIn(paths, root).find((s) => s.secret === secret && s.key === key);
  if (found === undefined) throw new Error(`no Secret ${secret} with key ${key} in ${paths.join(", ")}`);
  return found.value;
}

/** Every occurrence of a value (plain or base64-encoded) in the sources. Values under 3 characters are not searched. */
export function findLeaks(secrets: readonly SecretValue[], sources: readonly ScanSource[]): Leak[] {
  const leaks: Leak[] = [];
  for (const { label, value } of secrets.filter((s) => s.value.length >= 3)) {
    const forms = [
      ["plain", value],
      ["base64", Buffer.from(value).toString("base64")],
    ] as const;
    for (const source of sources) {
      for (const [form, needle] of forms) {
        const offset = source.text.indexOf(needle);
        if (offset >= 0) leaks.push({ secret: label, form, source: source.name, offset });
      }
    }
  }
  return leaks;
}

/** One line per leak; names the Secret and key, never the value. */
export function showLeaks(leaks: readonly Leak[]): string {
  return leaks.map((l) => `${l.secret}: ${l.form} value found in ${l.source} at character ${l.offset}`).join("\n");
}

/** Every file under `dir` (recursively) as text; nothing when `dir` does not exist. */
export function filesUnder(dir: string): ScanSource[] {
  if (!existsSync(dir)) return [];
  if (!statSync(dir).isDirectory()) return [{ name: dir, text: readFileSync(dir, "utf8") }];
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((entry) => join(dir, entry))
    .filter((path) => statSync(path).isFile())
    .map((path) => ({ name: path, text: readFileSync(path, "utf8") }));
}

/** What the end-of-run scan looked for, where, and what it found. */
export interface ReportScan {
  /** How many distinct values were searched for, and how many of them the workers learned while applying. */
  values: number;
  learned: number;
  files: number;
  leaks: Leak[];
}

/**
 * The run-level proof that no Secret value reached the report: every value the workers learned while
 * applying (recorded in `learnedDir`) and every literal value in `manifestsRoot`, plain and base64, in
 * every file of the report (`allure-results`, `artifacts`, `junit.xml` under `reportsDir`).
 */
export function scanReport(reportsDir: string, learnedDir: string, manifestsRoot: string = MANIFESTS_DIR): ReportScan {
  const learned = uniqueValues(readLearnedValues(learnedDir).map((l) => secretValueOf(l)));
  const known = new Set(learned.map((s) => s.value));
  const literal = allSecretValues(manifestsRoot).filter((s) => !known.has(s.value));
  const values = [...learned, ...literal];
  const written = ["allure-results", "artifacts", "junit.xml"].flatMap((name) => filesUnder(join(reportsDir, name)));
  return { values: values.length, learned: learned.length, files: written.length, leaks: findLeaks(values, written) };
}

function secretValueOf(learned: LearnedValue): SecretValue {
  const [, secret = "?", key = "?"] = /^Secret (\S+) key (.+)$/.exec(learned.label) ?? [];
  return { secret, key, label: `${learned.label} (learned at apply)`, value: learned.value };
}

function uniqueValues(values: readonly SecretValue[]): SecretValue[] {
  const seen = new Map<string, SecretValue>();
  for (const value of values) if (!seen.has(value.value)) seen.set(value.value, value);
  return [...seen.values()];
}

/** A finished vitest test as far as the scan needs it. */
export interface FinishedTest {
  name: string;
  meta: object;
  result?: { state?: string; errors?: readonly unknown[] } | undefined;
}

/** allure-vitest's mark on the messages of expect() steps (allure-vitest/dist/matcherMessages.js). */
const MATCHER_MARK = "__allureVitestMatcher";

interface AllureMessage {
  type: string;
  data?: { content?: string; encoding?: string } & Record<string, unknown>;
}

/**
 * What allure-vitest will write for `test`: its runtime messages (steps, labels, parameters; attachment
 * contents decoded from base64) and its errors, one source per test.
 */
export function pendingReport(test: FinishedTest): ScanSource {
  const all = (test.meta as { allureRuntimeMessages?: AllureMessage[] }).allureRuntimeMessages ?? [];
  // expect() steps: vitest.config.ts sets reportMatchers: false, so the reporter drops them unwritten.
  // (Turning it on would put compared values, Secret values included, into the report unscrubbed.)
  const messages = all
    .filter((message) => !(MATCHER_MARK in message))
    .map((message) => {
      const data = message.data ?? {};
      if (data.encoding === "base64" && typeof data.content === "string") {
        return { ...message, data: { ...data, content: Buffer.from(data.content, "base64").toString("utf8") } };
      }
      return message;
    });
  const errors = (test.result?.errors ?? []).map((error) => {
    const e = error as Record<string, unknown>;
    return ["message", "stack", "diff", "expected", "actual"].map((key) => String(e[key] ?? "")).join("\n");
  });
  return { name: `pending Allure result of "${test.name}"`, text: [JSON.stringify(messages), ...errors].join("\n") };
}

interface TaskTree {
  type: string;
  name: string;
  meta: object;
  result?: FinishedTest["result"];
  tasks?: TaskTree[];
}

function testsOf(task: TaskTree): TaskTree[] {
  return task.type === "test" ? [task] : (task.tasks ?? []).flatMap(testsOf);
}

/**
 * The last test of a file: fails when a value of the Secrets in `manifests` appears in what the file's
 * other tests will put in the report, or in the reports directory on disk (see the file comment).
 */
export async function assertNoSecretLeaks(
  self: { name: string; file: TaskTree },
  manifests: readonly string[],
  reportsDir: string,
): Promise<void> {
  const secrets = secretValuesIn(manifests);
  if (secrets.length === 0) throw new Error(`no Secret values found in ${manifests.join(", ")}: nothing to look for`);
  const others = testsOf(self.file).filter((t) => t.name !== self.name);
  const unfinished = others.filter((t) => !["pass", "fail", "skip"].includes(t.result?.state ?? ""));
  if (unfinished.length > 0) {
    throw new Error(
      `the scan must run after the file's other tests; still running: ${unfinished.map((t) => t.name).join(", ")}`,
    );
  }
  const pending = others.map((t) => pendingReport(t));
  const onDisk = ["artifacts", "allure-results", "junit.xml"].flatMap((entry) => filesUnder(join(reportsDir, entry)));
  const leaks = findLeaks(secrets, [...pending, ...onDisk]);
  const masks = pending.reduce((n, s) => n + s.text.split(REDACTED).length - 1, 0);
  await attach(
    "Secret leak scan",
    [
      `looked for ${secrets.length} value(s), plain and base64: ${secrets.map((s) => s.label).join("; ")}`,
      `in the pending Allure results of ${pending.length} test(s) (${masks} "${REDACTED}" mark(s) in them)`,
      `and ${onDisk.length} file(s) under ${reportsDir}/artifacts, allure-results, junit.xml`,
      leaks.length === 0 ? "found none" : `found ${leaks.length}:\n${showLeaks(leaks)}`,
    ].join("\n"),
  );
  if (leaks.length > 0) throw new Error(`Secret values reached the report:\n${showLeaks(leaks)}`);
  if (masks === 0) {
    throw new Error(
      `the other tests' report carries no "${REDACTED}" mark, so the scan proves nothing: did they apply their Secrets?`,
    );
  }
}
