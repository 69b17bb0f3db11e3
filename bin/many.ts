/**
 * `run --context a --context b`: each context in turn, from here, each in its own child run with its own
 * reports folder (`<reports-dir>/<context>/`), then one table. Pure parts: the folder names, the table and
 * the combined exit code.
 *
 * The combined exit code is the worst of the runs', worst first:
 *   130/143  interrupted: the remaining contexts were not run
 *   other    a code the CLI does not document (a crash)
 *   2        usage or configuration: the command itself is wrong, likely for every context
 *   3        a cluster unreachable or refusing the credentials: nothing was judged there
 *   4        an identity lacking permissions: nothing was judged there
 *   1        a cluster judged and found wrong (or a regression)
 *   0        every cluster passed
 * A run that judged nothing ranks above one that failed: its verdict is unknown, and an unknown must not
 * hide behind a known failure in a nightly's single exit code.
 */
import { EXIT } from "./args.ts";
import type { Counts } from "./summary.ts";

const SEVERITY: readonly number[] = [
  EXIT.passed,
  EXIT.failed,
  EXIT.forbidden,
  EXIT.unreachable,
  EXIT.usage,
  // undocumented codes rank here (see worstExit)
  EXIT.terminated,
  EXIT.interrupted,
];

function rank(code: number): number {
  const known = SEVERITY.indexOf(code);
  return known >= 0 ? known : SEVERITY.indexOf(EXIT.usage) + 0.5;
}

/** The worst of the runs' exit codes (order above); 0 for none. */
export function worstExit(codes: readonly number[]): number {
  return codes.reduce<number>((worst, code) => (rank(code) > rank(worst) ? code : worst), EXIT.passed);
}

/** A context name as a folder name: `arn:aws:eks:eu-west-1:1:cluster/prod` → `arn_aws_eks_eu-west-1_1_cluster_prod`. */
export function contextFolder(context: string): string {
  return context.replace(/[^A-Za-z0-9._-]/g, "_").replace(/^\.+/, "_") || "_";
}

/** `before-{context}.json` for context `prod` → `before-prod.json`. */
export function perContext(template: string, context: string): string {
  return template.replaceAll("{context}", contextFolder(context));
}

export interface ContextResult {
  context: string;
  /** The server's version, as the run's report recorded it; undefined when the run did not get that far. */
  kubernetes: string | undefined;
  counts: Counts | undefined;
  wallMs: number;
  /** With --compare: the run's regressions; undefined without a compare or when none was written. */
  regressions: number | undefined;
  exitCode: number;
}

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
}

/** The closing table, one row per context, columns aligned; the regressions column only when comparing. */
export function contextTable(results: readonly ContextResult[], comparing: boolean): string {
  const header = [
    "context",
    "Kubernetes",
    "passed",
    "failed",
    "skipped",
    "wall time",
    ...(comparing ? ["regressions"] : []),
    "exit",
  ];
  const rows = results.map((r) => [
    r.context,
    r.kubernetes ?? "?",
    r.counts ? String(r.counts.passed) : "-",
    r.counts ? String(r.counts.failed) : "-",
    r.counts ? String(r.counts.skipped) : "-",
    duration(r.wallMs),
    ...(comparing ? [r.regressions === undefined ? "-" : String(r.regressions)] : []),
    String(r.exitCode),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** The server version from the run's Allure environment (kubernetesVersion=...). */
export function kubernetesFromEnvironment(properties: string): string | undefined {
  return /^kubernetesVersion=(.*)$/m.exec(properties)?.[1]?.trim() || undefined;
}

/**
 * The regressions a compare.json counts: its `regressions` (what its exit code followed), or for a file
 * without it, as countRegressions (bin/baseline.ts) counts them: canary regressions, verdicts that regressed,
 * missing scenarios, a failed runner, and drifts when they fail.
 */
export function regressionsFromCompare(json: string): number | undefined {
  try {
    const data = JSON.parse(json) as {
      regressions?: unknown;
      canaries?: { regressions?: unknown[] };
      verdicts?: { regressed?: unknown[]; missing?: unknown[] };
      runner?: unknown;
      measurements?: Array<{ drifted?: unknown }>;
      driftFails?: unknown;
    };
    if (typeof data.regressions === "number") return data.regressions;
    const drifts = data.driftFails === true ? (data.measurements ?? []).filter((m) => m.drifted === true).length : 0;
    return (
      (data.canaries?.regressions?.length ?? 0) +
      (data.verdicts?.regressed?.length ?? 0) +
      (data.verdicts?.missing?.length ?? 0) +
      (data.runner === undefined ? 0 : 1) +
      drifts
    );
  } catch {
    return undefined;
  }
}
