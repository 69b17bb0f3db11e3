/**
 * What a container sees of the limits the node put on it: its cgroup's memory limit, cpu quota and weight,
 * its cpu accounting, and the oom_score_adj of its main process, read with exec from inside, on cgroup v1
 * and v2 alike. One script prints `key value` lines; parseCgroupView turns them into numbers.
 *
 *   v1: /sys/fs/cgroup/memory/memory.limit_in_bytes, cpu/cpu.cfs_quota_us + cpu.cfs_period_us, cpu/cpu.shares,
 *       cpuacct/cpuacct.usage (ns), cpu/cpu.stat (nr_periods, nr_throttled)
 *   v2: /sys/fs/cgroup/memory.max, cpu.max ("<quota|max> <period>"), cpu.weight, cpu.stat (usage_usec,
 *       nr_periods, nr_throttled)
 */
import type { TestNamespace } from "../framework/namespace.ts";
import { exec } from "./exec.ts";

export interface CgroupView {
  version: 1 | 2;
  /** Bytes; null when unlimited. */
  memoryLimitBytes: number | null;
  /** The cpu limit the quota enforces, in millicores; null when there is no quota. */
  cpuLimitMillis: number | null;
  cpuQuotaUs: number | null;
  cpuPeriodUs: number;
  /** `cpu.shares 102` (v1) or `cpu.weight 4` (v2): the cpu request as the kernel sees it. */
  cpuWeight: string;
  /** Cumulative cpu time used, microseconds. */
  usageUs: number;
  /** Enforcement periods in which the cgroup was runnable, and those in which it hit its quota. */
  periods: number;
  throttled: number;
  /** /proc/1/oom_score_adj: the container's main process. */
  oomScoreAdj: number;
  /** The kernel's uptime when the figures were read (/proc/uptime, 10 ms resolution): when, on one clock. */
  uptimeMs: number;
}

/** The POSIX sh script behind cgroupView (busybox or coreutils). */
export const CGROUP_VIEW_SCRIPT = [
  "if [ -f /sys/fs/cgroup/cgroup.controllers ]; then",
  "  echo version 2",
  '  echo "memory.max $(cat /sys/fs/cgroup/memory.max)"',
  '  echo "cpu.max $(cat /sys/fs/cgroup/cpu.max)"',
  '  echo "cpu.weight $(cat /sys/fs/cgroup/cpu.weight)"',
  "  sed 's/^/cpu.stat /' /sys/fs/cgroup/cpu.stat",
  "else",
  "  echo version 1",
  '  echo "memory.limit_in_bytes $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes)"',
  '  echo "cpu.cfs_quota_us $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us)"',
  '  echo "cpu.cfs_period_us $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)"',
  '  echo "cpu.shares $(cat /sys/fs/cgroup/cpu/cpu.shares)"',
  '  echo "cpuacct.usage $(cat /sys/fs/cgroup/cpuacct/cpuacct.usage)"',
  "  sed 's/^/cpu.stat /' /sys/fs/cgroup/cpu/cpu.stat",
  "fi",
  'echo "oom_score_adj $(cat /proc/1/oom_score_adj)"',
  'echo "uptime $(cut -d" " -f1 /proc/uptime)"',
].join("\n");

/** v1 writes "unlimited" as the largest page-aligned 64-bit value (9223372036854771712). */
const V1_UNLIMITED = 2 ** 62;

function integer(raw: string | undefined, key: string): number {
  const value = Number(raw);
  if (raw === undefined || raw === "" || !Number.isFinite(value)) throw new Error(`cgroup view: ${key} is "${raw}"`);
  return value;
}

/** `key value` lines into a map; `cpu.stat name value` lines become `cpu.stat.name`. */
function readKeys(output: string): (key: string) => string | undefined {
  const values = new Map<string, string>();
  for (const line of output.split("\n")) {
    const [key, ...rest] = line.trim().split(/\s+/);
    if (!key) continue;
    if (key === "cpu.stat" && rest[0]) values.set(`cpu.stat.${rest[0]}`, rest[1] ?? "");
    else values.set(key, rest.join(" "));
  }
  return (key) => values.get(key);
}

type Limits = Omit<CgroupView, "version" | "periods" | "throttled" | "oomScoreAdj" | "uptimeMs">;

function millis(quotaUs: number | null, periodUs: number): number | null {
  return quotaUs === null ? null : Math.round((quotaUs * 1000) / periodUs);
}

function v2Limits(get: (key: string) => string | undefined): Limits {
  const memoryMax = get("memory.max");
  const [quota, period] = (get("cpu.max") ?? "").split(/\s+/);
  const cpuPeriodUs = integer(period, "cpu.max period");
  const cpuQuotaUs = quota === "max" ? null : integer(quota, "cpu.max quota");
  return {
    memoryLimitBytes: memoryMax === "max" ? null : integer(memoryMax, "memory.max"),
    cpuQuotaUs,
    cpuPeriodUs,
    cpuLimitMillis: millis(cpuQuotaUs, cpuPeriodUs),
    cpuWeight: `cpu.weight ${integer(get("cpu.weight"), "cpu.weight")}`,
    usageUs: integer(get("cpu.stat.usage_usec"), "usage_usec"),
  };
}

function v1Limits(get: (key: string) => string | undefined): Limits {
  const limit = integer(get("memory.limit_in_bytes"), "memory.limit_in_bytes");
  const quota = integer(get("cpu.cfs_quota_us"), "cpu.cfs_quota_us");
  const cpuPeriodUs = integer(get("cpu.cfs_period_us"), "cpu.cfs_period_us");
  const cpuQuotaUs = quota < 0 ? null : quota;
  return {
    memoryLimitBytes: limit >= V1_UNLIMITED ? null : limit,
    cpuQuotaUs,
    cpuPeriodUs,
    cpuLimitMillis: millis(cpuQuotaUs, cpuPeriodUs),
    cpuWeight: `cpu.shares ${integer(get("cpu.shares"), "cpu.shares")}`,
    usageUs: Math.floor(integer(get("cpuacct.usage"), "cpuacct.usage") / 1000),
  };
}

/** Parses the output of CGROUP_VIEW_SCRIPT; throws naming the key that is missing or not a number. */
export function parseCgroupView(output: string): CgroupView {
  const get = readKeys(output);
  const version = integer(get("version"), "version");
  if (version !== 1 && version !== 2) throw new Error(`cgroup view: unknown cgroup version ${version}`);
  const limits = version === 2 ? v2Limits(get) : v1Limits(get);
  return {
    version,
    ...limits,
    periods: integer(get("cpu.stat.nr_periods"), "nr_periods"),
    throttled: integer(get("cpu.stat.nr_throttled"), "nr_throttled"),
    oomScoreAdj: integer(get("oom_score_adj"), "oom_score_adj"),
    uptimeMs: Math.round(integer(get("uptime"), "uptime") * 1000),
  };
}

/** The cgroup view of one container (default: the pod's first), read from inside it. */
export async function cgroupView(ns: TestNamespace, pod: string, container?: string): Promise<CgroupView> {
  const result = await exec(ns, pod, ["sh", "-c", CGROUP_VIEW_SCRIPT], { container });
  if (result.exitCode !== 0) {
    const where = `${ns.name}/${pod}${container ? `/${container}` : ""}`;
    throw new Error(`in ${where}, the cgroup view script exited ${result.exitCode}: ${result.stderr.trim()}`);
  }
  return parseCgroupView(result.stdout);
}

/** What two readings of one container's cgroup say about the time between them. */
export interface CpuWindow {
  /** Wall time between the readings (the kernel's uptime), ms. */
  wallMs: number;
  /** CFS periods the wall time spans, and those the cgroup was runnable in (counted) and throttled in. */
  wallPeriods: number;
  periods: number;
  throttled: number;
  /** periods / wallPeriods: near 1 for a container busy all along; an idle one counts only what ran in it. */
  runnableShare: number;
  /** Cpu used over the wall time, millicores (not over the counted periods: an idle container's few
   * counted periods are the busy moments of whatever ran in it, e.g. the exec that read these figures). */
  usedMillis: number;
}

/** The window between two readings of the same cgroup; throws when they are not in order. */
export function cpuWindow(first: CgroupView, last: CgroupView): CpuWindow {
  const wallMs = last.uptimeMs - first.uptimeMs;
  if (!(wallMs > 0))
    throw new Error(`cpu window: the second reading is not later (uptime ${first.uptimeMs} → ${last.uptimeMs} ms)`);
  const wallPeriods = (wallMs * 1000) / last.cpuPeriodUs;
  const periods = last.periods - first.periods;
  return {
    wallMs,
    wallPeriods,
    periods,
    throttled: last.throttled - first.throttled,
    runnableShare: periods / wallPeriods,
    usedMillis: Math.round((last.usageUs - first.usageUs) / wallMs),
  };
}
