/**
 * Shared by the probes scenarios (not a scenario itself): the evidence that a failing probe restarted a
 * container, as report steps. The restart must come within the window the probe settings imply, the kill
 * must fall inside it by the kubelet's own timestamps, and the pod's events must show the failure and kill.
 * For a liveness probe, the kubelet's own events must show the kill after exactly failureThreshold failures
 * (killedAfterFailureThreshold): the window alone cannot tell a kill after 1, 2 or 3 failures apart.
 */

import { formatEvents } from "../../helpers/framework/diagnostics.ts";
import { expect } from "../../helpers/framework/fixtures.ts";
import type { TestNamespace } from "../../helpers/framework/namespace.ts";
import { log, step } from "../../helpers/framework/report.ts";
import { T } from "../../helpers/framework/timeouts.ts";
import { waitFor } from "../../helpers/framework/wait.ts";
import type { Stamp } from "../../helpers/observe/events.ts";
import { listPodEvents, podEvents } from "../../helpers/observe/events.ts";
import {
  containerStatus,
  type FailureCount,
  failuresBeforeKill,
  killedInstance,
  LIVENESS_RESTART_EVENTS,
  lastKillAfterSeconds,
  probeKills,
  type RestartCounter,
  type RestartWindow,
  restartsOf,
  STARTUP_RESTART_EVENTS,
  showContainer,
  showFailureCount,
} from "../../helpers/observe/probe-evidence.ts";

/**
 * After the first restart of a container by its liveness probe: reads the killed instance's start and finish,
 * waits for the kubelet's Killing event (the kubelet writes its events in order, so every failure recorded
 * before the kill is in the same list), and asserts that exactly `failureThreshold` failures lie between
 * the moment the test made the probe fail and the kill. `failingFrom` is that moment: seconds after the
 * killed instance started (a container that breaks itself), or a Stamp from the node's clock (nodeClockStamp).
 * Must run soon after the restart, before the replacement's probe fails again.
 */
export async function killedAfterFailureThreshold(
  ns: TestNamespace,
  target: { pod: string; container: string; failureThreshold: number; failingFrom: number | Stamp },
): Promise<FailureCount> {
  const where = `${ns.name}/${target.pod}/${target.container}`;
  return step(
    `assert: killed after exactly failureThreshold ${target.failureThreshold} liveness failures, by the kubelet's events`,
    async () => {
      const pod = await waitFor(
        `container ${where}: the killed instance's startedAt and finishedAt in its status`,
        {
          observe: () => ns.kube.core.readNamespacedPod({ name: target.pod, namespace: ns.name }),
          ok: (p) => killedInstance(p, target.container) !== undefined,
          show: (p) => showContainer(containerStatus(p, target.container)),
        },
        T.apiCall,
        { signal: ns.signal },
      );
      // lastState is the latest killed instance, the Killing event's first occurrence the first kill
      expect(containerStatus(pod, target.container)?.restartCount, `restartCount of ${where}`).toBe(1);
      const afterStartS = typeof target.failingFrom === "number" ? target.failingFrom : 0;
      const instance = killedInstance(pod, target.container, afterStartS);
      if (instance === undefined) throw new Error(`container ${where}: no killed instance`); // the wait saw one
      const bounds = typeof target.failingFrom === "number" ? instance : { ...instance, from: target.failingFrom };
      const events = await waitFor(
        `the kubelet's Killing event for container ${where} (failed liveness probe)`,
        {
          observe: () => listPodEvents(ns, target.pod),
          ok: (list) => probeKills(list, target.container, "Liveness").length > 0,
          show: formatEvents,
        },
        T.apiCall,
        { signal: ns.signal },
      );
      const count = failuresBeforeKill(events, { container: target.container, probe: "Liveness", ...bounds });
      const shown = showFailureCount(count, "Liveness");
      log(`${where}: ${shown}`);
      expect(
        count.failures,
        `liveness failures of ${where} before its kill, failureThreshold ${target.failureThreshold}:\n${shown}`,
      ).toBe(target.failureThreshold);
      return count;
    },
  );
}

/**
 * Waits for the restart, checks when the kill happened and the events; returns the seconds from start to kill.
 * With `failures`, also that the kill came after exactly that many liveness failures (killedAfterFailureThreshold).
 */
export async function restartedInWindow(
  ns: TestNamespace,
  target: { pod: string; container: string; probe: "liveness" | "startup"; counter?: RestartCounter },
  window: RestartWindow,
  failures?: { failureThreshold: number; failingFrom: number | Stamp },
): Promise<number> {
  const where = `${ns.name}/${target.pod}/${target.container}`;
  await step(`assert: container ${target.container} is restarted (${window.explain})`, () =>
    waitFor(
      `container ${where} restarted by its ${target.probe} probe (restartCount >= 1)`,
      restartsOf(ns, target.pod, target.container, (n) => n >= 1, target.counter),
      window.latestS * 1000,
      { signal: ns.signal },
    ),
  );
  if (failures !== undefined) {
    await killedAfterFailureThreshold(ns, { pod: target.pod, container: target.container, ...failures });
  }
  // restartCount can move a moment before the status carries the killed container's times
  const killedAfter = await waitFor(
    `container ${where}: the killed instance's startedAt and finishedAt in its status`,
    {
      observe: () => lastKillAfterSeconds(ns, target.pod, target.container),
      ok: (seconds) => !Number.isNaN(seconds),
      show: (seconds) => `seconds from start to kill: ${seconds}`,
    },
    T.apiCall,
    { signal: ns.signal },
  );
  await step(`measured: killed ${killedAfter}s after start, inside ${window.earliestS}–${window.latestS}s`, () => {
    expect(killedAfter, `seconds from start to kill of ${where}`).toBeGreaterThanOrEqual(window.earliestS);
    expect(killedAfter, `seconds from start to kill of ${where} (${window.explain})`).toBeLessThanOrEqual(
      window.latestS,
    );
  });
  await step(`assert: events show the ${target.probe} probe failure and the kill`, () =>
    waitFor(
      `events of pod ${ns.name}/${target.pod}: Unhealthy and Killing`,
      podEvents(ns, target.pod, target.probe === "liveness" ? LIVENESS_RESTART_EVENTS : STARTUP_RESTART_EVENTS),
      T.apiCall,
    ),
  );
  return killedAfter;
}
