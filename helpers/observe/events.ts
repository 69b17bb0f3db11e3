/**
 * The events the cluster recorded about one pod (kubelet probe failures and kills, config errors, ...),
 * read with a field selector, and a Check that waits until the wanted ones appear.
 *
 *   await waitFor("pod web's liveness restart events", podEvents(ns, "web", LIVENESS_RESTART_EVENTS), T.podStart);
 *
 * Failure diagnostics list every event of a namespace instead (framework/diagnostics.ts); both print
 * events the same way (formatEvents).
 *
 * When an event happened is read with its resolution (Stamp): a repeated event is one object with a count,
 * its first and its last time (occurrences), and whole-second times cannot order two things in one second.
 */
import type { CoreV1Event } from "@kubernetes/client-node";
import { formatEvents } from "../framework/diagnostics.ts";
import type { TestNamespace } from "../framework/namespace.ts";
import type { Check } from "../framework/wait.ts";

/** An event that must have been recorded: its reason, and a piece of its message. */
export interface EventWanted {
  reason: string;
  message: string;
}

/** The events matching `wanted` (reason equal, message containing the text). */
export function findEvents(events: readonly CoreV1Event[], wanted: EventWanted): CoreV1Event[] {
  return events.filter((e) => e.reason === wanted.reason && (e.message ?? "").includes(wanted.message));
}

/** Every event recorded about pod `pod` of the test's namespace. */
export async function listPodEvents(ns: TestNamespace, pod: string): Promise<CoreV1Event[]> {
  const found = await ns.kube.core.listNamespacedEvent({
    namespace: ns.name,
    fieldSelector: `involvedObject.kind=Pod,involvedObject.name=${pod}`,
  });
  return found.items;
}

/** A Check: every one of `wanted` appears among the events of pod `pod`; shows what is missing and what was seen. */
export function podEvents(ns: TestNamespace, pod: string, wanted: readonly EventWanted[]): Check<CoreV1Event[]> {
  return {
    observe: () => listPodEvents(ns, pod),
    ok: (events) => wanted.every((w) => findEvents(events, w).length > 0),
    show: (events) => {
      const missing = wanted.filter((w) => findEvents(events, w).length === 0);
      const names = missing.map((w) => `${w.reason} "${w.message}"`).join(", ");
      return `missing ${names || "nothing"}; events of pod ${pod}:\n${formatEvents(events)}`;
    },
  };
}

/**
 * A moment the cluster stamped, as written, with its resolution. A `Time` field (firstTimestamp,
 * lastTimestamp, a condition's lastTransitionTime) is written in whole seconds, so two stamps of the same
 * second cannot be ordered; a `MicroTime` field (eventTime, series.lastObservedTime) carries microseconds.
 * The true moment lies in [us, us + resolutionUs).
 */
export interface Stamp {
  /** Microseconds since the epoch, as written (truncated, never rounded up). */
  us: number;
  /** 1_000_000 for a Time; 1 for a MicroTime written with 6 digits (1_000 when only milliseconds reached us). */
  resolutionUs: number;
  /** The field it came from, e.g. "lastTimestamp", "DisruptionTarget lastTransitionTime". */
  field: string;
}

const RFC3339 = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/i;

/**
 * The Stamp of a time field as client-node hands it over: a `Time` arrives as a Date (whole seconds), a
 * `MicroTime` as the RFC 3339 text the server wrote (client-node leaves that type unparsed) or, from other
 * sources, as a Date (milliseconds). Undefined for an unset field (null, undefined, or the zero time).
 */
export function stampOf(
  value: Date | string | null | undefined,
  field: string,
  kind: "Time" | "MicroTime",
): Stamp | undefined {
  if (value === null || value === undefined || value === "") return undefined;
  let us: number;
  let resolutionUs: number;
  if (value instanceof Date) {
    us = value.getTime() * 1000;
    resolutionUs = 1000;
  } else {
    const m = RFC3339.exec(value.trim());
    if (!m) throw new Error(`${field}: not an RFC 3339 time: "${value}"`);
    const digits = (m[2] ?? "").slice(0, 6);
    us = Date.parse(`${m[1]}${m[3]}`) * 1000 + (digits === "" ? 0 : Number(digits.padEnd(6, "0")));
    resolutionUs = 10 ** (6 - digits.length);
  }
  if (Number.isNaN(us)) throw new Error(`${field}: not a time: "${String(value)}"`);
  if (us <= 0) return undefined; // the zero time (0001-01-01) or the epoch: unset
  if (kind === "Time") {
    // whole seconds by definition; a Date built from one carries no more
    us = Math.floor(us / 1_000_000) * 1_000_000;
    resolutionUs = 1_000_000;
  }
  return { us, resolutionUs, field };
}

/** `12:00:01.123456` (MicroTime) or `12:00:01 (1 s)` (Time): the stamp as precise as it is, UTC. */
export function showStamp(s: Stamp): string {
  const iso = new Date(Math.floor(s.us / 1000)).toISOString().slice(11, 19);
  if (s.resolutionUs >= 1_000_000) return `${iso} (${s.field}, 1 s resolution)`;
  const fraction = String(s.us % 1_000_000).padStart(6, "0");
  const digits = 6 - Math.round(Math.log10(s.resolutionUs));
  return `${iso}.${fraction.slice(0, digits)} (${s.field})`;
}

/** How two stamps compare, given their resolutions: a strictly before b, strictly after, or not to tell. */
export function compareStamps(a: Stamp, b: Stamp): "before" | "after" | "same" {
  if (a.us + a.resolutionUs <= b.us) return "before";
  if (b.us + b.resolutionUs <= a.us) return "after";
  return "same";
}

/** Every occurrence one event object stands for: how many, the first and the last. */
export interface Occurrences {
  /**
   * How many times it happened. A core/v1 event from the kubelet's recorder is updated on each repeat
   * (`count`, lastTimestamp). An events.k8s.io-style series is only refreshed every few minutes, so its
   * `series.count` may lag: then `atLeast` is true and the count is a lower bound.
   */
  count: number;
  atLeast: boolean;
  first: Stamp;
  last: Stamp;
}

/**
 * The occurrences of `event`: eventTime (microseconds) or firstTimestamp for the first, series.lastObservedTime
 * or lastTimestamp for the last. Throws for an event with no time at all (nothing to place it by).
 */
export function occurrences(event: CoreV1Event): Occurrences {
  const name = `event ${event.metadata?.name ?? "?"} (${event.reason ?? "?"})`;
  // client-node types MicroTime fields as Date, but hands over the server's text
  const micro = (v: unknown, field: string) => stampOf(v as Date | string | null | undefined, field, "MicroTime");
  const first =
    micro(event.eventTime, "eventTime") ??
    stampOf(event.firstTimestamp, "firstTimestamp", "Time") ??
    stampOf(event.lastTimestamp, "lastTimestamp", "Time");
  if (first === undefined) throw new Error(`${name}: no eventTime, firstTimestamp or lastTimestamp`);
  const series = event.series;
  if (series !== undefined && series !== null) {
    const last = micro(series.lastObservedTime, "series.lastObservedTime") ?? first;
    return { count: Math.max(series.count ?? 1, 1), atLeast: true, first, last };
  }
  const count = Math.max(event.count ?? 1, 1);
  const last = count === 1 ? first : (stampOf(event.lastTimestamp, "lastTimestamp", "Time") ?? first);
  return { count, atLeast: false, first, last };
}

/** Recorded by a kubelet (the legacy recorder fills source.component, the new one reportingComponent). */
export function fromKubelet(event: CoreV1Event): boolean {
  return event.source?.component === "kubelet" || event.reportingComponent === "kubelet";
}
