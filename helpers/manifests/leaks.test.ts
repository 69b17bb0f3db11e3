import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { redactor } from "../framework/redact.ts";
import { fakeNamespace } from "../framework/testing.ts";
import { loadManifests } from "./apply.ts";
import {
  allSecretValues,
  filesUnder,
  findLeaks,
  pendingReport,
  scanReport,
  secretValue,
  secretValuesIn,
  secretValuesOf,
  showLeaks,
} from "./leaks.ts";

const b64 = (text: string): string => Buffer.from(text).toString("base64");

const MANIFEST = `
apiVersion: v1
kind: Secret
metadata:
  name: db
stringData:
  password: koc-pw-123456
data:
  token: ${b64("koc-token-abcdef")}
---
apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  containers:
    - name: a
      image: "{{image:busybox}}"
      args: [{{flag}}]
`;

describe("Secret leak scan", () => {
  test("should take stringData as is and data base64-decoded, ignoring placeholders and other kinds", () => {
    expect(secretValuesOf(MANIFEST, "x/secret.yaml")).toEqual([
      { secret: "db", key: "password", label: "Secret db key password (x/secret.yaml)", value: "koc-pw-123456" },
      { secret: "db", key: "token", label: "Secret db key token (x/secret.yaml)", value: "koc-token-abcdef" },
    ]);
  });

  test("should read the values of a manifest folder and find one by Secret and key", () => {
    const root = mkdtempSync(join(tmpdir(), "koc-leaks-"));
    mkdirSync(join(root, "area", "scenario"), { recursive: true });
    writeFileSync(join(root, "area", "scenario", "secret.yaml"), MANIFEST);
    expect(secretValuesIn(["area/scenario"], root).map((s) => s.label)).toEqual([
      "Secret db key password (area/scenario/secret.yaml)",
      "Secret db key token (area/scenario/secret.yaml)",
    ]);
    expect(secretValue(["area/scenario"], "db", "token", root)).toBe("koc-token-abcdef");
    expect(() => secretValue(["area/scenario"], "db", "nope", root)).toThrowError(
      "no Secret db with key nope in area/scenario",
    );
  });

  test("should find values plain and base64-encoded, and name them without showing them", () => {
    const secrets = secretValuesOf(MANIFEST, "x/secret.yaml");
    const leaks = findLeaks(secrets, [
      { name: "a.txt", text: "user=admin password=koc-pw-123456" },
      { name: "b.json", text: `{"data":"${b64("koc-token-abcdef")}"}` },
      { name: "c.txt", text: "password=[redacted]" },
    ]);
    expect(leaks).toEqual([
      { secret: "Secret db key password (x/secret.yaml)", form: "plain", source: "a.txt", offset: 20 },
      { secret: "Secret db key token (x/secret.yaml)", form: "base64", source: "b.json", offset: 9 },
    ]);
    const shown = showLeaks(leaks);
    expect(shown).toBe(
      "Secret db key password (x/secret.yaml): plain value found in a.txt at character 20\n" +
        "Secret db key token (x/secret.yaml): base64 value found in b.json at character 9",
    );
    expect(shown).not.toContain("koc-pw-123456");
  });

  test("should not search for values too short to mean anything", () => {
    expect(findLeaks([{ secret: "s", key: "k", label: "s/k", value: "ab" }], [{ name: "f", text: "abab" }])).toEqual(
      [],
    );
  });

  test("should decode attachments of a pending Allure result, skip expect() steps and include errors", () => {
    const source = pendingReport({
      name: "t",
      meta: {
        allureRuntimeMessages: [
          { type: "attachment_content", data: { content: b64("env: koc-pw-123456"), encoding: "base64" } },
          { type: "step_start", data: { name: "expect koc-token-abcdef" }, __allureVitestMatcher: true },
        ],
      },
      result: { state: "fail", errors: [{ message: "boom", diff: "- koc-token-abcdef" }] },
    });
    expect(source.name).toBe('pending Allure result of "t"');
    expect(source.text).toContain("env: koc-pw-123456");
    expect(source.text).not.toContain("expect koc-token-abcdef");
    expect(source.text).toContain("- koc-token-abcdef");
  });

  test("should read every file under a folder, a single file, and nothing for a missing path", () => {
    const root = mkdtempSync(join(tmpdir(), "koc-leaks-"));
    mkdirSync(join(root, "a", "b"), { recursive: true });
    writeFileSync(join(root, "a", "b", "x.txt"), "x");
    writeFileSync(join(root, "y.txt"), "y");
    expect(
      filesUnder(root)
        .map((f) => f.text)
        .sort(),
    ).toEqual(["x", "y"]);
    expect(filesUnder(join(root, "y.txt"))).toEqual([{ name: join(root, "y.txt"), text: "y" }]);
    expect(filesUnder(join(root, "missing"))).toEqual([]);
  });
});

describe("run-end report scan", () => {
  afterEach(() => {
    delete process.env.KOC_LEARNED_SECRETS_DIR;
    redactor.reset();
  });

  /** The production app's Secret as apply() sees it in namespace koc-unit-abcde, learned as apply() learns it. */
  function applyProductionApp(learnedDir: string): void {
    process.env.KOC_LEARNED_SECRETS_DIR = learnedDir;
    for (const object of loadManifests(fakeNamespace(), "production-app/app/20-secret.yaml"))
      redactor.learnSecret(object);
  }

  test("should find a templated Secret value, as applied, planted in a report file", () => {
    const learnedDir = mkdtempSync(join(tmpdir(), "koc-learned-"));
    const reportsDir = mkdtempSync(join(tmpdir(), "koc-reports-"));
    applyProductionApp(learnedDir);
    mkdirSync(join(reportsDir, "allure-results"));
    // manifests/production-app/app: DB_PASSWORD is "koc-db-{{namespace}}"
    writeFileSync(join(reportsDir, "allure-results", "a-result.json"), '{"env":"DB_PASSWORD=koc-db-koc-unit-abcde"}');
    const scan = scanReport(reportsDir, learnedDir);
    expect(scan.leaks).toEqual([
      {
        secret: "Secret koc-unit-abcde/app-secrets key DB_PASSWORD (learned at apply)",
        form: "plain",
        source: join(reportsDir, "allure-results", "a-result.json"),
        offset: 20,
      },
    ]);
    expect(scan.learned, "values learned while applying (DB_PASSWORD, API_KEY)").toBe(2);
    expect(scan.files).toBe(1);
  });

  test("should not find it from the manifests alone: a templated value exists only once applied", () => {
    const reportsDir = mkdtempSync(join(tmpdir(), "koc-reports-"));
    mkdirSync(join(reportsDir, "artifacts"));
    writeFileSync(join(reportsDir, "artifacts", "env.txt"), "DB_PASSWORD=koc-db-koc-unit-abcde");
    const written = filesUnder(join(reportsDir, "artifacts"));
    expect(findLeaks(allSecretValues(), written)).toEqual([]);
    expect(allSecretValues().map((s) => s.value)).not.toContain("koc-db-__koc_placeholder__");
    const scan = scanReport(reportsDir, join(reportsDir, "no-learned-values"));
    expect(scan).toMatchObject({ learned: 0, leaks: [] });
  });

  test("should still search the literal values of every manifest, learned or not", () => {
    const reportsDir = mkdtempSync(join(tmpdir(), "koc-reports-"));
    const literal = allSecretValues()[0];
    expect(literal, "a literal Secret value somewhere in manifests/").toBeDefined();
    writeFileSync(join(reportsDir, "junit.xml"), `<failure>${literal?.value}</failure>`);
    const scan = scanReport(reportsDir, join(reportsDir, "no-learned-values"));
    expect(scan.leaks.map((l) => l.secret)).toEqual([literal?.label]);
  });
});
