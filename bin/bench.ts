/**
 * `npm run bench [-- --context CONTEXT]`: how fast the suite itself is, on the local test bed. A benchmark,
 * not a timed test: it prints figures and writes them to reports/bench.json, and fails only when a run fails.
 *
 *   1. the harness suite alone (one scenario that only receives its namespace): overhead per test, end to end
 *   2. every suite in one run: its wall time beside its longest scenario; each suite's wall time beside the
 *      cluster timers its longest scenario waits on (TIMERS below); the probers' rate and largest gap during
 *      the rollouts (cluster and host), from the zero-downtime scenarios' figures
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const CLI = join(ROOT, "bin", "k8s-ops-conformance.ts");

/**
 * What each suite's longest scenario waits on in the cluster, in seconds: the floor no harness can beat.
 * Probe periods × thresholds, preStop delays and the kubelet's sync period, from the manifests.
 */
export const TIMERS: Record<string, { seconds: number; what: string }> = {
  harness: { seconds: 0, what: "nothing: the namespace only" },
  smoke: { seconds: 1, what: "readiness period 1 s" },
  rollouts: {
    seconds: 25,
    what: "3 rollouts × (3 pods × readiness period 1 s + the last old pod's preStop 5 s) + first readiness 1 s",
  },
  "production-app": {
    seconds: 90,
    what: "ConfigMap to volume: kubelet sync period 60 s (+ cache) + hold 15 s + restart: 2 waves × readiness 1 s, old pods' grace",
  },
  config: { seconds: 60, what: "ConfigMap update to a mounted volume: kubelet sync period 60 s" },
  probes: { seconds: 30, what: "startup budget failureThreshold 30 × period 1 s (recommended combination)" },
  storage: {
    seconds: 2,
    what: "grace periods of 1 s (pods deleted or evicted); the rest is pod starts and local-path's helper pods, no timer",
  },
  resources: {
    seconds: 50,
    what: "eviction: kubelet housekeeping 10 s × 2 passes + eviction-pressure-transition-period 30 s",
  },
};

interface Result {
  name: string;
  file: string;
  status: string;
  start: number;
  stop: number;
}

function runSuites(context: string, reportsDir: string, suites: string[]): { wallMs: number; ok: boolean } {
  const args = [CLI, "run", "--context", context, "--no-cluster-up", ...suites.flatMap((s) => ["--suite", s])];
  const started = performance.now();
  const run = spawnSync(process.execPath, args, {
    cwd: ROOT,
    stdio: "inherit",
    env: { ...process.env, KOC_REPORTS_DIR: reportsDir },
  });
  return { wallMs: performance.now() - started, ok: run.status === 0 };
}

/** Every scenario of a run, from its Allure results (start and stop are epoch ms). */
function results(reportsDir: string): Result[] {
  const dir = join(ROOT, reportsDir, "allure-results");
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith("-result.json"))
    .map((f) => JSON.parse(readFileSync(join(dir, f), "utf8")))
    .map((r) => ({
      name: String(r.name),
      // fullName is `<project name>:<file>#<title>`
      file:
        String(r.fullName ?? "")
          .replace(/^[^:#]*:/, "")
          .split("#")[0] ?? "",
      status: String(r.status),
      start: Number(r.start),
      stop: Number(r.stop),
    }));
}

const suiteOf = (file: string): string => file.match(/suites\/([^/]+)\//)?.[1] ?? "?";
const seconds = (ms: number): number => Math.round(ms / 100) / 10;
const ratio = (a: number, b: number): number | null => (b > 0 ? Math.round((a / b) * 100) / 100 : null);

function proberFigures(reportsDir: string): Record<string, unknown>[] {
  const file = join(ROOT, reportsDir, "artifacts", "prober-figures.jsonl");
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

function main(): number {
  const at = process.argv.indexOf("--context");
  const context = at >= 0 ? (process.argv[at + 1] ?? "") : "kind-k8s-ops-conformance";

  const harness = runSuites(context, "reports/bench/harness", ["harness"]);
  const [yardstick] = results("reports/bench/harness");
  const full = runSuites(context, "reports/bench/full", []);
  const scenarios = results("reports/bench/full");
  const longest = scenarios.reduce<Result | undefined>(
    (a, r) => (a === undefined || r.stop - r.start > a.stop - a.start ? r : a),
    undefined,
  );
  const suites = [...new Set(scenarios.map((r) => suiteOf(r.file)))].sort().map((suite) => {
    const mine = scenarios.filter((r) => suiteOf(r.file) === suite);
    const wallMs = Math.max(...mine.map((r) => r.stop)) - Math.min(...mine.map((r) => r.start));
    const timers = TIMERS[suite];
    return {
      suite,
      scenarios: mine.length,
      wallSeconds: seconds(wallMs),
      timerSeconds: timers?.seconds ?? null,
      timers: timers?.what ?? "not estimated",
      wallPerTimers: timers ? ratio(wallMs / 1000, timers.seconds) : null,
    };
  });
  const probers = proberFigures("reports/bench/full").filter((p) => String(p.scenario).includes("set image"));
  const report = {
    context,
    at: new Date().toISOString(),
    probers,
    harness: {
      cliWallSeconds: seconds(harness.wallMs),
      scenarioSeconds: yardstick ? seconds(yardstick.stop - yardstick.start) : null,
    },
    suites,
    full: {
      ok: full.ok,
      wallSeconds: seconds(full.wallMs),
      scenarios: scenarios.length,
      longest: longest ? { name: longest.name, seconds: seconds(longest.stop - longest.start) } : null,
      wallPerLongest: longest ? ratio(full.wallMs, longest.stop - longest.start) : null,
    },
  };
  mkdirSync(join(ROOT, "reports"), { recursive: true });
  writeFileSync(join(ROOT, "reports", "bench.json"), `${JSON.stringify(report, null, 2)}\n`);
  console.log("\nbench (reports/bench.json):");
  for (const p of probers)
    console.log(
      `  prober ${p.source}: ${p.rate}/s, largest gap ${p.maxGapMs} ms over ${seconds(Number(p.windowMs))} s`,
    );
  console.log(
    `  harness overhead per test: ${report.harness.scenarioSeconds} s in the scenario, ${report.harness.cliWallSeconds} s for the whole CLI run`,
  );
  for (const s of suites)
    console.log(
      `  suite ${s.suite}: ${s.wallSeconds} s wall, cluster timers ${s.timerSeconds ?? "?"} s (${s.timers}), ratio ${s.wallPerTimers ?? "-"}`,
    );
  console.log(
    `  full run: ${report.full.wallSeconds} s, longest scenario ${report.full.longest?.seconds} s (${report.full.longest?.name}), ratio ${report.full.wallPerLongest}`,
  );
  return harness.ok && full.ok ? 0 : 1;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = main();
