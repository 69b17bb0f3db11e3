/**
 * Timelines: what was observed, and when, while something happened (a rollout, a restart, an upgrade),
 * and bounds that must hold at every observation ("never more than 4 pods", "at least 2 ready").
 *
 *   const timeline = new Timeline<Counts>("rollout of web");
 *   await sampleWhile(timeline, () => countPods(ns), POLL.fast, rollOut(ns));
 *   assertBound(timeline, { description: "pods <= replicas + maxSurge (4)", holds: (c) => c.pods <= 4, show });
 *
 * A violation names the bound, when it broke, what was seen, and the samples around it.
 */
import { setTimeout as nextPoll } from "node:timers/promises";
import { redactor } from "../framework/redact.ts";
import { formatDuration } from "../framework/timeouts.ts";

export interface Sample<T> {
  /** Milliseconds since the timeline started. */
  at: number;
  value: T;
}

export class Timeline<T> {
  readonly name: string;
  readonly #start: number;
  readonly #samples: Sample<T>[] = [];

  constructor(name: string, start: number = performance.now()) {
    this.name = name;
    this.#start = start;
  }

  /** Adds an observation, stamped now (or at `now`, a performance.now() reading). */
  record(value: T, now: number = performance.now()): void {
    this.#samples.push({ at: now - this.#start, value });
  }

  get samples(): readonly Sample<T>[] {
    return this.#samples;
  }

  /** One line per sample, `+1.3s  <shown value>`; `mark` flags one sample with `>`. */
  render(show: (value: T) => string, mark?: Sample<T>): string {
    return this.#samples.map((s) => `${s === mark ? ">" : " "} +${formatDuration(s.at)}  ${show(s.value)}`).join("\n");
  }
}

export interface Bound<T> {
  description: string;
  holds: (value: T) => boolean;
  show: (value: T) => string;
}

export class BoundViolationError extends Error {
  override name = "BoundViolationError";
}

export function firstViolation<T>(timeline: Timeline<T>, bound: Bound<T>): Sample<T> | undefined {
  return timeline.samples.find((s) => !bound.holds(s.value));
}

/** The samples from `first - context` to `last + context`, rendered, with `mark` flagged. */
function around<T>(
  timeline: Timeline<T>,
  first: number,
  last: number,
  context: number,
  show: (v: T) => string,
): string {
  const samples = timeline.samples;
  const nearby = new Timeline<T>(timeline.name, 0);
  for (const s of samples.slice(Math.max(0, first - context), last + context + 1)) nearby.record(s.value, s.at);
  return nearby.render(show, nearby.samples[Math.min(first, context)]);
}

/** Throws BoundViolationError at the first sample where `bound` does not hold; an empty timeline is an error too. */
export function assertBound<T>(timeline: Timeline<T>, bound: Bound<T>, context = 3): void {
  const samples = timeline.samples;
  if (samples.length === 0) {
    throw new BoundViolationError(`${timeline.name}: no samples, so "${bound.description}" was never checked`);
  }
  const bad = firstViolation(timeline, bound);
  if (bad === undefined) return;
  const index = samples.indexOf(bad);
  throw new BoundViolationError(
    redactor.scrub(
      `${timeline.name}: "${bound.description}" violated at +${formatDuration(bad.at)} ` +
        `(sample ${index + 1} of ${samples.length}): ${bound.show(bad.value)}\n` +
        around(timeline, index, index, context, bound.show),
    ),
  );
}

/** An upper limit on a measure, e.g. "pods counted <= 4". */
export interface Limit<T> {
  /** Names the limit with its value, e.g. "pods counted <= replicas + maxSurge = 4". */
  description: string;
  measure: (value: T) => number;
  limit: number;
  show: (value: T) => string;
}

/**
 * A transient excursion a Limit tolerates: at most `by` above it, for at most `forMs`, and at most `count` such
 * excursions in the whole timeline (`why` says what explains that many, for the failure message).
 */
export interface Tolerance {
  by: number;
  forMs: number;
  count: number;
  why?: string;
}

/** A run of consecutive samples above a limit. */
export interface Overshoot<T> {
  /** Index of the first sample above the limit, and of the last one. */
  first: number;
  last: number;
  /** The sample at which the measure peaked. */
  peak: Sample<T>;
  /** How far above the limit it peaked. */
  by: number;
  /** From the first sample above the limit to the first one back within it (to the last sample if none). */
  lastedMs: number;
  /** The timeline ended while still above the limit. */
  unresolved: boolean;
}

/** Every run of consecutive samples whose measure exceeds the limit. */
export function overshoots<T>(timeline: Timeline<T>, limit: Limit<T>): Overshoot<T>[] {
  const samples = timeline.samples;
  const runs: Overshoot<T>[] = [];
  let i = 0;
  while (i < samples.length) {
    if (limit.measure((samples[i] as Sample<T>).value) <= limit.limit) {
      i++;
      continue;
    }
    const first = i;
    let peak = samples[i] as Sample<T>;
    while (i < samples.length && limit.measure((samples[i] as Sample<T>).value) > limit.limit) {
      if (limit.measure((samples[i] as Sample<T>).value) > limit.measure(peak.value)) peak = samples[i] as Sample<T>;
      i++;
    }
    const back = samples[i];
    const end = back ?? (samples[i - 1] as Sample<T>);
    runs.push({
      first,
      last: i - 1,
      peak,
      by: limit.measure(peak.value) - limit.limit,
      lastedMs: end.at - (samples[first] as Sample<T>).at,
      unresolved: back === undefined,
    });
  }
  return runs;
}

/** `exceeded by 1 for 120ms from +4.2s (samples 31–31 of 60)`. */
export function showOvershoot<T>(timeline: Timeline<T>, run: Overshoot<T>): string {
  const from = (timeline.samples[run.first] as Sample<T>).at;
  return (
    `exceeded by ${run.by} for ${formatDuration(run.lastedMs)}${run.unresolved ? " (still above at the end)" : ""} ` +
    `from +${formatDuration(from)} (samples ${run.first + 1}–${run.last + 1} of ${timeline.samples.length})`
  );
}

/**
 * Asserts `limit` at every sample, except overshoots within `tolerance` (at most `by` above, back within it
 * in at most `forMs`, at most `count` of them). Returns the tolerated overshoots, for the report; throws
 * BoundViolationError naming the first overshoot beyond the tolerance with the samples around it, or every
 * overshoot when there are more than `count`. An empty timeline is an error too.
 */
export function assertLimit<T>(
  timeline: Timeline<T>,
  limit: Limit<T>,
  tolerance: Tolerance = { by: 0, forMs: 0, count: 0 },
  context = 3,
): Overshoot<T>[] {
  const description = limit.description;
  if (timeline.samples.length === 0) {
    throw new BoundViolationError(`${timeline.name}: no samples, so "${description}" was never checked`);
  }
  const runs = overshoots(timeline, limit);
  const beyond = runs.find((r) => r.by > tolerance.by || r.lastedMs > tolerance.forMs || r.unresolved);
  if (beyond === undefined) {
    if (runs.length <= tolerance.count) return runs;
    throw new BoundViolationError(
      redactor.scrub(
        `${timeline.name}: "${description}" exceeded ${runs.length} times, more than the ${tolerance.count} tolerated` +
          `${tolerance.why ? ` (${tolerance.why})` : ""}:\n` +
          runs.map((r, i) => `${i + 1}. ${showOvershoot(timeline, r)}; peak: ${limit.show(r.peak.value)}`).join("\n"),
      ),
    );
  }
  throw new BoundViolationError(
    redactor.scrub(
      `${timeline.name}: "${description}" ${showOvershoot(timeline, beyond)}, beyond the tolerance ` +
        `(by ${tolerance.by} for ${formatDuration(tolerance.forMs)}); peak: ${limit.show(beyond.peak.value)}\n` +
        around(timeline, beyond.first, beyond.last, context, limit.show),
    ),
  );
}

/** The samples with the smallest and the largest `measure` (the first of equals), e.g. peak pod count. */
export function extremes<T>(
  timeline: Timeline<T>,
  measure: (value: T) => number,
): { min: Sample<T>; max: Sample<T> } | undefined {
  const [first, ...rest] = timeline.samples;
  if (first === undefined) return undefined;
  let min = first;
  let max = first;
  for (const s of rest) {
    if (measure(s.value) < measure(min.value)) min = s;
    if (measure(s.value) > measure(max.value)) max = s;
  }
  return { min, max };
}

/**
 * Records `observe()` into `timeline` every `interval` ms until `work` settles, then once more, and
 * returns what `work` returned (or throws what it threw). An observation error ends the sampling and is
 * thrown once `work` has settled.
 */
export async function sampleWhile<T, R>(
  timeline: Timeline<T>,
  observe: () => Promise<T>,
  interval: number,
  work: Promise<R>,
): Promise<R> {
  let settled = false;
  const done = work.finally(() => {
    settled = true;
  });
  const sampling = (async () => {
    while (!settled) {
      timeline.record(await observe());
      await Promise.race([nextPoll(interval), done.catch(() => undefined)]);
    }
    timeline.record(await observe());
  })();
  // Wait for both, so neither is left running unobserved; the work's own error comes first.
  const [outcome, sampled] = await Promise.allSettled([done, sampling]);
  if (outcome.status === "rejected") throw outcome.reason;
  if (sampled.status === "rejected") throw sampled.reason;
  return outcome.value;
}
