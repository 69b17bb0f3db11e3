/**
 * The run's closing line, `e2e: N passed, N failed, N skipped`, read from the JUnit XML the run wrote.
 * CI reads such a line to know that tests ran and how they ended; people read it at the end of a long log.
 */
import { existsSync, readFileSync, statSync } from "node:fs";

export interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

/** Counts from the root <testsuites> element; undefined when the file has none (nothing ran). */
export function countsFromJunit(xml: string): Counts | undefined {
  const root = /<testsuites\b([^>]*)>/.exec(xml)?.[1];
  if (root === undefined) return undefined;
  const attr = (name: string): number => Number(new RegExp(`\\b${name}="(\\d+)"`).exec(root)?.[1] ?? 0);
  const failed = attr("failures") + attr("errors");
  const skipped = attr("skipped");
  return { passed: attr("tests") - failed - skipped, failed, skipped };
}

export function summaryLine(counts: Counts): string {
  return `e2e: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`;
}

/** The closing line for the JUnit file at `path`, or undefined when it is missing, empty or older than `since`. */
export function summaryFromFile(path: string, since = 0): string | undefined {
  if (!existsSync(path) || statSync(path).mtimeMs < since) return undefined;
  const counts = countsFromJunit(readFileSync(path, "utf8"));
  return counts === undefined ? undefined : summaryLine(counts);
}

/** Namespace names, numbers and durations differ between tests that failed for the same reason. */
function failureShape(message: string): string {
  const first = message.split(/\n|&#10;/)[0] ?? "";
  return first.replace(/koc-[a-z0-9-]+/g, "koc-…").replace(/\d+(\.\d+)?/g, "N");
}

/**
 * When every test that ran failed the same way (two or more; e.g. no namespace became usable because the
 * controller manager is down), that one failure, so the run can say it once instead of N times.
 */
export function commonFailure(xml: string): string | undefined {
  const cases = [...xml.matchAll(/<testcase\b[^>]*?(?:\/>|>([\s\S]*?)<\/testcase>)/g)].map((m) => m[1] ?? "");
  const ran = cases.filter((body) => !/<skipped\b/.test(body));
  const messages = ran.map((body) => /<(?:failure|error)\b[^>]*\bmessage="([^"]*)"/.exec(body)?.[1]);
  if (messages.length < 2 || messages.some((m) => m === undefined)) return undefined;
  const shapes = new Set(messages.map((m) => failureShape(m ?? "")));
  if (shapes.size !== 1) return undefined;
  const first = (messages[0] ?? "").split(/\n|&#10;/)[0] ?? "";
  return first
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}
