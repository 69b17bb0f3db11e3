/**
 * Keeps Secret values out of reports, logs, artifacts and error messages.
 *
 * The redactor learns values as the suite sees them (Secret manifests it applies, Secrets referenced by
 * secretKeyRef/secretRef env) and scrubs every text the harness writes: attachments, diagnostics,
 * log lines and the errors of failed tests. One instance per worker process (`redactor`).
 *
 * What the workers learned is also what the run must never have written: with KOC_LEARNED_SECRETS_DIR set
 * (the CLI sets it to a private temporary folder for each run), every value learned is appended to a file
 * there, and the CLI's end-of-run scan searches the report for exactly those values, templated ones
 * included (a Secret value built from `{{namespace}}` exists only once it is applied).
 *
 * Values shorter than MIN_SCRUB_LENGTH are masked in Secret objects but not searched for in free text:
 * replacing every "1" or "ab" in a log would destroy the log, and such values protect nothing.
 */
import { appendFileSync, existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { stripVTControlCharacters } from "node:util";
import { threadId } from "node:worker_threads";
import type { KubernetesObject } from "@kubernetes/client-node";

export const REDACTED = "[redacted]";
export const MIN_SCRUB_LENGTH = 3;
/** Lines of a multi-line value (keys, certificates) are scrubbed on their own from this length up. */
const MIN_LINE_LENGTH = 8;

interface SecretLike extends KubernetesObject {
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

/** A Secret value and where it came from (`Secret ns/name key k`), as the end-of-run scan needs it. */
export interface LearnedValue {
  label: string;
  value: string;
}

export class Redactor {
  #values = new Set<string>();
  #pattern: RegExp | undefined;
  #learned = new Map<string, string>();
  readonly #record: ((learned: LearnedValue) => void) | undefined;

  /** `record` is told about each value once, when it is first learned. */
  constructor(record?: (learned: LearnedValue) => void) {
    this.#record = record;
  }

  /** Remembers a secret value, plus the forms it shows up in: base64, JSON-escaped, line by line. */
  learn(value: string, label = "a Secret value"): void {
    if (!this.#learned.has(value)) {
      this.#learned.set(value, label);
      this.#record?.({ label, value });
    }
    const forms = [value, Buffer.from(value).toString("base64"), JSON.stringify(value).slice(1, -1)];
    for (const line of value.split(/\r?\n/)) if (line.trim().length >= MIN_LINE_LENGTH) forms.push(line.trim());
    for (const form of forms) {
      if (form.length >= MIN_SCRUB_LENGTH && !this.#values.has(form)) {
        this.#values.add(form);
        this.#pattern = undefined;
      }
    }
  }

  /** Learns every value of a Secret manifest: `data` (base64-decoded) and `stringData`. */
  learnSecret(object: KubernetesObject): void {
    if (object.kind !== "Secret") return;
    const secret = object as SecretLike;
    const name = [secret.metadata?.namespace, secret.metadata?.name].filter(Boolean).join("/");
    const label = (key: string): string => `Secret ${name} key ${key}`;
    for (const [key, encoded] of Object.entries(secret.data ?? {})) {
      this.learn(Buffer.from(encoded, "base64").toString("utf8"), label(key));
    }
    for (const [key, value] of Object.entries(secret.stringData ?? {})) this.learn(String(value), label(key));
  }

  /** Every value learned so far, with its label. */
  learned(): LearnedValue[] {
    return [...this.#learned].map(([value, label]) => ({ label, value }));
  }

  /** Replaces every learned value in `text` with [redacted], longest first. */
  scrub(text: string): string {
    if (this.#values.size === 0 || text === "") return text;
    this.#pattern ??= new RegExp(
      [...this.#values]
        .sort((a, b) => b.length - a.length)
        .map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
        .join("|"),
      "g",
    );
    return text.replace(this.#pattern, REDACTED);
  }

  /** A copy of `object` safe to print: Secret data/stringData values masked, every string scrubbed. */
  redactObject<T>(object: T): T {
    const copy = structuredClone(object) as T & SecretLike;
    if (copy !== null && typeof copy === "object" && copy.kind === "Secret") {
      for (const field of ["data", "stringData"] as const) {
        const values = copy[field];
        if (values) for (const key of Object.keys(values)) values[key] = REDACTED;
      }
    }
    return this.#scrubStrings(copy) as T;
  }

  /**
   * Scrubs message, stack and diff fields of an error (or a serialized error) in place. Colour codes are
   * removed first: a coloured diff splits a value into pieces ("admin-koc-u\x1b[27mse\x1b[7mr") that would
   * each slip past the search.
   */
  scrubError(error: unknown): void {
    if (error === null || typeof error !== "object") return;
    const fields = error as Record<string, unknown>;
    for (const key of ["message", "stack", "diff", "stackStr", "expected", "actual", "name"]) {
      const value = fields[key];
      if (typeof value !== "string") continue;
      const plain = stripVTControlCharacters(value);
      fields[key] = this.scrub(plain) === plain ? value : this.scrub(plain);
    }
    if ("cause" in fields) this.scrubError(fields.cause);
  }

  /** Forgets everything (unit tests). */
  reset(): void {
    this.#values.clear();
    this.#learned.clear();
    this.#pattern = undefined;
  }

  #scrubStrings(value: unknown): unknown {
    if (typeof value === "string") return this.scrub(value);
    if (value instanceof Date) return value;
    if (Array.isArray(value)) return value.map((item) => this.#scrubStrings(item));
    if (value !== null && typeof value === "object") {
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) out[key] = this.#scrubStrings(item);
      return out;
    }
    return value;
  }
}

/** One file per worker in the run's folder of learned values (0600: it holds Secret values). */
export function recordLearnedValue(dir: string, learned: LearnedValue): void {
  appendFileSync(join(dir, `${process.pid}-${threadId}.jsonl`), `${JSON.stringify(learned)}\n`, { mode: 0o600 });
}

/** What every worker of a run recorded in `dir` (nothing when the folder does not exist). */
export function readLearnedValues(dir: string): LearnedValue[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((file) => file.endsWith(".jsonl"))
    .flatMap((file) => readFileSync(join(dir, file), "utf8").split("\n"))
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as LearnedValue);
}

/** This worker's redactor; it records what it learns in KOC_LEARNED_SECRETS_DIR when the CLI set one. */
export const redactor = new Redactor((learned) => {
  const dir = process.env.KOC_LEARNED_SECRETS_DIR;
  if (dir) recordLearnedValue(dir, learned);
});
