/**
 * The in-cluster canary prober's records through an upgrade, the pure part: resuming a pod's log stream
 * without duplicates, the records file the log follower writes (bin/canary-logs.ts), and reading it back
 * as probe records on this host's clock.
 *
 * The records file (FILE.incluster.records next to the baseline FILE), one line each, fields split by `|`:
 *   clock|<pod>|<offset ms>|<uncertainty ms>|<samples>|<where>   the pod's clock, measured when first seen
 *                                                               (and again when the compare stops the follower)
 *   clock-error|<pod>|<message>                                 its clock could not be used (ClockSkewError)
 *   rec|<pod>|<probe-loop.mjs line>                             a record or end line of the pod, as it wrote it
 *   note|<ISO time>|<text>                                      a stream that broke, resumed, or was lost
 *   end|<ISO time>                                              the follower stopped because the compare asked
 * A pod's records are stamped with its node's clock; reading them corrects each by its pod's offset, so
 * they line up with the host prober's records and the upgrade's steps.
 */
import {
  assertClockHeld,
  ClockSkewError,
  inRunnerClock,
  type NodeClock,
  showClock,
} from "../helpers/traffic/clocks.ts";
import { END_MARK, isFailure, type ProbeRecord, parseProbeLine, RECORD_MARK } from "../helpers/traffic/prober.ts";

/** A log line's timestamp: the whole second (epoch ms) and the nanoseconds within it. */
interface Stamp {
  second: number;
  nanos: number;
}

const STAMPED = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d) (.*)$/;

/** `2030-01-01T00:00:01.250000000Z koc|...` (a log line with timestamps=true) -> its stamp and text. */
export function splitStamped(line: string): { stamp: Stamp; text: string } | undefined {
  const [, base = "", fraction = "", zone = "", text = ""] = STAMPED.exec(line.trimEnd()) ?? [];
  const second = Date.parse(`${base}${zone}`);
  if (!Number.isFinite(second)) return undefined;
  return { stamp: { second, nanos: Number(fraction.padEnd(9, "0")) }, text };
}

const compareStamps = (a: Stamp, b: Stamp): number => a.second - b.second || a.nanos - b.nanos;

/**
 * Where one pod's log stream resumes. A stream that breaks (the API server restarts, the connection drops)
 * is opened again with sinceTime, which the API takes in whole seconds: the lines of that second come
 * again. accept() passes each prober line once: a line stamped before the last one taken is dropped, and
 * one stamped at the same instant only when it was taken already (a flush writes several lines at once).
 * Lines that are not the prober's (`koc…`: Node's warnings on stderr, stamped apart) are ignored.
 */
export class LogResume {
  #last: Stamp | undefined;
  #atLast = new Set<string>();

  /** The prober line of a stamped log line when it was not taken before; undefined otherwise. */
  accept(line: string): string | undefined {
    const split = splitStamped(line);
    if (split === undefined || !split.text.startsWith(RECORD_MARK)) return undefined;
    const order = this.#last === undefined ? 1 : compareStamps(split.stamp, this.#last);
    if (order < 0 || (order === 0 && this.#atLast.has(split.text))) return undefined;
    if (order > 0) {
      this.#last = split.stamp;
      this.#atLast = new Set();
    }
    this.#atLast.add(split.text);
    return split.text;
  }

  /** The sinceTime to resume from (the last line's whole second), or undefined before the first line. */
  sinceTime(): string | undefined {
    return this.#last === undefined ? undefined : new Date(this.#last.second).toISOString().replace(/\.\d+Z$/, "Z");
  }
}

export const clockLine = (pod: string, c: NodeClock): string =>
  `clock|${pod}|${c.offsetMs}|${c.uncertaintyMs}|${c.samples}|${c.where.replace(/[|\n]/g, " ")}`;
export const clockErrorLine = (pod: string, message: string): string =>
  `clock-error|${pod}|${message.replace(/[|\n]/g, " ")}`;
export const recordLine = (pod: string, text: string): string => `rec|${pod}|${text}`;
export const noteLine = (at: number, text: string): string =>
  `note|${new Date(at).toISOString()}|${text.replace(/[|\n]/g, " ")}`;
export const endLine = (at: number): string => `end|${new Date(at).toISOString()}`;

/** The source of a canary-prober pod's records. */
export const podSource = (pod: string): string => `in-cluster ${pod}`;

/** What one canary-prober pod recorded, as read back. */
export interface PodRecords {
  pod: string;
  /** Its clock when first seen (undefined: never measured). */
  clock: NodeClock | undefined;
  records: ProbeRecord[];
  /** It wrote its end line: stopped by SIGTERM (a drain, a deletion), not killed or cut off. */
  ended: boolean;
}

/** The records file read back. */
export interface InClusterLog {
  /** Every pod's records, on this host's clock (source: podSource(pod)); pods with an unusable clock left out. */
  records: ProbeRecord[];
  pods: PodRecords[];
  /** Why some pod's records cannot be placed on this host's clock (ClockSkewError messages). */
  clockErrors: string[];
  /** What the follower noted (streams broken, resumed, lost). */
  notes: string[];
  /** The follower wrote its end line: the compare stopped it, it did not die. */
  ended: boolean;
}

function parseClock(fields: string[]): NodeClock | undefined {
  const [offset = "", uncertainty = "", samples = "", where = ""] = fields;
  const clock = { where, offsetMs: Number(offset), uncertaintyMs: Number(uncertainty), samples: Number(samples) };
  return Number.isFinite(clock.offsetMs) && Number.isFinite(clock.uncertaintyMs) ? clock : undefined;
}

/** Reads the records file; each pod's records corrected by its clock (and its clock checked to have held). */
export function parseInClusterLog(text: string): InClusterLog {
  const pods = new Map<string, { clocks: NodeClock[]; lines: string[]; ended: boolean }>();
  const pod = (name: string) => {
    const entry = pods.get(name) ?? { clocks: [], lines: [], ended: false };
    pods.set(name, entry);
    return entry;
  };
  const clockErrors: string[] = [];
  const notes: string[] = [];
  let ended = false;
  for (const line of text.split("\n")) {
    const [kind = "", name = "", ...rest] = line.trim().split("|");
    if (kind === "rec") {
      const entry = pod(name);
      if (rest[0] === END_MARK) entry.ended = true;
      else entry.lines.push(rest.join("|"));
    } else if (kind === "clock") {
      const clock = parseClock(rest);
      if (clock) pod(name).clocks.push(clock);
    } else if (kind === "clock-error") clockErrors.push(`pod ${name}: ${rest.join("|")}`);
    else if (kind === "note") notes.push(`${name.slice(11, 23)}Z ${rest.join("|")}`);
    else if (kind === "end") ended = true;
  }
  const read: PodRecords[] = [...pods].map(([name, entry]) => {
    const [clock, ...later] = entry.clocks;
    const raw = entry.lines.map((l) => parseProbeLine(l, podSource(name))).filter((r) => r !== undefined);
    let records: ProbeRecord[] = [];
    try {
      if (clock === undefined) {
        if (raw.length > 0)
          throw new ClockSkewError(`its clock was never measured, so its ${raw.length} record(s) cannot be placed`);
      } else {
        for (const again of later) assertClockHeld(clock, again);
        records = inRunnerClock(raw, clock);
      }
    } catch (error) {
      if (!(error instanceof ClockSkewError)) throw error;
      clockErrors.push(`pod ${name}: ${error.message}`);
    }
    return { pod: name, clock, records, ended: entry.ended };
  });
  return { records: read.flatMap((p) => p.records), pods: read, clockErrors, notes, ended };
}

const at = (ms: number): string => new Date(ms).toISOString().slice(11, 23);

/** One line per pod: where its clock was, what it recorded, from when to when, and how it ended. */
export function showPodRecords(p: PodRecords): string {
  const starts = p.records.map((r) => r.at);
  const span = starts.length === 0 ? "" : ` from ${at(Math.min(...starts))}Z to ${at(Math.max(...starts))}Z`;
  const clock = p.clock === undefined ? "clock unknown" : `clock of ${showClock(p.clock)}`;
  const how = p.ended ? "ended by SIGTERM (end line)" : "no end line (still running, or cut off)";
  return `pod ${p.pod}: ${p.records.length} request(s)${span}, ${p.records.filter(isFailure).length} failed, ${how}; ${clock}`;
}
