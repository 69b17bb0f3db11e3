/**
 * Testname: Probing container, startup probe budget
 * Description: A slow starter (ready START_S s after it begins) whose startup probe allows failureThreshold 10
 *   × period 1 s MUST NOT be restarted, although its liveness probe kills at the first failure: liveness and
 *   readiness MUST wait for the startup probe. It MUST become Ready no earlier than its start and soon
 *   after it (START_S + 2 periods + kubelet allowance), and stay unrestarted until the startup budget would
 *   have run out. With a start longer than the budget (30 s against 10 × 1 s), the container MUST be
 *   killed and restarted inside failureThreshold × period + timeout + allowance, with Unhealthy "Startup
 *   probe failed" and Killing "failed startup probe" events.
 * Not covered: httpGet/tcp startup probes (the combination scenario uses httpGet), CrashLoopBackOff delays.
 * Serial or disruptive: no; one pod per test in its own namespace.
 * On purpose: KOC_PROBES_SABOTAGE=1 swaps the start times: the protected starter takes 30 s (restarted, never
 *   Ready: timeout) and the other one 6 s (not restarted: timeout).
 */

import { describe, expect, podSecurity, test } from "../../helpers/framework/fixtures.ts";
import type { TestNamespace } from "../../helpers/framework/namespace.ts";
import { capability, step } from "../../helpers/framework/report.ts";
import { T } from "../../helpers/framework/timeouts.ts";
import { holdsFor, waitFor } from "../../helpers/framework/wait.ts";
import { apply } from "../../helpers/manifests/apply.ts";
import { podReady } from "../../helpers/observe/conditions.ts";
import {
  containerRunning,
  containerStatus,
  kubeletAllowanceS,
  probesSabotage,
  probeTiming,
  RestartCounter,
  type RestartWindow,
  restartsOf,
  restartWindow,
  secondsBetween,
} from "../../helpers/observe/probe-evidence.ts";
import { restartedInWindow } from "./restart-evidence.ts";

podSecurity("baseline"); // root images (nginx, busybox), no host access

const SABOTAGE = probesSabotage();
const START_S = 6;
const SLOW_START_S = 30;

/** Applies the slow starter and returns the window in which its startup probe gives up. */
async function startSlowStarter(ns: TestNamespace, startSeconds: number): Promise<RestartWindow> {
  await apply(ns, "probes/startup-budget", { startSeconds: String(startSeconds) });
  const pod = await waitFor(
    `container ${ns.name}/slow-start/app is running`,
    containerRunning(ns, "slow-start", "app"),
    T.podStart,
  );
  return restartWindow(probeTiming(pod, "app", "startupProbe"), { allowanceS: kubeletAllowanceS() });
}

describe.concurrent("Probing container: startup probe", () => {
  test("should *not* be restarted while the startup budget covers a slow start, and be Ready soon after", async ({
    ns,
  }) => {
    await capability("Probes", "Startup probe");
    const counter = new RestartCounter(`container ${ns.name}/slow-start/app`);
    const startS = SABOTAGE ? SLOW_START_S : START_S;
    const budget = await step(`arrange: a pod that starts in ${startS}s, startup budget 10 × 1s`, () =>
      startSlowStarter(ns, startS),
    );

    const pod = await step(`assert: Ready within the startup budget (${budget.explain})`, () =>
      waitFor(`pod ${ns.name}/slow-start is Ready`, podReady(ns, "slow-start"), budget.latestS * 1000, {
        signal: ns.signal,
      }),
    );
    const status = containerStatus(pod, "app");
    const readyAt = pod.status?.conditions?.find((c) => c.type === "Ready")?.lastTransitionTime;
    const readyAfter = secondsBetween(status?.state?.running?.startedAt, readyAt);
    const latest = START_S + 2 + kubeletAllowanceS(); // two readiness periods after the start, plus the allowance
    await step(
      `measured: Ready ${readyAfter}s after the container started (start ${START_S}s, bound ${latest}s)`,
      () => {
        expect(status?.restartCount, `restartCount of ${ns.name}/slow-start/app when Ready`).toBe(0);
        expect(readyAfter, `seconds from container start to Ready of ${ns.name}/slow-start`).toBeGreaterThanOrEqual(
          START_S - 1,
        );
        expect(readyAfter, `seconds from container start to Ready of ${ns.name}/slow-start`).toBeLessThanOrEqual(
          latest,
        );
      },
    );

    const rest = Math.max(1, budget.latestS - readyAfter);
    await step(`assert: not restarted for the rest of the startup budget (${rest}s)`, () =>
      holdsFor(
        `container ${ns.name}/slow-start/app is never restarted`,
        restartsOf(ns, "slow-start", "app", (n) => n === 0, counter),
        rest * 1000,
        { interval: 1000, signal: ns.signal },
      ),
    );
  });

  test("should be restarted when the start takes longer than the startup budget", async ({ ns }) => {
    await capability("Probes", "Startup probe");
    const startS = SABOTAGE ? START_S : SLOW_START_S;
    const budget = await step(`arrange: a pod that starts in ${startS}s, startup budget 10 × 1s`, () =>
      startSlowStarter(ns, startS),
    );

    await restartedInWindow(ns, { pod: "slow-start", container: "app", probe: "startup" }, budget);
  });
});
