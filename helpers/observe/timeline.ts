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

/** Throws BoundViolationError at the first sample where `bound` does not hold; an empty timeline is an error too. */
export function assertBound<T>(timeline: Timeline<T>, bound: Bound<T>, context = 3): void {
  const samples = timeline.samples;
  if (samples.length === 0) {
    throw new BoundViolationError(`${timeline.name}: no samples, so "${bound.description}" was never checked`);
  }
  const bad = firstViolation(timeline, bound);
  if (bad === undefined) return;
  const index = samples.indexOf(bad);
  const nearby = new Timeline<T>(timeline.name, 0);
  for (const s of samples.slice(Math.max(0, index - context), index + context + 1)) nearby.record(s.value, s.at);
  throw new BoundViolationError(
    redactor.scrub(
      `${timeline.name}: "${bound.description}" violated at +${formatDuration(bad.at)} ` +
        `(sample ${index + 1} of ${samples.length}): ${bound.show(bad.value)}\n` +
        nearby.render(bound.show, nearby.samples[Math.min(index, context)]),
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
