/**
 * Testname: Probing container, liveness probes restart the container
 * Description: A container whose exec liveness probe `cat /tmp/healthy` starts failing (the file is removed
 *   KOC_PROBES_LIVENESS_DELAY s after start, default 8, 30 in the field notes) MUST be killed and restarted,
 *   inside the window its probe settings imply: failing from the removal + failureThreshold × period +
 *   timeout + a kubelet allowance (helpers/observe/probe-evidence.ts restartWindow); never before the file is gone. The pod's
 *   events MUST show the probe failure (Unhealthy "Liveness probe failed") and the kill (Killing "failed
 *   liveness probe"). The named container's restartCount MUST never decrease. Negative twin: when the file
 *   stays, the container MUST NOT be restarted over the whole window (asserted only at its end). An httpGet
 *   liveness probe on /health MUST restart nginx once /health answers 404.
 * Not covered: tcpSocket and gRPC probes, CrashLoopBackOff timing after several restarts, probe-level
 *   terminationGracePeriodSeconds.
 * Serial or disruptive: no; one pod per test in its own namespace.
 * On purpose: KOC_PROBES_SABOTAGE=1 keeps /tmp/healthy in the restart test (no restart: timeout), removes it
 *   in the negative twin (restart: hold violated), and removes a file the http probe does not read.
 */

import { describe, expect, podSecurity, test } from "../../helpers/framework/fixtures.ts";
import type { TestNamespace } from "../../helpers/framework/namespace.ts";
import { capability, step } from "../../helpers/framework/report.ts";
import { T } from "../../helpers/framework/timeouts.ts";
import { holdsFor, waitFor } from "../../helpers/framework/wait.ts";
import { apply } from "../../helpers/manifests/apply.ts";
import { podEvents } from "../../helpers/observe/events.ts";
import {
  containerRunning,
  kubeletAllowanceS,
  LIVENESS_RESTART_EVENTS,
  livenessDelaySeconds,
  probesSabotage,
  probeTiming,
  RestartCounter,
  type RestartWindow,
  restartsOf,
  restartWindow,
} from "../../helpers/observe/probe-evidence.ts";
import { exec } from "../../helpers/traffic/exec.ts";
import { restartedInWindow } from "./restart-evidence.ts";

podSecurity("baseline"); // root images (nginx, busybox), no host access

const HEALTHY_S = livenessDelaySeconds();
const FOREVER_S = 3600;
const SABOTAGE = probesSabotage();

/** Applies the exec-liveness pod, waits until its container runs, returns the restart window of its probe. */
async function startLivenessExec(ns: TestNamespace, healthySeconds: number): Promise<RestartWindow> {
  await apply(ns, "probes/liveness-exec", { healthySeconds: String(healthySeconds) });
  const pod = await waitFor(
    `container ${ns.name}/liveness-exec/app is running`,
    containerRunning(ns, "liveness-exec", "app"),
    T.podStart,
  );
  const timing = probeTiming(pod, "app", "livenessProbe");
  return restartWindow(timing, { failingFromS: HEALTHY_S, allowanceS: kubeletAllowanceS() });
}

describe.concurrent("Probing container: liveness", () => {
  test('should be restarted with an exec "cat /tmp/healthy" liveness probe once the file is removed', async ({
    ns,
  }) => {
    await capability("Probes", "Liveness probe");
    const counter = new RestartCounter(`container ${ns.name}/liveness-exec/app`);

    const healthyS = SABOTAGE ? FOREVER_S : HEALTHY_S;
    const window = await step(`arrange: a busybox pod whose /tmp/healthy is removed after ${healthyS}s`, () =>
      startLivenessExec(ns, healthyS),
    );

    await restartedInWindow(ns, { pod: "liveness-exec", container: "app", probe: "liveness", counter }, window);
  });

  test('should *not* be restarted with an exec "cat /tmp/healthy" liveness probe while the file stays', async ({
    ns,
  }) => {
    await capability("Probes", "Liveness probe");

    const healthyS = SABOTAGE ? HEALTHY_S : FOREVER_S;
    const window = await step(`arrange: a busybox pod whose /tmp/healthy stays (removed after ${healthyS}s)`, () =>
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
    const window = restartWindow(probeTiming(pod, "nginx", "livenessProbe"), {
      failingFromS: 0,
      allowanceS: kubeletAllowanceS(),
      reference: "/health was removed",
    });

    const file = SABOTAGE ? "/usr/share/nginx/html/other" : "/usr/share/nginx/html/health";
    const removedAt = await step(`act: remove ${file} from nginx's web root`, async () => {
      const removed = await exec(ns, "liveness-http", ["rm", "-f", file]);
      expect(removed.exitCode, `rm -f ${file}: ${removed.stderr}`).toBe(0);
      return performance.now();
    });

    await step(`assert: nginx is restarted (${window.explain})`, () =>
      waitFor(
        `container ${ns.name}/liveness-http/nginx restarted by its liveness probe (restartCount >= 1)`,
        restartsOf(ns, "liveness-http", "nginx", (n) => n >= 1, counter),
        window.latestS * 1000,
        { signal: ns.signal },
      ),
    );
    const seconds = Math.round((performance.now() - removedAt) / 100) / 10;
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
