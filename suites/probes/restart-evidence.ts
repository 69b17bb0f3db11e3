/**
 * Shared by the probes scenarios (not a scenario itself): the evidence that a failing probe restarted a
 * container, as report steps. The restart must come within the window the probe settings imply, the kill
 * must fall inside it by the kubelet's own timestamps, and the pod's events must show the failure and kill.
 */
import { expect } from "../../helpers/framework/fixtures.ts";
import type { TestNamespace } from "../../helpers/framework/namespace.ts";
import { step } from "../../helpers/framework/report.ts";
import { T } from "../../helpers/framework/timeouts.ts";
import { waitFor } from "../../helpers/framework/wait.ts";
import { podEvents } from "../../helpers/observe/events.ts";
import {
  LIVENESS_RESTART_EVENTS,
  lastKillAfterSeconds,
  type RestartCounter,
  type RestartWindow,
  restartsOf,
  STARTUP_RESTART_EVENTS,
} from "../../helpers/observe/probe-evidence.ts";

/** Waits for the restart, checks when the kill happened and the events; returns the seconds from start to kill. */
export async function restartedInWindow(
  ns: TestNamespace,
  target: { pod: string; container: string; probe: "liveness" | "startup"; counter?: RestartCounter },
  window: RestartWindow,
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
