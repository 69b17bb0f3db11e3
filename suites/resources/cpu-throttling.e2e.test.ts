/**
 * Testname: CPU limits throttle, they do not kill
 * Description: A container that spins on one core under a 100m cpu limit MUST keep running (restartCount 0,
 *   never terminated) while the kernel throttles it: over at least 50 CFS periods its cgroup's nr_throttled
 *   MUST grow (at least 20 throttled periods), the container MUST have been runnable in at least 60% of the
 *   periods the wall time between the readings spans (busy all along: an idle container counts only the
 *   periods something ran in it), and its cpu usage over that wall time MUST stay near the limit: at most
 *   130% of it (CFS may overrun a period slightly), at least 30%. The wall time is the kernel's uptime read
 *   with the figures. Read from the cgroup inside the container (cpu.stat and cpuacct.usage on cgroup v1,
 *   cpu.stat on v2), so the execs that read it run in it too: a sleeping container read once a second showed
 *   21 of 76 periods throttled, its usage 43m over those periods, 25% of the wall time's periods and 11m
 *   over it; the runnable share and the usage over the wall time tell it from a busy one (helpers/traffic/
 *   cgroup-view.ts cpuWindow). Usage and throttling figures are reported.
 * Not covered: cpu requests as shares/weight under contention, CFS burst, multi-core limits.
 * Serial or disruptive: no; one pod in the test's namespace using 0.1 core for a few seconds.
 * On purpose: KOC_RESOURCES_SABOTAGE=1 runs `sleep` instead of the busy loop. On a loaded test bed the
 *   readings' own execs were throttled often enough to pass the wait (21 of 76), and the test passed: that is
 *   why it judges the runnable share and the usage over the wall time; with them it fails on the runnable
 *   share. On a quiet one the wait for throttling times out showing the last cpu.stat seen.
 */

import { describe, expect, podSecurity, test } from "../../helpers/framework/fixtures.ts";
import type { TestNamespace } from "../../helpers/framework/namespace.ts";
import { capability, log, step } from "../../helpers/framework/report.ts";
import { T } from "../../helpers/framework/timeouts.ts";
import { waitFor } from "../../helpers/framework/wait.ts";
import { apply } from "../../helpers/manifests/apply.ts";
import { containerRunning, containerStatus, showContainer } from "../../helpers/observe/probe-evidence.ts";
import { resourcesSabotage } from "../../helpers/observe/qos.ts";
import { type CgroupView, cgroupView, cpuWindow } from "../../helpers/traffic/cgroup-view.ts";

podSecurity("baseline"); // root images (busybox), no host access

const SABOTAGE = resourcesSabotage();
const LIMIT_MILLIS = 100;
const MIN_PERIODS = 50;
const MIN_THROTTLED = 20;
/** The share of the wall time's periods a container busy all along is runnable in (1 when never starved). */
const MIN_RUNNABLE_SHARE = 0.6;

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

    const w = cpuWindow(first, last);
    log(
      `cgroup v${last.version}: ${w.throttled} of ${w.periods} periods throttled, runnable in ${w.periods} of the ` +
        `${Math.round(w.wallPeriods)} periods of ${(w.wallMs / 1000).toFixed(1)}s; usage ${w.usedMillis}m over that time (limit ${LIMIT_MILLIS}m)`,
    );

    await step(`assert: busy all along: runnable in at least ${MIN_RUNNABLE_SHARE * 100}% of the periods`, () => {
      expect(
        w.runnableShare,
        `share of the ${Math.round(w.wallPeriods)} periods cpu-burner was runnable in (${showStat(last)})`,
      ).toBeGreaterThanOrEqual(MIN_RUNNABLE_SHARE);
    });
    await step(`assert: usage stays near the limit: ${w.usedMillis}m within 30%..130% of ${LIMIT_MILLIS}m`, () => {
      expect(w.usedMillis, `cpu used by cpu-burner over ${w.wallMs} ms (${showStat(last)})`).toBeLessThanOrEqual(
        LIMIT_MILLIS * 1.3,
      );
      expect(w.usedMillis, `cpu used by cpu-burner over ${w.wallMs} ms (${showStat(last)})`).toBeGreaterThanOrEqual(
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
