/**
 * Upgrade acceptance, the pure part: the baseline file's format, per-scenario verdicts read from the JUnit
 * XML, and the comparison of a baseline with what is seen after the upgrade (canaries and verdicts).
 * The cluster part (deploying and reading the canaries) is bin/canaries.ts.
 *
 * The baseline file (JSON, `format: 1`):
 *   createdAt, context, server, serverVersion, runId   where and when the baseline was taken
 *   suites, tags                                       the selection; compare reuses it unless given its own
 *   verdicts      { "<file> > <describe> > <test>": "passed" | "failed" | "skipped" }
 *   canaries      CanarySnapshot: identities (must be equal afterwards), pods (restart counts); baselines taken
 *                 before the in-cluster prober's records also hold `prober` counts, which are not read any more
 *   measurements  [{ scenario, name, value, unit, expected? }] what the scenarios measured
 *                 (helpers/framework/report.ts measure); `expected`: [min, max], the measurement's natural range
 *
 * Drift of a measurement (compareMeasurements). FACTOR = max(|now|, floor) / max(|baseline|, floor), where
 * floor is the unit's (UNIT_FLOORS) or, for a measurement with a natural range, the range's lower bound when
 * that is higher; two values both below the floor have no factor. DRIFT: FACTOR > F or FACTOR < 1/F
 * (`--drift F`), unless the new value lies inside the natural range (min <= now <= max): a value the
 * cluster's own timers explain never drifts, however far it is from the baseline's. The range is the one
 * this run declared, else the baseline's; a measurement without one (old baselines) has the factor rule alone.
 * On purpose: with the natural-range exemption taken out of compareMeasurements (a temporary edit), the unit
 * tests' volume update delay of 1.2 s against 84 s inside [0, 100 s] failed as DRIFT x70.
 */
import { readFileSync } from "node:fs";
import { tagPattern } from "./args.ts";

export type Verdict = "passed" | "failed" | "skipped";

export interface PodRecord {
  name: string;
  uid: string;
  /** `ReplicaSet/<name>` or `StatefulSet/<name>`. */
  owner: string;
  node: string;
  /** When the node's Ready condition last changed: a change since the baseline explains restarts there. */
  nodeReadySince: string;
  containers: Array<{ name: string; restarts: number; lastTermination?: string | undefined }>;
}

export interface CanarySnapshot {
  /** Facts that must be identical after the upgrade: UIDs, the serving ReplicaSet, checksums of data and content. */
  identities: Record<string, string>;
  pods: PodRecord[];
}

export interface Baseline {
  format: 1;
  createdAt: string;
  context: string;
  server: string;
  serverVersion: string;
  runId: string;
  suites: string[];
  tags: string[];
  verdicts: Record<string, Verdict>;
  canaries: CanarySnapshot;
  /** Absent in baselines taken before measurements were recorded. */
  measurements?: Measurement[] | undefined;
}

/** A baseline file that cannot be used; exit code 2. */
export class BaselineError extends Error {
  override name = "BaselineError";
}

export function readBaseline(file: string): Baseline {
  let data: Partial<Baseline>;
  try {
    data = JSON.parse(readFileSync(file, "utf8")) as Partial<Baseline>;
  } catch (error) {
    throw new BaselineError(`baseline ${file} cannot be read: ${(error as Error).message.split("\n")[0]}`);
  }
  if (data.format !== 1 || typeof data.verdicts !== "object" || typeof data.canaries?.identities !== "object") {
    throw new BaselineError(
      `baseline ${file} is not a k8s-ops-conformance baseline (format 1); take one with run --baseline`,
    );
  }
  if (Object.keys(data.verdicts ?? {}).length === 0) {
    throw new BaselineError(`baseline ${file} holds no scenario verdict, so nothing can be compared; take it again`);
  }
  return data as Baseline;
}

/**
 * Why the runner's results cannot be judged, or undefined when they can. vitest exits 0 (all passed) or 1
 * (a test failed); any other code, no junit.xml or a junit.xml without a scenario means it stopped before
 * writing the results of a run.
 */
export function runnerFailure(run: { code: number; junitWritten: boolean; scenarios: number }): string | undefined {
  if (!run.junitWritten) return `the runner wrote no results (junit.xml missing, vitest exit code ${run.code})`;
  if (run.scenarios === 0) return `the runner's results hold no scenario (vitest exit code ${run.code})`;
  if (run.code !== 0 && run.code !== 1)
    return `the runner failed (vitest exit code ${run.code}), its results are incomplete`;
  return undefined;
}

/** Whether a `--suite`/`--tag` selection runs a scenario (`<file> > <describe> > <test>`); empty lists select all. */
export function selectedBy(selection: {
  suites: readonly string[];
  tags: readonly string[];
}): (scenario: string) => boolean {
  const pattern = tagPattern(selection.tags);
  const tagged = pattern === undefined ? undefined : new RegExp(pattern);
  return (scenario) => {
    const inSuite = selection.suites.length === 0 || selection.suites.some((s) => scenario.startsWith(`suites/${s}/`));
    return inSuite && (tagged === undefined || tagged.test(scenario));
  };
}

const ENTITIES: Record<string, string> = { "&lt;": "<", "&gt;": ">", "&quot;": '"', "&apos;": "'", "&amp;": "&" };
const unescapeXml = (text: string): string => text.replace(/&(lt|gt|quot|apos|amp);/g, (e) => ENTITIES[e] ?? e);

/** `{ "<classname> > <name>": verdict }` for every <testcase> of a JUnit XML file. */
export function verdictsFromJunit(xml: string): Record<string, Verdict> {
  const verdicts: Record<string, Verdict> = {};
  const cases = /<testcase\b([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g;
  for (const [, attrs = "", , body = ""] of xml.matchAll(cases)) {
    const attr = (name: string): string => unescapeXml(new RegExp(`\\b${name}="([^"]*)"`).exec(attrs)?.[1] ?? "");
    const key = `${attr("classname")} > ${attr("name")}`;
    verdicts[key] = /<(failure|error)\b/.test(body) ? "failed" : /<skipped\b/.test(body) ? "skipped" : "passed";
  }
  return verdicts;
}

export interface VerdictChanges {
  /** passed before, failed or skipped now. */
  regressed: Array<{ scenario: string; before: Verdict; after: Verdict }>;
  /** failed or skipped before, passed now. */
  fixed: Array<{ scenario: string; before: Verdict; after: Verdict }>;
  /** other changes (failed <-> skipped). */
  changed: Array<{ scenario: string; before: Verdict; after: Verdict }>;
  added: Array<{ scenario: string; after: Verdict }>;
  /** In the baseline, selected now, and without a verdict: a regression (the scenario did not run). */
  missing: Array<{ scenario: string; before: Verdict }>;
  /** In the baseline, left out by this run's --suite/--tag: not judged. */
  notSelected: Array<{ scenario: string; before: Verdict }>;
}

function changeKind(was: Verdict, now: Verdict): "regressed" | "fixed" | "changed" {
  if (was === "passed") return "regressed";
  return now === "passed" ? "fixed" : "changed";
}

/** `selected`: whether this run's selection includes a scenario (default: all, see selectedBy). */
export function compareVerdicts(
  before: Record<string, Verdict>,
  after: Record<string, Verdict>,
  selected: (scenario: string) => boolean = () => true,
): VerdictChanges {
  const changes: VerdictChanges = { regressed: [], fixed: [], changed: [], added: [], missing: [], notSelected: [] };
  for (const [scenario, was] of Object.entries(before)) {
    const now = after[scenario];
    if (now === undefined) (selected(scenario) ? changes.missing : changes.notSelected).push({ scenario, before: was });
    else if (now !== was) changes[changeKind(was, now)].push({ scenario, before: was, after: now });
  }
  for (const [scenario, now] of Object.entries(after)) {
    if (!(scenario in before)) changes.added.push({ scenario, after: now });
  }
  return changes;
}

/** Termination reasons that say the runtime lost the container (its node or runtime restarted), not that it failed. */
const LOST = new Set(["Unknown", "ContainerStatusUnknown"]);

export interface CanaryFindings {
  /** What an upgrade must not do: each one line, each a regression. */
  regressions: string[];
  /** What an upgrade may do (pods replaced by their owner, restarts of a restarted node), for the record. */
  notes: string[];
}

function restartFindings(pod: PodRecord, same: PodRecord, findings: CanaryFindings): void {
  const nodeChanged = same.nodeReadySince !== pod.nodeReadySince;
  for (const container of same.containers) {
    const extra = container.restarts - (pod.containers.find((c) => c.name === container.name)?.restarts ?? 0);
    if (extra <= 0) continue;
    const what = `pod ${pod.name} container ${container.name} restarted ${extra} time(s) (last termination: ${container.lastTermination ?? "?"})`;
    const lost = LOST.has((container.lastTermination ?? "").split(" ")[0] ?? "");
    if (lost) findings.notes.push(`${what}; explained: the runtime lost the container (node or runtime restart)`);
    else if (nodeChanged) findings.notes.push(`${what}; explained: node ${same.node} changed Ready since the baseline`);
    else findings.regressions.push(`${what}; not explained by a node or runtime restart`);
  }
}

/**
 * Compares the canaries after the upgrade with the baseline's. The probers' requests are judged apart, from
 * their records (bin/upgrade-traffic.ts trafficFindings).
 */
export function compareCanaries(before: CanarySnapshot, after: CanarySnapshot): CanaryFindings {
  const findings: CanaryFindings = { regressions: [], notes: [] };
  for (const [fact, was] of Object.entries(before.identities)) {
    const now = after.identities[fact];
    if (now !== was) findings.regressions.push(`${fact}: was ${was}, now ${now ?? "(missing)"}`);
  }
  for (const pod of before.pods) {
    const same = after.pods.find((p) => p.uid === pod.uid);
    if (same !== undefined) {
      restartFindings(pod, same, findings);
      continue;
    }
    const successors = after.pods.filter((p) => p.owner === pod.owner && !before.pods.some((b) => b.uid === p.uid));
    findings.notes.push(
      `pod ${pod.name} (${pod.owner}) was replaced by ${successors.map((p) => p.name).join(", ") || "nothing"}`,
    );
  }
  return findings;
}

/** The units a measurement may have; each has a floor (UNIT_FLOORS). */
export const UNITS = ["ms", "s", "req/s", "requests"] as const;
export type Unit = (typeof UNITS)[number];

/** A figure a scenario measured (helpers/framework/report.ts measure), keyed by scenario and name. */
export interface Measurement {
  scenario: string;
  name: string;
  value: number;
  unit: Unit;
  /**
   * The natural range [min, max] (in `unit`) of a healthy cluster, as its own timers make it (a sync period,
   * a probe's settings); absent: none declared, the factor rule alone.
   */
  expected?: Range | undefined;
}

/** [min, max], min <= max. */
export type Range = readonly [number, number];

/** `value` as a Range when it is one (two finite numbers, min <= max), else undefined. */
export function asRange(value: unknown): Range | undefined {
  if (!Array.isArray(value) || value.length !== 2) return undefined;
  const [min, max] = value as unknown[];
  return typeof min === "number" &&
    typeof max === "number" &&
    Number.isFinite(min) &&
    Number.isFinite(max) &&
    min <= max
    ? [min, max]
    : undefined;
}

/**
 * Below its unit's floor a value is noise for a ratio: 3 ms against 40 ms is a factor of 13 but says nothing.
 * Each value is raised to the floor before the factor is taken, and two values both below it are not compared.
 */
export const UNIT_FLOORS: Record<Unit, number> = { ms: 100, s: 0.1, "req/s": 1, requests: 1 };

/** The floor of a factor: the unit's, or the natural range's lower bound when that is higher. */
const floorOf = (unit: Unit, expected: Range | undefined): number => Math.max(UNIT_FLOORS[unit], expected?.[0] ?? 0);

/** The measurements of a measurements.jsonl (one JSON object a line); lines that are not one are skipped. */
export function measurementsFromJsonl(text: string): Measurement[] {
  const found = new Map<string, Measurement>();
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    let m: Partial<Measurement>;
    try {
      m = JSON.parse(line) as Partial<Measurement>;
    } catch {
      continue;
    }
    const valid =
      typeof m.scenario === "string" &&
      typeof m.name === "string" &&
      typeof m.value === "number" &&
      Number.isFinite(m.value) &&
      UNITS.includes(m.unit as Unit);
    if (!valid) continue;
    const { expected, ...measurement } = m as Measurement;
    const range = asRange(expected);
    // a retried test measures again: its last value is the one of its verdict
    found.set(`${m.scenario} > ${m.name}`, range === undefined ? measurement : { ...measurement, expected: range });
  }
  return [...found.values()];
}

export interface MeasurementChange {
  scenario: string;
  name: string;
  unit: Unit;
  before: number;
  /** undefined: not measured in this run. */
  after: number | undefined;
  /** The natural range that was applied (this run's, else the baseline's); undefined: none declared. */
  expected: Range | undefined;
  /** now / baseline, each raised to the floor; undefined when not measured or both below the floor. */
  factor: number | undefined;
  /** factor > F or factor < 1/F, and the new value outside the natural range. */
  drifted: boolean;
}

/**
 * Each baseline measurement with this run's value and factor; `drift` is F (> 1) of `--drift F`. The rule is
 * the file header's: a new value inside the natural range never drifts; otherwise the factor decides, with
 * each value raised to the unit's floor or the range's lower bound, whichever is higher.
 */
export function compareMeasurements(before: Measurement[], after: Measurement[], drift: number): MeasurementChange[] {
  return before.map((b) => {
    const a = after.find((m) => m.scenario === b.scenario && m.name === b.name && m.unit === b.unit);
    const now = a?.value;
    const expected = asRange(a?.expected) ?? asRange(b.expected);
    const floor = floorOf(b.unit, expected);
    const factor =
      now === undefined || (Math.abs(now) < floor && Math.abs(b.value) < floor)
        ? undefined
        : Math.max(Math.abs(now), floor) / Math.max(Math.abs(b.value), floor);
    const natural = expected !== undefined && now !== undefined && expected[0] <= now && now <= expected[1];
    const drifted = factor !== undefined && (factor > drift || factor < 1 / drift) && !natural;
    return { scenario: b.scenario, name: b.name, unit: b.unit, before: b.value, after: now, expected, factor, drifted };
  });
}

function showMeasurement(c: MeasurementChange): string {
  const value = (v: number): string => `${Number(v.toPrecision(4))} ${c.unit}`;
  const now = c.after === undefined ? "not measured" : value(c.after);
  const factor =
    c.factor === undefined
      ? c.after === undefined
        ? ""
        : ` (below the ${value(floorOf(c.unit, c.expected))} floor)`
      : ` x${c.factor.toFixed(2)}`;
  const range =
    c.expected === undefined ? "" : ` [natural ${Number(c.expected[0].toPrecision(4))}-${value(c.expected[1])}]`;
  return `${c.scenario} > ${c.name}: ${value(c.before)} -> ${now}${factor}${range}${c.drifted ? " DRIFT" : ""}`;
}

/** What a compare found beyond the canaries and the verdicts, and how it is judged. */
export interface CompareExtras {
  /** Why the runner's results cannot be judged (runnerFailure); the compare fails. */
  runner?: string | undefined;
  measurements: MeasurementChange[];
  /** `--drift F`, for the report. */
  drift: number;
  /** `--drift-fails`: a drift is a regression. */
  driftFails: boolean;
}

/** The number of regressions of a compare: canaries, verdicts, missing scenarios, drifts with --drift-fails. */
export function countRegressions(canaries: CanaryFindings, verdicts: VerdictChanges, extras: CompareExtras): number {
  const drifts = extras.driftFails ? extras.measurements.filter((m) => m.drifted).length : 0;
  const runner = extras.runner === undefined ? 0 : 1;
  return canaries.regressions.length + verdicts.regressed.length + verdicts.missing.length + drifts + runner;
}

/** The human-readable compare report (also written next to the results as compare.txt). */
export function showComparison(
  canaries: CanaryFindings,
  verdicts: VerdictChanges,
  extras: CompareExtras = { measurements: [], drift: 2, driftFails: false },
): string {
  const lines: string[] = [];
  const section = (title: string, items: string[]): void => {
    if (items.length === 0) return;
    lines.push(`${title}:`, ...items.map((item) => `  ${item}`));
  };
  const change = (c: { scenario: string; before: Verdict; after: Verdict }): string =>
    `${c.scenario}: ${c.before} -> ${c.after}`;
  section("runner failed", extras.runner === undefined ? [] : [extras.runner]);
  section("canary regressions", canaries.regressions);
  section("canary notes", canaries.notes);
  section("regressed (pass -> fail/skip)", verdicts.regressed.map(change));
  section(
    "missing (in the baseline, selected, no verdict now)",
    verdicts.missing.map((c) => `${c.scenario}: was ${c.before}`),
  );
  section("fixed (fail/skip -> pass)", verdicts.fixed.map(change));
  section("changed", verdicts.changed.map(change));
  section(
    "new",
    verdicts.added.map((c) => `${c.scenario}: ${c.after}`),
  );
  section(
    "not selected (left out by --suite/--tag, not judged)",
    verdicts.notSelected.map((c) => `${c.scenario}: was ${c.before}`),
  );
  const judged = extras.driftFails ? "a regression (--drift-fails)" : "reported only";
  section(
    `measurements (baseline -> now, factor; DRIFT beyond x${extras.drift} or x1/${extras.drift} outside the natural range: ${judged})`,
    extras.measurements.map(showMeasurement),
  );
  const regressions = countRegressions(canaries, verdicts, extras);
  lines.push(
    regressions === 0
      ? "compare: no regression (canaries intact, every selected scenario ran, none went from pass to fail)"
      : `compare: ${regressions} regression(s)`,
  );
  return lines.join("\n");
}
