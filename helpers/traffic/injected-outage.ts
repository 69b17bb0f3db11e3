/**
 * A short outage injected on purpose into every pod of a workload at once, to prove the probers see one.
 *
 *   const outage = await injectOutage(ns, "app=web", 300);   // resolves once the outage is over
 *
 * The workload's nginx drops a request (`return 444`: the connection closes without an answer) when a file
 * named after the current hundredth of a second exists: `/tmp/koc-outage/<epoch s>.<hundredth>`, e.g.
 * `/tmp/koc-outage/1764455000.12` covers 1764455000.120 to .129 (see the `map $msec` in
 * manifests/rollouts/zero-downtime/configmap.yaml). nginx reads its node's clock, so each pod's clock is
 * measured first (helpers/traffic/clocks.ts) and its files are named for the instant, on its clock, that
 * is the outage's start on this host's: every pod starts and ends the outage at the same instant of this
 * host's clock, to within its clock's uncertainty plus half a slot (the outage's `uncertaintyMs`), however
 * far the nodes' clocks are apart and however late an exec arrives. The files are placed seconds ahead; a
 * pod that got its files too late is an error, not a shorter outage.
 */
import type { TestNamespace } from "../framework/namespace.ts";
import { log } from "../framework/report.ts";
import { T } from "../framework/timeouts.ts";
import { waitFor } from "../framework/wait.ts";
import { DATE_CLOCK, measureClock, type NodeClock, showClock } from "./clocks.ts";
import { exec } from "./exec.ts";

/** The directory the workload's nginx looks in. */
export const OUTAGE_DIR = "/tmp/koc-outage";
/** One file covers a hundredth of a second (nginx's $msec up to its second decimal). */
export const SLOT_MS = 10;

export interface InjectedOutage {
  label: string;
  /** Epoch ms, inclusive. */
  from: number;
  /** Epoch ms, exclusive. */
  to: number;
  /**
   * How far any pod's start or end of the outage may be from `from` and `to` (this host's clock): its clock's
   * uncertainty plus the rounding to a slot of its clock. 0 for a span that is not an injected outage.
   */
  uncertaintyMs: number;
}

/** Where one pod drops requests: its files (named on its clock), and how far its span may be from the outage's. */
export interface PodSchedule {
  slots: string[];
  /** |its start on this host's clock − the outage's start| at most, its clock's uncertainty included. */
  errorMs: number;
}

/**
 * The files that make a pod whose clock is `clock` drop requests from `from` for `ms` (this host's clock):
 * the outage's start on the pod's clock, rounded to the nearest slot.
 */
export function podSchedule(from: number, ms: number, clock: NodeClock): PodSchedule {
  const onPod = Math.round((from + clock.offsetMs) / SLOT_MS) * SLOT_MS;
  return {
    slots: outageSlots(onPod, ms),
    errorMs: Math.abs(onPod - clock.offsetMs - from) + clock.uncertaintyMs,
  };
}

/**
 * The span a prober must see `outage` in, on this host's clock: the injected span widened by the outage's
 * uncertainty, the uncertainty of the prober's clock and `marginMs` (requests in flight, the prober's
 * timetable). A window fixed around this host's timestamps would judge a prober whose clock is off by
 * failures that were not the outage's.
 */
export function anchoredSpan(
  outage: InjectedOutage,
  proberClock: Pick<NodeClock, "uncertaintyMs">,
  marginMs: number,
): { from: number; to: number; allowanceMs: number } {
  const allowanceMs = outage.uncertaintyMs + proberClock.uncertaintyMs + marginMs;
  return { from: outage.from - allowanceMs, to: outage.to + allowanceMs, allowanceMs };
}

/**
 * A request was in flight at some moment of `span` (epoch ms, on the record's clock): it started before the
 * span ended and had not finished before it began. A request started just before an outage and reset by it
 * failed because of it; only a failure that was over before the span, or started after it, is another one.
 */
export function inFlightDuring(
  request: { at: number; latencyMs: number },
  span: { from: number; to: number },
): boolean {
  return request.at < span.to && request.at + request.latencyMs >= span.from;
}

/** The first slot boundary at least `leadMs` after `now`: when an outage placed now can safely start. */
export function outageStart(now: number, leadMs: number): number {
  return Math.ceil((now + leadMs) / SLOT_MS) * SLOT_MS;
}

/** The file names (nginx's `$msec` cut to hundredths: "1764455000.12") that make an outage from `from` for `ms`. */
export function outageSlots(from: number, ms: number): string[] {
  if (from % SLOT_MS !== 0 || ms % SLOT_MS !== 0 || ms <= 0)
    throw new RangeError(`an outage starts and lasts whole hundredths of a second, not from ${from} for ${ms} ms`);
  const slots: string[] = [];
  for (let t = from; t < from + ms; t += SLOT_MS) {
    slots.push(`${Math.floor(t / 1000)}.${String(Math.floor((t % 1000) / SLOT_MS)).padStart(2, "0")}`);
  }
  return slots;
}

/**
 * The files reached some pod only after the outage was to start: the pods did not all drop requests over
 * the same span, so that outage proves nothing and is never judged (a late file is never a shorter outage).
 * Thrown after the span has passed and the files are gone; the caller may inject another with more lead.
 */
export class LateOutageError extends Error {
  override name = "LateOutageError";
  readonly outage: InjectedOutage;
  constructor(message: string, outage: InjectedOutage) {
    super(message);
    this.outage = outage;
  }
}

/**
 * Makes every pod matching `selector` drop requests for `ms` from an instant `leadMs` (T.outageLead) ahead,
 * each by its own clock (measured first; ClockSkewError when one cannot be corrected by), waits until the
 * outage is over, removes the files and returns its window (by this host's clock). Files that arrived
 * late: LateOutageError, once the span has passed and the files are removed.
 */
export async function injectOutage(
  ns: TestNamespace,
  selector: string,
  ms: number,
  leadMs: number = T.outageLead,
): Promise<InjectedOutage> {
  const pods = (await ns.kube.core.listNamespacedPod({ namespace: ns.name, labelSelector: selector })).items;
  const names = pods.map((p) => p.metadata?.name ?? "");
  if (names.length === 0) throw new Error(`no pod matches ${selector} in ${ns.name}: nothing to inject an outage into`);
  const clocks = await Promise.all(
    pods.map((p, i) => measureClock(ns, names[i] ?? "", DATE_CLOCK, `node ${p.spec?.nodeName} (pod ${names[i]})`)),
  );
  const from = outageStart(Date.now(), leadMs);
  const to = from + ms;
  const schedules = clocks.map((clock) => podSchedule(from, ms, clock));
  const uncertaintyMs = Math.max(...schedules.map((s) => s.errorMs));
  const label = `injected ${ms} ms outage`;
  log(
    `injecting a ${ms} ms outage into ${names.length} pods from ${new Date(from).toISOString()} (this host's clock, ` +
      `± ${uncertaintyMs.toFixed(1)} ms): ` +
      names.map((n, i) => `${n} from ${schedules[i]?.slots[0]} by ${showClock(clocks[i] as NodeClock)}`).join("; "),
  );
  const placedAt = await Promise.all(
    names.map(async (name, i) => {
      const r = await exec(ns, name, [
        "sh",
        "-c",
        `mkdir -p ${OUTAGE_DIR} && cd ${OUTAGE_DIR} && touch "$@"`,
        "sh",
        ...(schedules[i]?.slots ?? []),
      ]);
      if (r.exitCode !== 0) throw new Error(`placing the outage files in pod ${ns.name}/${name} failed: ${r.stderr}`);
      return Date.now();
    }),
  );
  // a pod may start up to its errorMs before `from`
  const lateBy = placedAt.map((at, i) => at + (schedules[i]?.errorMs ?? 0) - from);
  const placed = Math.max(...lateBy);
  await waitFor(
    `the injected outage is over (at ${new Date(to).toISOString()} by this host's clock)`,
    { observe: async () => Date.now(), ok: (now) => now >= to, show: (now) => new Date(now).toISOString() },
    Math.max(0, to - Date.now()) + T.apiCall,
    { interval: 50, signal: ns.signal },
  );
  await Promise.all(names.map((name) => exec(ns, name, ["rm", "-rf", OUTAGE_DIR])));
  if (placed >= 0) {
    const late = names.filter((_, i) => (lateBy[i] ?? 0) >= 0);
    throw new LateOutageError(
      `the outage files reached ${late.join(", ")} ${Math.round(placed)} ms after the earliest instant the ` +
        `outage could start there (${new Date(from).toISOString()} ± the pod's clock, placed ${leadMs} ms ahead): ` +
        "the pods did not drop requests together",
      { label, from, to, uncertaintyMs },
    );
  }
  return { label, from, to, uncertaintyMs };
}
