/**
 * Upgrade acceptance, the pure part: the baseline file's format, per-scenario verdicts read from the JUnit
 * XML, and the comparison of a baseline with what is seen after the upgrade (canaries and verdicts).
 * The cluster part (deploying and reading the canaries) is bin/canaries.ts.
 *
 * The baseline file (JSON, `format: 1`):
 *   createdAt, context, server, serverVersion, runId   where and when the baseline was taken
 *   suites, tags                                       the selection; compare reuses it unless given its own
 *   verdicts      { "<file> > <describe> > <test>": "passed" | "failed" | "skipped" }
 *   canaries      CanarySnapshot: identities (must be equal afterwards), pods (restart counts), prober counts
 */
import { readFileSync } from "node:fs";

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
  /** The prober's counts since its start, and its pod (a new pod restarts the counts). */
  prober: { pod: string; ok: number; failed: number };
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
  return data as Baseline;
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
  gone: Array<{ scenario: string; before: Verdict }>;
}

export function compareVerdicts(before: Record<string, Verdict>, after: Record<string, Verdict>): VerdictChanges {
  const changes: VerdictChanges = { regressed: [], fixed: [], changed: [], added: [], gone: [] };
  for (const [scenario, was] of Object.entries(before)) {
    const now = after[scenario];
    if (now === undefined) changes.gone.push({ scenario, before: was });
    else if (now === was) continue;
    else if (was === "passed") changes.regressed.push({ scenario, before: was, after: now });
    else if (now === "passed") changes.fixed.push({ scenario, before: was, after: now });
    else changes.changed.push({ scenario, before: was, after: now });
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

function proberNote(before: CanarySnapshot["prober"], after: CanarySnapshot["prober"]): string {
  if (after.pod !== before.pod) return `prober: its pod was replaced (${before.pod} -> ${after.pod}), counts restarted`;
  const ok = after.ok - before.ok;
  const failed = after.failed - before.failed;
  return `prober: ${ok} request(s) answered, ${failed} failed since the baseline (each failure is in its pod's log)`;
}

/** Compares the canaries after the upgrade with the baseline's. */
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
  findings.notes.push(proberNote(before.prober, after.prober));
  return findings;
}

/** The human-readable compare report (also written next to the results as compare.txt). */
export function showComparison(canaries: CanaryFindings, verdicts: VerdictChanges): string {
  const lines: string[] = [];
  const section = (title: string, items: string[]): void => {
    if (items.length === 0) return;
    lines.push(`${title}:`, ...items.map((item) => `  ${item}`));
  };
  section("canary regressions", canaries.regressions);
  section("canary notes", canaries.notes);
  section(
    "regressed (pass -> fail/skip)",
    verdicts.regressed.map((c) => `${c.scenario}: ${c.before} -> ${c.after}`),
  );
  section(
    "fixed (fail/skip -> pass)",
    verdicts.fixed.map((c) => `${c.scenario}: ${c.before} -> ${c.after}`),
  );
  section(
    "changed",
    verdicts.changed.map((c) => `${c.scenario}: ${c.before} -> ${c.after}`),
  );
  section(
    "new",
    verdicts.added.map((c) => `${c.scenario}: ${c.after}`),
  );
  section(
    "gone",
    verdicts.gone.map((c) => `${c.scenario}: was ${c.before}`),
  );
  const regressions = canaries.regressions.length + verdicts.regressed.length;
  lines.push(
    regressions === 0
      ? "compare: no regression (canaries intact, no scenario went from pass to fail)"
      : `compare: ${regressions} regression(s)`,
  );
  return lines.join("\n");
}
