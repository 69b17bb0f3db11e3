import { mkdtempSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, test } from "vitest";
import { type LearnedValue, REDACTED, Redactor, readLearnedValues, recordLearnedValue } from "./redact.ts";

const b64 = (text: string): string => Buffer.from(text).toString("base64");

describe("redactor", () => {
  let redactor: Redactor;
  beforeEach(() => {
    redactor = new Redactor();
  });

  test("should learn data (base64-decoded) and stringData of a Secret manifest", () => {
    redactor.learnSecret({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "db" },
      data: { password: b64("supersecret123") },
      stringData: { API_KEY: "key-0f9e8d7c" },
    } as never);
    expect(redactor.scrub("login with supersecret123 and key-0f9e8d7c")).toBe(`login with ${REDACTED} and ${REDACTED}`);
    expect(redactor.scrub(`password: ${b64("supersecret123")}`)).toBe(`password: ${REDACTED}`);
  });

  test("should ignore objects that are not Secrets", () => {
    redactor.learnSecret({ apiVersion: "v1", kind: "ConfigMap", data: { a: b64("not-a-secret") } } as never);
    expect(redactor.scrub("not-a-secret")).toBe("not-a-secret");
  });

  test("should scrub the longest value first and every occurrence", () => {
    redactor.learn("admin");
    redactor.learn("admin-password");
    expect(redactor.scrub("admin-password admin admin")).toBe(`${REDACTED} ${REDACTED} ${REDACTED}`);
  });

  test("should treat values as text, not as regular expressions", () => {
    redactor.learn("a.b*c");
    expect(redactor.scrub("a.b*c axbbbc")).toBe(`${REDACTED} axbbbc`);
  });

  test("should scrub a multi-line value, its lines and its JSON-escaped form", () => {
    const key = "-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34GkxFhD9\n-----END KEY-----";
    redactor.learn(key);
    expect(redactor.scrub(`got ${JSON.stringify(key)}`)).toBe(`got "${REDACTED}"`);
    expect(redactor.scrub("line: MIIBOgIBAAJBAKj34GkxFhD9")).toBe(`line: ${REDACTED}`);
  });

  test("should not search for values too short to scrub without destroying the text", () => {
    redactor.learn("1");
    expect(redactor.scrub("replicas: 1")).toBe("replicas: 1");
  });

  test("should mask Secret fields in objects and scrub other strings", () => {
    redactor.learn("supersecret123");
    const pod = { kind: "Pod", spec: { containers: [{ env: [{ name: "P", value: "supersecret123" }] }] } };
    expect(redactor.redactObject(pod)).toEqual({
      kind: "Pod",
      spec: { containers: [{ env: [{ name: "P", value: REDACTED }] }] },
    });
    const secret = { kind: "Secret", data: { password: b64("x") }, stringData: { token: "short" } };
    expect(redactor.redactObject(secret)).toEqual({
      kind: "Secret",
      data: { password: REDACTED },
      stringData: { token: REDACTED },
    });
    expect(secret.data.password).toBe(b64("x")); // the original is untouched
  });

  test("should keep dates when redacting objects", () => {
    const when = new Date("2025-01-01T00:00:00Z");
    expect(redactor.redactObject({ metadata: { creationTimestamp: when } }).metadata.creationTimestamp).toEqual(when);
  });

  test("should scrub message, stack, diff and cause of an error in place", () => {
    redactor.learn("supersecret123");
    const error = Object.assign(new Error("expected supersecret123"), {
      diff: "- supersecret123",
      cause: new Error("cause supersecret123"),
    });
    redactor.scrubError(error);
    expect(error.message).toBe(`expected ${REDACTED}`);
    expect(error.stack).not.toContain("supersecret123");
    expect(error.diff).toBe(`- ${REDACTED}`);
    expect((error.cause as Error).message).toBe(`cause ${REDACTED}`);
  });

  test("should find a value in a coloured diff that splits it with escape codes", () => {
    redactor.learn("admin-koc-user");
    const error = {
      diff: "Received: \u001b[7madmin-koc-u\u001b[27mse\u001b[7mr\u001b[27m",
      message: "plain \u001b[31mred\u001b[39m",
    };
    redactor.scrubError(error);
    expect(error.diff).toBe(`Received: ${REDACTED}`);
    expect(error.message).toBe("plain \u001b[31mred\u001b[39m"); // nothing secret: colours kept
  });
});

describe("values learned for the run-end scan", () => {
  test("should tell its recorder each value once, labelled with the Secret and key", () => {
    const recorded: LearnedValue[] = [];
    const redactor = new Redactor((learned) => recorded.push(learned));
    const secret = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "app-secrets", namespace: "koc-app-x1y2z" },
      stringData: { DB_PASSWORD: "koc-db-koc-app-x1y2z" },
      data: { API_KEY: b64("koc-api-key-42") },
    };
    redactor.learnSecret(secret as never);
    redactor.learnSecret(secret as never);
    expect(recorded).toEqual([
      { label: "Secret koc-app-x1y2z/app-secrets key API_KEY", value: "koc-api-key-42" },
      { label: "Secret koc-app-x1y2z/app-secrets key DB_PASSWORD", value: "koc-db-koc-app-x1y2z" },
    ]);
    expect(redactor.learned()).toEqual(recorded);
  });

  test("should write what it learned to a private file and read back what every worker wrote", () => {
    const dir = mkdtempSync(join(tmpdir(), "koc-learned-"));
    recordLearnedValue(dir, { label: "Secret a/b key c", value: "first-value" });
    recordLearnedValue(dir, { label: "Secret a/b key d", value: 'with "quotes"\nand lines' });
    expect(readLearnedValues(dir)).toEqual([
      { label: "Secret a/b key c", value: "first-value" },
      { label: "Secret a/b key d", value: 'with "quotes"\nand lines' },
    ]);
    const [file] = readdirSync(dir);
    expect(statSync(join(dir, file ?? "")).mode & 0o777, "file mode").toBe(0o600);
    expect(readLearnedValues(join(dir, "missing"))).toEqual([]);
  });
});
