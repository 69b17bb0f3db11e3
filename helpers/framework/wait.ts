/**
 * Waiting for the cluster, with a name, a deadline and the last state seen.
 *
 *   await waitFor("deployment web has 2 available replicas", deploymentAvailable(ns, "web", 2), T.rollout);
 *   await holdsFor("pod web-0 is never restarted", podRestarts(ns, "web-0", 0), T.holdWindow);
 *
 * A Check reads the current state (`observe`), judges it (`ok`) and says what it saw (`show`). On timeout
 * the error names the expectation, how long it waited, and the last observation; transport errors while
 * observing are retried by the clients and, if they persist, shown as the observation. Any other API
 * error (403, 422, ...) ends the wait at once: it is an answer, not a state that will change.
 */
import { setTimeout as nextPoll } from "node:timers/promises";
import { describeApiError, isNotFound, isTransportError } from "./kube.ts";
import { redactor } from "./redact.ts";
import { formatDuration, POLL } from "./timeouts.ts";

export interface Check<T> {
  /** Reads the state. A 404 counts as an observation ("not found"), not as an error. */
  observe: () => Promise<T>;
  /** The verdict on one observation. */
  ok: (value: T) => boolean;
  /** How an observation appears in an error message (default: compact JSON). */
  show?: (value: T) => string;
}

export interface WaitOptions {
  /** Poll interval in ms (default POLL.fast: 250 ms). */
  interval?: number;
  /** Stops the wait early (the test's signal: aborted when the test times out). */
  signal?: AbortSignal | undefined;
  /** Extra text appended to a timeout error, e.g. a short dump of related objects. */
  diagnose?: () => Promise<string>;
}

/** The state seen on one attempt: the value, or why there is none. */
type Observation<T> =
  | { kind: "value"; value: T }
  | { kind: "missing"; detail: string }
  | { kind: "error"; detail: string };

export class WaitTimeoutError extends Error {
  override name = "WaitTimeoutError";
  readonly expectation: string;
  readonly lastSeen: string;
  readonly elapsedMs: number;

  constructor(expectation: string, lastSeen: string, elapsedMs: number, attempts: number, diagnosis?: string) {
    super(formatTimeout({ expectation, lastSeen, elapsedMs, attempts, diagnosis }));
    this.expectation = expectation;
    this.lastSeen = lastSeen;
    this.elapsedMs = elapsedMs;
  }
}

export class HoldViolationError extends Error {
  override name = "HoldViolationError";
}

/** "Timed out after 1m 30s waiting for: <expectation>\n  last seen (attempt 42): <state>". */
export function formatTimeout(facts: {
  expectation: string;
  lastSeen: string;
  elapsedMs: number;
  attempts: number;
  diagnosis?: string | undefined;
}): string {
  const lines = [
    `Timed out after ${formatDuration(facts.elapsedMs)} waiting for: ${facts.expectation}`,
    `  last seen (attempt ${facts.attempts}): ${indent(facts.lastSeen)}`,
  ];
  if (facts.diagnosis) lines.push(`  diagnosis:\n    ${indent(facts.diagnosis, "    ")}`);
  return redactor.scrub(lines.join("\n"));
}

/** "<expectation> stopped holding after 4.2s of 15s: <state>". */
export function formatViolation(facts: { expectation: string; seen: string; atMs: number; windowMs: number }): string {
  return redactor.scrub(
    `Expected to hold for ${formatDuration(facts.windowMs)}: ${facts.expectation}\n` +
      `  violated after ${formatDuration(facts.atMs)}: ${indent(facts.seen)}`,
  );
}

function indent(text: string, pad = "  "): string {
  return text.replace(/\n/g, `\n${pad}`);
}

/** Compact one-line JSON, shortened to `max` characters. */
export function compact(value: unknown, max = 600): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text === undefined ? String(value) : text.length > max ? `${text.slice(0, max)}…` : text;
}

async function observeOnce<T>(check: Check<T>): Promise<Observation<T>> {
  try {
    return { kind: "value", value: await check.observe() };
  } catch (error) {
    if (isNotFound(error)) return { kind: "missing", detail: `not found (${describeApiError(error)})` };
    if (isTransportError(error)) return { kind: "error", detail: `API unreachable: ${describeApiError(error)}` };
    throw error;
  }
}

function showObservation<T>(check: Check<T>, seen: Observation<T>): string {
  if (seen.kind !== "value") return seen.detail;
  return check.show ? check.show(seen.value) : compact(seen.value);
}

/**
 * Polls `check` until it is ok and returns the observation that was; throws WaitTimeoutError after `timeout` ms.
 * The first observation is taken immediately.
 */
export async function waitFor<T>(
  expectation: string,
  check: Check<T>,
  timeout: number,
  options: WaitOptions = {},
): Promise<T> {
  const started = performance.now();
  const interval = options.interval ?? POLL.fast;
  for (let attempts = 1; ; attempts++) {
    options.signal?.throwIfAborted();
    const seen = await observeOnce(check);
    if (seen.kind === "value" && check.ok(seen.value)) return seen.value;
    const last = showObservation(check, seen);
    const elapsed = performance.now() - started;
    if (elapsed + interval > timeout) {
      const diagnosis = options.diagnose
        ? await options.diagnose().catch((e: Error) => `(diagnosis failed: ${e.message})`)
        : undefined;
      throw new WaitTimeoutError(expectation, last, elapsed, attempts, diagnosis);
    }
    await nextPoll(interval, undefined, { signal: options.signal });
  }
}

/**
 * Checks `check` repeatedly for `window` ms and fails at the first observation that is not ok (or missing).
 * Use it for "must never happen": a pod is not restarted, an endpoint never goes away. Returns the last value.
 */
export async function holdsFor<T>(
  expectation: string,
  check: Check<T>,
  window: number,
  options: WaitOptions = {},
): Promise<T> {
  const started = performance.now();
  const interval = options.interval ?? POLL.fast;
  for (;;) {
    options.signal?.throwIfAborted();
    const seen = await observeOnce(check);
    const elapsed = performance.now() - started;
    if (seen.kind !== "value" || !check.ok(seen.value)) {
      if (seen.kind === "error" && elapsed < window) {
        // The API did not answer: we saw nothing, so nothing was violated; look again.
        await nextPoll(interval, undefined, { signal: options.signal });
        continue;
      }
      throw new HoldViolationError(
        formatViolation({ expectation, seen: showObservation(check, seen), atMs: elapsed, windowMs: window }),
      );
    }
    if (elapsed >= window) return seen.value;
    await nextPoll(Math.min(interval, window - elapsed), undefined, { signal: options.signal });
  }
}

export class DeadlineError extends Error {
  override name = "DeadlineError";
}

/** Settles with `work`, or rejects after `ms` with DeadlineError "<what> did not finish within <ms>" (work keeps running). */
export async function withDeadline<R>(what: string, ms: number, work: Promise<R>): Promise<R> {
  const deadline = AbortSignal.timeout(ms);
  const expired = new Promise<never>((_, reject) => {
    deadline.addEventListener(
      "abort",
      () => reject(new DeadlineError(`${what} did not finish within ${formatDuration(ms)}`)),
      {
        once: true,
      },
    );
  });
  return Promise.race([work, expired]);
}
