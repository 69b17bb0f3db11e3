/**
 * Every duration the suite waits for or judges by, in milliseconds, in two tables.
 *
 * Deadlines (BASE_TIMEOUTS, read through T) are multiplied by the timeout scale (--timeout-scale /
 * KOC_TIMEOUT_SCALE, default 1) so a slow real cluster can be given more time without editing tests; so are
 * the "must not happen" windows, which a longer run only makes stricter. vitest's testTimeout and
 * hookTimeout come from this table too (vitest.config.ts), and so does every deadline a helper derives (e.g.
 * exec's T.httpRequest + T.exec). Poll intervals are not scaled (polling slower only makes a run slower).
 *
 * Verdict bounds (BOUNDS) are never scaled: they say what the behaviour under test is allowed to do (how
 * long a prober may pause, how long a rollout may overshoot, how late the kubelet may act), and a slow
 * cluster must not make a wrong behaviour pass. A slow cluster gets more time to reach a state, not a looser
 * definition of the right one.
 */
import { parseTimeoutScale } from "./config.ts";

/**
 * Deadlines and "must not happen" windows, unscaled. Upstream k8s defaults are quoted where they differ, so the
 * choice is visible. A number that defines what a check accepts belongs in BOUNDS instead.
 */
export const BASE_TIMEOUTS = {
  /** One API request, including transport retries. */
  apiCall: 15_000,
  /** Namespace created and its `default` ServiceAccount present (the token controller is usually < 1 s). */
  namespaceReady: 30_000,
  /** A pod scheduled, image present, containers Ready. Upstream PodStartShort is 2 min. */
  podStart: 120_000,
  /** A Deployment rollout completes. Upstream uses 5 min; 2–3 replicas on a test bed take seconds. */
  rollout: 180_000,
  /**
   * A Service answers through kube-proxy after its endpoints are ready. Upstream KubeProxyLagTimeout is 5 min
   * ("should be O(10s), observed values are O(1m)").
   */
  serviceReachable: 60_000,
  /** One command run in a container with exec. */
  exec: 30_000,
  /** curl --max-time for one HTTP request from a client pod (the probers' requests: BOUNDS.proberRequestTimeout). */
  httpRequest: 5_000,
  /**
   * A ConfigMap/Secret update reaches a mounted volume. The kubelet rewrites a pod's volumes when it resyncs
   * the pod: every sync period (1 min by default) plus up to 50% jitter, plus the Secret/ConfigMap cache
   * TTL when the kubelet does not use watches. Upstream allows 240 s + TTL (GetPodSecretUpdateTimeout).
   */
  configPropagation: 150_000,
  /**
   * A claim bound to a volume: static binding is immediate (the PV controller also resyncs every 15 s);
   * dynamic provisioning starts a helper pod (local-path) or calls a CSI driver.
   */
  volumeBind: 120_000,
  /**
   * A busy container's cgroup shows enough cpu enforcement periods to judge throttling (50 periods of 100 ms
   * are 5 s; the rest is slack for a busy node).
   */
  cpuThrottleEvidence: 60_000,
  /**
   * Node memory pressure: the kubelet notices it (housekeeping every 10 s), evicts one pod per pass and waits
   * for it to be gone before the next; and MemoryPressure clears after evictionPressureTransitionPeriod.
   */
  memoryPressure: 180_000,
  /**
   * How far ahead an injected outage is scheduled (helpers/traffic/injected-outage.ts): every pod must have
   * its files before it starts. One exec per pod, in parallel; on the busy 2-core test bed an exec takes up
   * to about a second.
   */
  outageLead: 3_000,
  /**
   * Waiting for the test bed's traffic slot (helpers/traffic/traffic-slot.ts): the scenarios that judge
   * requests take turns there, and the longest holds it for its three rollouts (about 1.5-2.5 min on the
   * 2-core test bed). Tests that take the slot get this on top of `test`.
   */
  trafficSlot: 240_000,
  /** Default window for holdsFor ("must not happen") checks. */
  holdWindow: 15_000,
  /**
   * Margin of a "must not happen" window about a probe, on top of periodSeconds × failureThreshold +
   * timeoutSeconds: the kubelet acting on the probe's verdict (a restart, a Ready change) and the pod status
   * and EndpointSlices reaching the API server, about 1 s each on a test bed.
   */
  probeVerdictMargin: 5_000,
  /** An object deleted and gone. */
  delete: 60_000,
  /**
   * `kubectl drain` of one node during the test bed's upgrade: evictions retried while a PodDisruptionBudget
   * allows none, until the replacement pods elsewhere are Ready. Pods take seconds to start on the test bed;
   * upstream kubectl waits forever by default.
   */
  nodeDrain: 300_000,
  /** A node's kubelet restarted with a new version until the node reports that version and Ready. */
  nodeUpgrade: 180_000,
  /**
   * Before a worker's `kubeadm upgrade node` on the test bed: the API server `upgrade apply` restarted answers
   * /readyz and its authorizer lets the node read kubeadm's ConfigMaps. Its caches fill within seconds of
   * the restart; kubeadm itself gives a restarted static pod 5 min.
   */
  apiSettled: 120_000,
  /**
   * One `kubeadm upgrade apply|node|plan` on a test bed node: apply replaces etcd and three static pods one
   * after the other, each waiting for its pod's hash to change (kubeadm's own limit is 5 min per pod).
   */
  kubeadmUpgrade: 900_000,
  /** Collecting failure diagnostics for one namespace (events, logs, describe). */
  diagnostics: 60_000,
  /** The run-end sweep: every namespace and cluster-scoped object of the run gone. */
  cleanup: 180_000,
  /** The CLI's reachability check of the API server (exit 3 when it fails). Kept short: one line in 15 s. */
  clusterCheck: 6_000,
  /** vitest testTimeout: one scenario, fixtures included. The k8s guide asks for tests under 2 minutes. */
  test: 300_000,
  /** vitest hookTimeout: beforeAll/afterAll and globalSetup. */
  hook: 120_000,
} as const;

/**
 * Verdict bounds, never scaled (see the top of this file): each defines what a check accepts, and scaling it
 * would let a wrong behaviour pass on a run given more time.
 */
export const BOUNDS = {
  /**
   * The largest pause allowed between two request starts of one prober in a checked window (prober.ts
   * assertCoverage): a prober paused longer is blind, and the check fails instead of passing. The probers
   * keep a 5 ms timetable; on the 2-core test bed, while a rollout starts containers, their pods and this
   * host stall for up to about a second (measured: 300-500 ms with the rollouts suite alone, up to 1 s in a
   * full run), so an outage shorter than this may fall into a pause. The injected 300 ms outage is caught
   * on every run regardless (the zero-downtime file's third scenario); `npm run bench` reports the gaps.
   * Scaled by 20 it would let a prober be blind for 20 s and still vouch for zero downtime.
   */
  proberGap: 1_000,
  /**
   * One prober request's timeout: a request without an answer by then counts as failed. A healthy Service
   * answers in milliseconds; 5 s covers a connection retried once after a lost SYN (1 s, then 3 s). Scaled,
   * a request stalled for over a minute during a rollout would count as served.
   */
  proberRequestTimeout: 5_000,
  /**
   * How long the pods counted toward a rollout may stay above replicas + maxSurge (by at most
   * POD_OVERSHOOT). The Deployment controller keeps the sum of its ReplicaSets' spec.replicas within the
   * bound, but each ReplicaSet's worker acts on its own: the new one's pod can be created an event before the
   * old one's excess pod is marked terminating. Observed: one event, well under a second. Only a scale-down
   * of an old ReplicaSet explains one, so at most one per scale-down step, or per replica of a step that
   * removes several (helpers/observe/rollout.ts assertRolloutBounds). Scaled, a rollout could run a surplus
   * pod for minutes and pass.
   */
  podsFollowReplicaSets: 5_000,
  /**
   * What the kubelet and the runtime add to the time a probe's settings imply for a restart or a Ready
   * (helpers/observe/probe-evidence.ts restartWindow): status reaching the API server (~1 s), stopping the
   * container (grace 1 s in our manifests), the 1 s resolution of container timestamps, and the kubelet's
   * probe loop running late on a busy node: during a full parallel run on the 2-core test bed a startup
   * budget of 10 × 1 s was seen to kill after 18 s (5 s of allowance failed it; every other run stayed within
   * it). Scaled by 20 it would add 200 s to every restart window.
   */
  kubeletAllowance: 10_000,
  /**
   * How far a pod's clock (its node's) may be from this host's, offset plus measurement uncertainty
   * (helpers/traffic/clocks.ts): beyond it the run fails with ClockSkewError, an environment error. The
   * probers' records and the injected outage are corrected by an offset measured once per prober start or
   * outage, and the correction holds only while the offset does. NTP keeps a node within milliseconds of
   * true time and steps a clock that is more than 128 ms off, so a node a second off is not kept at all:
   * it may be stepped or slewed while the scenario runs, and records corrected by the offset measured before
   * would lie by that much. Scaled, an unsynchronised node would vouch for spans it cannot place.
   */
  clockSkew: 1_000,
  /**
   * The largest uncertainty of one clock measurement (half the shortest round trip to the pod's clock,
   * helpers/traffic/clocks.ts); beyond it: ClockSkewError. The outage proof judges the start of a 300 ms
   * outage within its 100 ms margin plus the uncertainties of the prober's clock and of the pods that fire
   * the outage: at 50 ms each, the start may be off by 200 ms, two thirds of the outage, and no looser
   * window says anything about it. A round trip over an open exec stream takes a few milliseconds. It is
   * also how far a prober's offset may move between its start and its stop beyond both measurements'
   * uncertainty (assertClockHeld): a record moved by more is as badly placed as one on a clock known no better.
   */
  clockUncertainty: 50,
} as const;

/** Poll intervals (not scaled). k8s upstream polls every 2 s; that adds seconds to every wait, so we poll faster. */
export const POLL = {
  /** Pod, endpoint and HTTP state: cheap reads, fast changes. */
  fast: 250,
  /** Deployments, namespaces, cluster-scoped objects. */
  normal: 500,
  /** Sweeps over many objects (cleanup). */
  slow: 1_000,
} as const;

/**
 * How many pods the counted pods of a rollout may exceed replicas + maxSurge by, for BOUNDS.podsFollowReplicaSets,
 * once per scale-down step of an old ReplicaSet (per replica of a step that removes several).
 */
export const POD_OVERSHOOT = 1;

export type TimeoutName = keyof typeof BASE_TIMEOUTS;
export type Timeouts = { readonly [K in TimeoutName]: number };

/** The table multiplied by `scale` and rounded to whole milliseconds. */
export function scaledTimeouts(scale: number): Timeouts {
  const entries = Object.entries(BASE_TIMEOUTS).map(([name, ms]) => [name, Math.round(ms * scale)]);
  return Object.freeze(Object.fromEntries(entries)) as Timeouts;
}

let table: Timeouts | undefined;

/** Sets this process's scale; the CLI calls it with the validated --timeout-scale before it waits for anything. */
export function useTimeoutScale(scale: number): void {
  table = scaledTimeouts(scale);
}

/**
 * The scaled table for this process. The scale is read on first use (KOC_TIMEOUT_SCALE unless the CLI set
 * it), never at import, so a bad value is a ConfigError where it is used, not a crash while loading.
 */
export const T: Timeouts = Object.freeze(
  Object.defineProperties(
    {},
    Object.fromEntries(
      Object.keys(BASE_TIMEOUTS).map((name) => [
        name,
        {
          enumerable: true,
          get: () => {
            table ??= scaledTimeouts(parseTimeoutScale(process.env.KOC_TIMEOUT_SCALE));
            return table[name as TimeoutName];
          },
        },
      ]),
    ),
  ),
) as Timeouts;

/** "2m 5s", "750ms": how durations appear in messages. */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  const totalSeconds = Math.round(ms / 100) / 10;
  if (totalSeconds < 60) return `${totalSeconds}s`;
  const minutes = Math.floor(totalSeconds / 60);
  const seconds = Math.round(totalSeconds - minutes * 60);
  return seconds === 0 ? `${minutes}m` : `${minutes}m ${seconds}s`;
}
