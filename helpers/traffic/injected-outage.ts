/**
 * A short outage injected on purpose into every pod of a workload at once, to prove the probers see one.
 *
 *   const outage = await injectOutage(ns, "app=web", 300);   // resolves once the outage is over
 *
 * The workload's nginx drops a request (`return 444`: the connection closes without an answer) when a file
 * named after the current tenth of a second exists: `/tmp/koc-outage/<epoch s>.<tenth>`, e.g.
 * `/tmp/koc-outage/1764455000.1` covers 1764455000.100 to .199 (see the `map $msec` in
 * manifests/rollouts/zero-downtime/configmap.yaml). The files are placed seconds ahead, so every pod starts
 * and ends the outage at the same instant by its node's clock (on the test bed all nodes share this host's
 * clock), however late an exec arrives. A pod that got its files too late is an error, not a shorter outage.
 */
import type { TestNamespace } from "../framework/namespace.ts";
import { log } from "../framework/report.ts";
import { T } from "../framework/timeouts.ts";
import { waitFor } from "../framework/wait.ts";
import { exec } from "./exec.ts";

/** The directory the workload's nginx looks in. */
export const OUTAGE_DIR = "/tmp/koc-outage";
/** One file covers a tenth of a second (nginx's $msec up to its first decimal). */
export const SLOT_MS = 100;

export interface InjectedOutage {
  label: string;
  /** Epoch ms, inclusive. */
  from: number;
  /** Epoch ms, exclusive. */
  to: number;
}

/** The first slot boundary at least `leadMs` after `now`: when an outage placed now can safely start. */
export function outageStart(now: number, leadMs: number): number {
  return Math.ceil((now + leadMs) / SLOT_MS) * SLOT_MS;
}

/** The file names (nginx's `$msec` cut to tenths: "1764455000.1") that make an outage from `from` for `ms`. */
export function outageSlots(from: number, ms: number): string[] {
  if (from % SLOT_MS !== 0 || ms % SLOT_MS !== 0 || ms <= 0)
    throw new RangeError(`an outage starts and lasts whole tenths of a second, not from ${from} for ${ms} ms`);
  const slots: string[] = [];
  for (let t = from; t < from + ms; t += SLOT_MS) {
    slots.push(`${Math.floor(t / 1000)}.${Math.floor((t % 1000) / SLOT_MS)}`);
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
 * waits until the outage is over, removes the files and returns its window (by this host's clock). Files
 * that arrived late: LateOutageError, once the span has passed and the files are removed.
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
  const from = outageStart(Date.now(), leadMs);
  const to = from + ms;
  const slots = outageSlots(from, ms);
  const label = `injected ${ms} ms outage`;
  log(
    `injecting a ${ms} ms outage into ${names.length} pods from ${new Date(from).toISOString()} (files ${slots.join(", ")})`,
  );
  const placedAt = await Promise.all(
    names.map(async (name) => {
      const r = await exec(ns, name, [
        "sh",
        "-c",
        `mkdir -p ${OUTAGE_DIR} && cd ${OUTAGE_DIR} && touch "$@"`,
        "sh",
        ...slots,
      ]);
      if (r.exitCode !== 0) throw new Error(`placing the outage files in pod ${ns.name}/${name} failed: ${r.stderr}`);
      return Date.now();
    }),
  );
  const placed = Math.max(...placedAt);
  await waitFor(
    `the injected outage is over (at ${new Date(to).toISOString()} by this host's clock)`,
    { observe: async () => Date.now(), ok: (now) => now >= to, show: (now) => new Date(now).toISOString() },
    Math.max(0, to - Date.now()) + T.apiCall,
    { interval: 50, signal: ns.signal },
  );
  await Promise.all(names.map((name) => exec(ns, name, ["rm", "-rf", OUTAGE_DIR])));
  if (placed >= from) {
    const late = names.filter((_, i) => (placedAt[i] ?? 0) >= from);
    throw new LateOutageError(
      `the outage files reached ${late.join(", ")} only ${placed - from} ms after the outage was to start ` +
        `(${new Date(from).toISOString()}, placed ${leadMs} ms ahead): the pods did not drop requests together`,
      { label, from, to },
    );
  }
  return { label, from, to };
}
