/**
 * Testname: CPU limits throttle, they do not kill
 * Description: A container that spins on one core under a 100m cpu limit MUST keep running (restartCount 0,
 *   never terminated) while the kernel throttles it: over at least 50 CFS periods its cgroup's nr_throttled
 *   MUST grow (at least 20 throttled periods), and its cpu usage over those periods MUST stay near the
 *   limit: at most 130% of it (CFS may overrun a period slightly), at least 30% (it really was busy, so the
 *   throttling is not a reading of an idle container). Read from the cgroup inside the container (cpu.stat
 *   and cpuacct.usage on cgroup v1, cpu.stat on v2). Usage and throttling figures are reported.
 * Not covered: cpu requests as shares/weight under contention, CFS burst, multi-core limits.
 * Serial or disruptive: no; one pod in the test's namespace using 0.1 core for a few seconds.
 * On purpose: KOC_RESOURCES_SABOTAGE=1 runs `sleep` instead of the busy loop: no period is throttled, and
 *   the wait for throttling times out showing the last cpu.stat seen.
 */

import { describe, expect, podSecurity, test } from "../../helpers/framework/fixtures.ts";
import type { TestNamespace } from "../../helpers/framework/namespace.ts";
import { capability, log, step } from "../../helpers/framework/report.ts";
import { T } from "../../helpers/framework/timeouts.ts";
import { waitFor } from "../../helpers/framework/wait.ts";
import { apply } from "../../helpers/manifests/apply.ts";
import { containerRunning, containerStatus, showContainer } from "../../helpers/observe/probe-evidence.ts";
import { resourcesSabotage } from "../../helpers/observe/qos.ts";
import { type CgroupView, cgroupView } from "../../helpers/traffic/cgroup-view.ts";

podSecurity("baseline"); // root images (busybox), no host access

const SABOTAGE = resourcesSabotage();
const LIMIT_MILLIS = 100;
const MIN_PERIODS = 50;
const MIN_THROTTLED = 20;

function showStat(v: CgroupView): string {
  return `nr_periods ${v.periods}, nr_throttled ${v.throttled}, usage ${(v.usageUs / 1e6).toFixed(2)}s`;
}

/** The container's cgroup now; an exec answer lost on a busy node counts as no new reading, not as an answer. */
async function latest(ns: TestNamespace, previous: CgroupView): Promise<CgroupView> {
  try {
    return await cgroupView(ns, "cpu-burner");
  } catch (error) {
    // a lost exec answer (timeout, or exit 0 with no output at all) on a loaded node: read again next poll
    if ((error as Error).name === "ExecTimeoutError" || /version is "undefined"/.test(String(error))) return previous;
    throw error;
  }
}

describe.concurrent("CPU limits", () => {
  test("should throttle a container busy past its cpu limit, not kill it", async ({ ns }) => {
    await capability("Resources", "CPU limits");
    const work = SABOTAGE ? "sleep 3600" : "while :; do :; done";

    const first = await step(`arrange: a pod spinning on one core under a ${LIMIT_MILLIS}m cpu limit`, async () => {
      await apply(ns, "resources/cpu-throttling", { work });
      await waitFor(
        `container ${ns.name}/cpu-burner/burner is running`,
        containerRunning(ns, "cpu-burner", "burner"),
        T.podStart,
        { signal: ns.signal },
      );
      return cgroupView(ns, "cpu-burner");
    });
    expect(first.cpuLimitMillis, `cpu quota of cpu-burner (cgroup v${first.version})`).toBe(LIMIT_MILLIS);

    const last = await step(
      `act: watch cpu.stat until ${MIN_PERIODS} periods passed with ${MIN_THROTTLED} throttled`,
      () =>
        waitFor(
          `cpu-burner's cgroup shows >= ${MIN_PERIODS} periods and >= ${MIN_THROTTLED} throttled since ${showStat(first)}`,
          {
            observe: () => latest(ns, first),
            ok: (v) => v.periods - first.periods >= MIN_PERIODS && v.throttled - first.throttled >= MIN_THROTTLED,
            show: showStat,
          },
          T.cpuThrottleEvidence,
          { interval: 1000, signal: ns.signal },
        ),
    );

    const periods = last.periods - first.periods;
    const throttled = last.throttled - first.throttled;
    const usedMillis = Math.round(((last.usageUs - first.usageUs) * 1000) / (periods * last.cpuPeriodUs));
    log(
      `cgroup v${last.version}: ${throttled} of ${periods} periods throttled; usage ${usedMillis}m over those periods (limit ${LIMIT_MILLIS}m)`,
    );

    await step(`assert: usage stays near the limit: ${usedMillis}m within 30%..130% of ${LIMIT_MILLIS}m`, () => {
      expect(usedMillis, `cpu used per period by cpu-burner (${showStat(last)})`).toBeLessThanOrEqual(
        LIMIT_MILLIS * 1.3,
      );
      expect(usedMillis, `cpu used per period by cpu-burner (${showStat(last)})`).toBeGreaterThanOrEqual(
        LIMIT_MILLIS * 0.3,
      );
    });

    await step("assert: the container is still running and was never restarted", async () => {
      const pod = await ns.kube.core.readNamespacedPod({ name: "cpu-burner", namespace: ns.name });
      const status = containerStatus(pod, "burner");
      expect(status?.restartCount, `restartCount of cpu-burner/burner: ${showContainer(status)}`).toBe(0);
      expect(status?.state?.running, `state of cpu-burner/burner: ${showContainer(status)}`).toBeDefined();
    });
  });
});
