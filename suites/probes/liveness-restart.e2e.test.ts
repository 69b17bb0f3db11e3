/**
 * Testname: Probing container, liveness probes restart the container
 * Description: A container whose exec liveness probe `cat /tmp/healthy` starts failing (the file is removed
 *   KOC_PROBES_LIVENESS_DELAY s after start, default 8, 30 in the field notes) MUST be killed and restarted,
 *   inside the window its probe settings imply: failing from the removal + failureThreshold × period +
 *   timeout + a kubelet allowance (helpers/observe/probe-evidence.ts restartWindow); never before the file is
 *   gone. The kill MUST come after exactly failureThreshold failures: the kubelet's own Unhealthy events
 *   ("Liveness probe failed", one event object whose count covers every repeat) from the removal up to its
 *   Killing event ("failed liveness probe") MUST add up to failureThreshold (failuresBeforeKill; a count that
 *   cannot be split around the kill fails too). The named container's restartCount MUST never decrease.
 *   Negative twin: when the file stays, the container MUST NOT be restarted over the whole window (asserted
 *   only at its end). An httpGet liveness probe on /health MUST keep nginx at restartCount 0 while /health is
 *   served (held for period × failureThreshold + timeout + margin), and restart it after exactly
 *   failureThreshold failures once /health answers 404, counted from the removal as the node's clock gives it
 *   (`date -u +%s` in the container just before).
 * Measured: the httpGet restart as seen from here, seconds after the removal; its natural range for the
 *   compare's drift rule is the restart window above (earliest to latest kill), from the probe's settings.
 * Not covered: tcpSocket and gRPC probes, CrashLoopBackOff timing after several restarts, probe-level
 *   terminationGracePeriodSeconds; the failure count of startup probes (their replacement fails again at
 *   once, so its failures run into the same event object before it can be read).
 * Serial or disruptive: no; one pod per test in its own namespace.
 * On purpose: KOC_PROBES_SABOTAGE=1 makes the probe flap before it fails for good, in both restart tests:
 *   /tmp/healthy (exec) or /health (httpGet) is removed for 0.6 s and restored for 1.2 s, five times, then
 *   removed. Each short removal is one isolated failure the next success resets, so the kubelet still kills
 *   after 2 consecutive failures, inside the old window, but its events show about 5 failures since the
 *   probe began failing, and the count step fails listing them. The negative twin removes the file (restart:
 *   hold violated).
 */

import { describe, expect, podSecurity, test } from "../../helpers/framework/fixtures.ts";
import type { TestNamespace } from "../../helpers/framework/namespace.ts";
import { capability, measure, step } from "../../helpers/framework/report.ts";
import { T } from "../../helpers/framework/timeouts.ts";
import { holdsFor, waitFor } from "../../helpers/framework/wait.ts";
import { apply } from "../../helpers/manifests/apply.ts";
import { podEvents } from "../../helpers/observe/events.ts";
import {
  containerRunning,
  kubeletAllowanceS,
  LIVENESS_RESTART_EVENTS,
  livenessDelaySeconds,
  nodeClockStamp,
  type ProbeTiming,
  probeHoldWindow,
  probesSabotage,
  probeTiming,
  RestartCounter,
  type RestartWindow,
  restartsOf,
  restartWindow,
} from "../../helpers/observe/probe-evidence.ts";
import { exec } from "../../helpers/traffic/exec.ts";
import { killedAfterFailureThreshold, restartedInWindow } from "./restart-evidence.ts";

podSecurity("baseline"); // root images (nginx, busybox), no host access

const HEALTHY_S = livenessDelaySeconds();
const FOREVER_S = 3600;
const SABOTAGE = probesSabotage();

/**
 * The sabotage: remove `file` for 0.6 s and restore it for 1.2 s, five times. With a 1 s period, every third
 * probe falls into a removal: isolated failures that the next success resets (about 3 over the 9 s).
 */
function flapping(file: string, restore: string): string {
  return `for i in 1 2 3 4 5; do rm -f ${file}; sleep 0.6; ${restore}; sleep 1.2; done; `;
}

/** Applies the exec-liveness pod, waits until its container runs, returns its probe timing and restart window. */
async function startLivenessExec(
  ns: TestNamespace,
  healthySeconds: number,
  options: { flap?: boolean } = {},
): Promise<{ timing: ProbeTiming; window: RestartWindow }> {
  await apply(ns, "probes/liveness-exec", {
    healthySeconds: String(healthySeconds),
    flapping: options.flap ? flapping("/tmp/healthy", "touch /tmp/healthy") : "",
  });
  const pod = await waitFor(
    `container ${ns.name}/liveness-exec/app is running`,
    containerRunning(ns, "liveness-exec", "app"),
    T.podStart,
  );
  const timing = probeTiming(pod, "app", "livenessProbe");
  return { timing, window: restartWindow(timing, { failingFromS: HEALTHY_S, allowanceS: kubeletAllowanceS() }) };
}

describe.concurrent("Probing container: liveness", () => {
  test('should be restarted with an exec "cat /tmp/healthy" liveness probe once the file is removed', async ({
    ns,
  }) => {
    await capability("Probes", "Liveness probe");
    const counter = new RestartCounter(`container ${ns.name}/liveness-exec/app`);

    const how = SABOTAGE ? "flaps, then is removed," : "is removed";
    const { timing, window } = await step(`arrange: a busybox pod whose /tmp/healthy ${how} after ${HEALTHY_S}s`, () =>
      startLivenessExec(ns, HEALTHY_S, { flap: SABOTAGE }),
    );

    await restartedInWindow(ns, { pod: "liveness-exec", container: "app", probe: "liveness", counter }, window, {
      failureThreshold: timing.failureThreshold,
      failingFrom: HEALTHY_S, // the container removes the file that long after it starts
    });
  });

  test('should *not* be restarted with an exec "cat /tmp/healthy" liveness probe while the file stays', async ({
    ns,
  }) => {
    await capability("Probes", "Liveness probe");

    const healthyS = SABOTAGE ? HEALTHY_S : FOREVER_S;
    const { window } = await step(`arrange: a busybox pod whose /tmp/healthy stays (removed after ${healthyS}s)`, () =>
      startLivenessExec(ns, healthyS),
    );

    await step(`assert: restartCount stays 0 for ${window.latestS}s, the window the restart test allows`, () =>
      holdsFor(
        `container ${ns.name}/liveness-exec/app is never restarted`,
        restartsOf(ns, "liveness-exec", "app", (n) => n === 0),
        window.latestS * 1000,
        { interval: 1000, signal: ns.signal },
      ),
    );
  });

  test("should be restarted with an httpGet /health liveness probe once /health answers 404", async ({ ns }) => {
    await capability("Probes", "Liveness probe");
    const counter = new RestartCounter(`container ${ns.name}/liveness-http/nginx`);

    const pod = await step("arrange: an nginx pod serving /health", async () => {
      await apply(ns, "probes/liveness-http");
      return waitFor(
        `container ${ns.name}/liveness-http/nginx is running`,
        containerRunning(ns, "liveness-http", "nginx"),
        T.podStart,
      );
    });
    const timing = probeTiming(pod, "nginx", "livenessProbe");
    const window = restartWindow(timing, {
      failingFromS: 0,
      allowanceS: kubeletAllowanceS(),
      reference: "/health was removed",
    });

    const healthy = probeHoldWindow(timing);
    await step(`assert: nginx stays at restartCount 0 while /health is served, for ${healthy.explain}`, () =>
      holdsFor(
        `container ${ns.name}/liveness-http/nginx is not restarted while /health answers`,
        restartsOf(ns, "liveness-http", "nginx", (n) => n === 0, counter),
        healthy.ms,
        { interval: 1000, signal: ns.signal },
      ),
    );

    // `date` first, on the node's clock (the kubelet's): no failure can be stamped before it
    const health = "/usr/share/nginx/html/health";
    const breaking = `date -u +%s; ${SABOTAGE ? flapping(health, `echo ok > ${health}`) : ""}rm -f ${health}`;
    const { removedAt, failingFrom } = await step(
      `act: ${SABOTAGE ? "flap, then remove" : "remove"} ${health} from nginx's web root`,
      async () => {
        const removed = await exec(ns, "liveness-http", ["sh", "-c", breaking]);
        expect(removed.exitCode, `${breaking}: ${removed.stderr}`).toBe(0);
        return {
          removedAt: performance.now(),
          failingFrom: nodeClockStamp(removed.stdout, `${health} removed (node clock)`),
        };
      },
    );

    await step(`assert: nginx is restarted (${window.explain})`, () =>
      waitFor(
        `container ${ns.name}/liveness-http/nginx restarted by its liveness probe (restartCount >= 1)`,
        restartsOf(ns, "liveness-http", "nginx", (n) => n >= 1, counter),
        window.latestS * 1000,
        { signal: ns.signal },
      ),
    );
    const seconds = Math.round((performance.now() - removedAt) / 100) / 10;
    await killedAfterFailureThreshold(ns, {
      pod: "liveness-http",
      container: "nginx",
      failureThreshold: timing.failureThreshold,
      failingFrom,
    });
    // natural range: the restart window the probe's own settings imply (earliest to latest kill after the removal)
    await measure(ns, "restart seen after the health file's removal", seconds, "s", {
      expected: [window.earliestS, window.latestS],
    });
    await step(`measured: restart seen ${seconds}s after the removal (window ${window.latestS}s)`, () =>
      waitFor(
        `events of pod ${ns.name}/liveness-http: Unhealthy and Killing`,
        podEvents(ns, "liveness-http", LIVENESS_RESTART_EVENTS),
        T.apiCall,
      ),
    );

    await step("assert: the restarted container serves /health again and is not restarted again", () =>
      holdsFor(
        `container ${ns.name}/liveness-http/nginx stays at restartCount 1`,
        restartsOf(ns, "liveness-http", "nginx", (n) => n === 1, counter),
        window.latestS * 1000,
        { interval: 1000, signal: ns.signal },
      ),
    );
  });
});
