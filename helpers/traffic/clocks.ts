/**
 * One clock for every verdict: this host's (the test runner's). Marks, windows and the host prober's records
 * are read on it; a pod reads its node's clock, which on any cluster but the test bed (where every node is
 * this host's kernel) may be off by any amount. What a pod timestamps (the in-cluster prober's records) or
 * fires by its clock (nginx's injected outage) is converted with its node's offset, measured NTP-style:
 * this host sends a line at `sent`, the pod answers with its clock's reading, this host receives it at
 * `received`; offset = reading − (sent + received) / 2, known to within half the round trip (plus 1 ms,
 * the resolution of Date.now()). Several
 * round trips over one open exec stream; the shortest one wins (the least queueing, the least doubt).
 *
 *   const clock = await measureClock(ns, pod, DATE_CLOCK, "node worker-1 (pod web-abc)");
 *   const records = inRunnerClock(podRecords, clock);   // the pod's epoch ms, on this host's clock
 *
 * An offset that is unknown (no reading) or too large or too uncertain to correct by (BOUNDS.clockSkew,
 * BOUNDS.clockUncertainty) is an environment error, ClockSkewError, naming the node: never a test
 * verdict, never "no offset" assumed.
 */
import type { TestNamespace } from "../framework/namespace.ts";
import { log } from "../framework/report.ts";
import { BOUNDS } from "../framework/timeouts.ts";
import { converse } from "./exec.ts";

/** One round trip: this host's clock when the line was sent and when the answer came, the pod's clock between. */
export interface ClockSample {
  sent: number;
  /** The pod's clock, epoch ms; NaN when its answer was not a reading. */
  reading: number;
  received: number;
}

/** A pod's clock relative to this host's: pod time = host time + offsetMs, to within ± uncertaintyMs. */
export interface NodeClock {
  /** Whose clock, e.g. "node worker-1 (pod prober)". */
  where: string;
  offsetMs: number;
  uncertaintyMs: number;
  /** Round trips measured (the best one decides). */
  samples: number;
}

/** The clock of this host itself: the host prober's records need no correction (the same clock, not an assumption). */
export const RUNNER_CLOCK: NodeClock = { where: "this host", offsetMs: 0, uncertaintyMs: 0, samples: 0 };

/** Date.now() counts whole milliseconds: each of `sent` and `received` may be up to 1 ms early. */
const RESOLUTION_MS = 1;
/** Round trips per measurement; the first includes the responder's start, the rest are fast. */
export const CLOCK_SAMPLES = 8;
/** Batches of CLOCK_SAMPLES round trips at most, while the best one is still too slow to pin the clock. */
export const CLOCK_BATCHES = 4;
/** A clock responder for any container with a shell and GNU date (nginx, Debian images): seconds with ns. */
export const DATE_CLOCK = ["sh", "-c", "while read -r _; do date +%s.%N; done"];

/** A node's clock is unknown, too far from this host's, or too uncertain: the environment, not the behaviour. */
export class ClockSkewError extends Error {
  override name = "ClockSkewError";
}

/** "1764455000.123456789" (epoch seconds) → epoch ms; NaN for anything else (e.g. a date without %N). */
export function parseReading(line: string): number {
  const text = line.trim();
  return /^\d{9,}\.\d+$/.test(text) ? Number(text) * 1000 : Number.NaN;
}

/**
 * The offset of the clock `where` from the round trip with the shortest time (ties: the first), and its
 * uncertainty: half that round trip plus this host's clock resolution. Samples without a reading, or whose
 * round trip runs backwards (this host's clock stepped), are ignored; none left: ClockSkewError.
 */
export function estimateClock(where: string, samples: readonly ClockSample[]): NodeClock {
  const valid = samples.filter((s) => Number.isFinite(s.reading) && Number.isFinite(s.sent) && s.received >= s.sent);
  const best = valid.reduce<ClockSample | undefined>(
    (a, s) => (a === undefined || s.received - s.sent < a.received - a.sent ? s : a),
    undefined,
  );
  if (best === undefined)
    throw new ClockSkewError(
      `the clock of ${where} could not be read (${samples.length} round trip(s), none with a reading): its ` +
        "offset from this host's clock is unknown, so its timestamps cannot be placed",
    );
  return {
    where,
    offsetMs: best.reading - (best.sent + best.received) / 2,
    uncertaintyMs: (best.received - best.sent) / 2 + RESOLUTION_MS,
    samples: valid.length,
  };
}

/** `+3.2ms ± 0.8ms`: the offset and its uncertainty. */
function showOffset(clock: NodeClock): string {
  const ms = (v: number): string => `${Math.abs(v).toFixed(1)}ms`;
  return `${clock.offsetMs < 0 ? "-" : "+"}${ms(clock.offsetMs)} ± ${ms(clock.uncertaintyMs)}`;
}

/** `node w1 (pod prober): +3.2ms ± 0.8ms (best of 8 round trips)` */
export function showClock(clock: NodeClock): string {
  const how = clock.samples === 0 ? "this host's own clock" : `best of ${clock.samples} round trips`;
  return `${clock.where}: ${showOffset(clock)} (${how})`;
}

export interface ClockTolerance {
  /** The largest |offset| + uncertainty. */
  skewMs: number;
  /** The largest uncertainty. */
  uncertaintyMs: number;
}

/** `clock` if it can be corrected by; ClockSkewError naming it, its offset and uncertainty and the bound otherwise. */
export function assertClockUsable(
  clock: NodeClock,
  tolerance: ClockTolerance = { skewMs: BOUNDS.clockSkew, uncertaintyMs: BOUNDS.clockUncertainty },
): NodeClock {
  const shown = showClock(clock);
  if (!(Number.isFinite(clock.offsetMs) && Number.isFinite(clock.uncertaintyMs)))
    throw new ClockSkewError(`the clock of ${shown} is not known, so its timestamps cannot be placed`);
  if (Math.abs(clock.offsetMs) + clock.uncertaintyMs > tolerance.skewMs)
    throw new ClockSkewError(
      `the clock of ${shown} is off this host's by more than the ${tolerance.skewMs}ms its timestamps are ` +
        "corrected by (BOUNDS.clockSkew): a node that far off is not synchronised and may be stepped while " +
        "the scenario runs; synchronise the nodes' clocks (NTP)",
    );
  if (clock.uncertaintyMs > tolerance.uncertaintyMs)
    throw new ClockSkewError(
      `the clock of ${shown} is known only to within more than ${tolerance.uncertaintyMs}ms ` +
        "(BOUNDS.clockUncertainty): the round trips to the pod were too slow to place a 300 ms outage",
    );
  return clock;
}

/**
 * `after`, the same clock measured again once the records it stamped are in, agrees with `before`, the
 * measurement they are corrected by: the offsets differ by no more than both uncertainties plus `driftMs`
 * (BOUNDS.clockUncertainty: a record moved by more is as badly placed as one on a clock known no better).
 * Otherwise ClockSkewError: the clock was stepped or slewed meanwhile, and one correction would misplace
 * the records.
 */
export function assertClockHeld(before: NodeClock, after: NodeClock, driftMs: number = BOUNDS.clockUncertainty): void {
  const moved = after.offsetMs - before.offsetMs;
  const allowed = before.uncertaintyMs + after.uncertaintyMs + driftMs;
  if (!(Math.abs(moved) <= allowed))
    throw new ClockSkewError(
      `the clock of ${before.where} moved by ${moved.toFixed(1)}ms while its records were taken (from ` +
        `${showOffset(before)} to ${showOffset(after)}), more than the ${allowed.toFixed(1)}ms both measurements ` +
        "and BOUNDS.clockUncertainty allow: it was stepped or slewed, so no one offset places its records",
    );
}

/** A time read on `clock` (epoch ms), on this host's clock. */
export function toRunnerClock(at: number, clock: NodeClock): number {
  return at - clock.offsetMs;
}

/** A time on this host's clock (epoch ms), as `clock` reads it at that instant. */
export function toPodClock(at: number, clock: NodeClock): number {
  return at + clock.offsetMs;
}

/** Records timestamped (`at`) on `clock`, with `at` on this host's clock. */
export function inRunnerClock<R extends { at: number }>(records: readonly R[], clock: NodeClock): R[] {
  return records.map((r) => ({ ...r, at: toRunnerClock(r.at, clock) }));
}

/**
 * Measures the clock of `pod` through `command`, a responder that prints its clock's reading (epoch seconds
 * with decimals) for every line it reads (DATE_CLOCK, or probe-loop.mjs --clock), logs it and returns it when
 * usable (assertClockUsable); `where` names the node and the pod.
 */
export async function measureClock(
  ns: TestNamespace,
  pod: string,
  command: string[],
  where: string,
  samples: number = CLOCK_SAMPLES,
): Promise<NodeClock> {
  const taken = await converse(ns, pod, command, async (ask) => {
    const found: ClockSample[] = [];
    // A busy node or runner slows every round trip of a batch now and then: up to CLOCK_BATCHES batches are
    // taken until the best round trip pins the clock within BOUNDS.clockUncertainty.
    for (let batch = 0; batch < CLOCK_BATCHES; batch++) {
      for (let i = 0; i < samples; i++) {
        const sent = Date.now();
        const line = await ask("t");
        found.push({ sent, reading: parseReading(line), received: Date.now() });
      }
      if (estimateClock(where, found).uncertaintyMs <= BOUNDS.clockUncertainty) break;
    }
    return found;
  }).catch((error: unknown) => {
    throw new ClockSkewError(`the clock of ${where} could not be read: ${(error as Error).message}`, { cause: error });
  });
  const clock = estimateClock(where, taken);
  log(`clock of ${showClock(clock)}`);
  return assertClockUsable(clock);
}
