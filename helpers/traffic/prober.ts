/**
 * Continuous-request probers: send HTTP requests back to back while something happens (a rollout, a
 * restart), one new connection per request, and keep one record per request. Then assert on them.
 *
 *   const inside = await startPodProber(ns, client, `http://web.${ns.name}.svc/`, { name: "service" });
 *   const outside = await startNodePortProber(ns, client, "web");   // from this host when the test bed allows it
 *   ... roll out ...
 *   const records = [...(await inside.stop()), ...(await outside.stop())];
 *   assertNoFailedRequests(records);                                  // strict; { maxFailureRatio: 0.01 } on real clusters
 *   assertVersionSwitch(records, versionOf, { from: oldRs, to: newRs });
 *
 * Which pod answered comes from the response header `X-Pod` (the workload's nginx adds `$hostname`,
 * see manifests/rollouts/zero-downtime/configmap.yaml); map pods to versions (ReplicaSet, image) with
 * the pods you observed (helpers/observe/watch.ts keeps every pod it saw).
 *
 * In-cluster probers run a shell loop in a client pod (helpers/traffic/exec.ts startHttpClient): `curl` per
 * request (a new process, so a new connection and a fresh DNS lookup), `Connection: close`, start time
 * from `date +%s%N`. The NodePort prober runs here, in this process, and only against node addresses
 * inside the `nodeNetwork` CIDR published by the test bed (ConfigMap kube-public/k8s-ops-conformance-testbed);
 * without that ConfigMap it probes the NodePort from the client pod instead and says so.
 */
import { setTimeout as pace } from "node:timers/promises";
import type { Kube } from "../framework/kube.ts";
import { isNotFound } from "../framework/kube.ts";
import type { TestNamespace } from "../framework/namespace.ts";
import { log } from "../framework/report.ts";
import { formatDuration, T } from "../framework/timeouts.ts";
import { waitFor } from "../framework/wait.ts";
import { ipInCidr } from "./cidr.ts";
import { exec } from "./exec.ts";
import { freshGet } from "./host-http.ts";

/** One request as the prober saw it. Times are epoch milliseconds, so records from pods and from here line up. */
export interface ProbeRecord {
  /** Which prober sent it, e.g. "service (in-cluster)". */
  source: string;
  /** When the request started (epoch ms). */
  at: number;
  latencyMs: number;
  /** HTTP status; 0 when no HTTP answer came back. */
  status: number;
  /** The pod that answered (X-Pod header); "" when none did. */
  pod: string;
  /** The transport error (connection refused, timeout); "" when an answer came back. */
  error: string;
}

/** A request failed: no HTTP 200, or an answer that did not come from one of the workload's pods. */
export function isFailure(record: ProbeRecord): boolean {
  return record.status !== 200 || record.pod === "";
}

export const RECORD_MARK = "koc";
export const END_MARK = "koc-end";

/** `date +%s%N` output → epoch ms. Seconds only (a `date` without %N prints `…N` or nothing extra) also work. */
export function parseStartTime(text: string): number {
  const digits = text.replace(/N$/, "");
  if (!/^\d+$/.test(digits)) return Number.NaN;
  if (digits.length >= 18) return Number(digits.slice(0, -3)) / 1000; // ns → ms, keeping µs as a fraction
  if (digits.length >= 13) return Number(digits);
  return Number(digits) * 1000;
}

/** Parses one line `koc|<start ns>|<curl exit>|<http code>|<time_total s>|<x-pod>|<curl error>`. */
export function parseProbeLine(line: string, source: string): ProbeRecord | undefined {
  const fields = line.split("|");
  if (fields[0] !== RECORD_MARK || fields.length < 7) return undefined;
  const [, start = "", exit = "", code = "", total = "", pod = "", ...errorParts] = fields;
  const at = parseStartTime(start);
  if (!Number.isFinite(at)) return undefined;
  const exitCode = Number(exit);
  const status = Number(code) || 0;
  const errorText = errorParts.join("|").trim();
  return {
    source,
    at,
    latencyMs: Math.round((Number(total) || 0) * 1000 * 10) / 10,
    status,
    pod: pod.trim(),
    error: exitCode === 0 ? "" : `curl exit ${exitCode}${errorText ? `: ${errorText}` : ""}`,
  };
}

/** Every record line of a prober log (other lines, e.g. the end mark, are ignored). */
export function parseProbeLog(text: string, source: string): ProbeRecord[] {
  return text
    .split("\n")
    .map((line) => parseProbeLine(line.trim(), source))
    .filter((r): r is ProbeRecord => r !== undefined);
}

/** A run of consecutive failed requests of one prober. */
export interface Outage {
  source: string;
  /** Start of the first failed request. */
  from: number;
  /** Start of the first successful request after it (or the end of the last failed one). */
  to: number;
  failed: number;
  /** What the first failure said. */
  first: string;
}

export function showRecord(record: ProbeRecord): string {
  if (record.error) return record.error;
  return `HTTP ${record.status}${record.pod ? ` from ${record.pod}` : " without X-Pod header"}`;
}

/** The outages of each source, in time order. */
export function outages(records: readonly ProbeRecord[]): Outage[] {
  const found: Outage[] = [];
  for (const source of sources(records)) {
    let current: Outage | undefined;
    for (const r of byTime(records.filter((x) => x.source === source))) {
      if (isFailure(r)) {
        current ??= { source, from: r.at, to: r.at + r.latencyMs, failed: 0, first: showRecord(r) };
        current.failed++;
        current.to = r.at + r.latencyMs;
      } else if (current) {
        current.to = r.at;
        found.push(current);
        current = undefined;
      }
    }
    if (current) found.push(current);
  }
  return found.sort((a, b) => a.from - b.from);
}

export interface ProbeSummary {
  source: string;
  total: number;
  failed: number;
  durationMs: number;
  /** Achieved requests per second. */
  rate: number;
  /** Time resolution: the median and largest gap between request starts (an outage shorter than that can be missed). */
  medianGapMs: number;
  maxGapMs: number;
  medianLatencyMs: number;
  maxLatencyMs: number;
  longestOutageMs: number;
  /** Answers per pod. */
  pods: Record<string, number>;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? 0 : (sorted[Math.floor((sorted.length - 1) / 2)] ?? 0);
}

function sources(records: readonly ProbeRecord[]): string[] {
  return [...new Set(records.map((r) => r.source))];
}

function byTime(records: readonly ProbeRecord[]): ProbeRecord[] {
  return [...records].sort((a, b) => a.at - b.at);
}

/** Counts, achieved rate, time resolution and longest outage, per source. */
export function summarize(records: readonly ProbeRecord[]): ProbeSummary[] {
  const gone = outages(records);
  return sources(records).map((source) => {
    const mine = byTime(records.filter((r) => r.source === source));
    const first = mine[0]?.at ?? 0;
    const last = mine.at(-1);
    const durationMs = last ? last.at + last.latencyMs - first : 0;
    const gaps = mine.slice(1).map((r, i) => r.at - (mine[i]?.at ?? r.at));
    const pods: Record<string, number> = {};
    for (const r of mine) if (r.pod) pods[r.pod] = (pods[r.pod] ?? 0) + 1;
    return {
      source,
      total: mine.length,
      failed: mine.filter(isFailure).length,
      durationMs,
      rate: durationMs > 0 ? (mine.length * 1000) / durationMs : 0,
      medianGapMs: median(gaps),
      maxGapMs: Math.max(0, ...gaps),
      medianLatencyMs: median(mine.map((r) => r.latencyMs)),
      maxLatencyMs: Math.max(0, ...mine.map((r) => r.latencyMs)),
      longestOutageMs: Math.max(0, ...gone.filter((o) => o.source === source).map((o) => o.to - o.from)),
      pods,
    };
  });
}

/** `service (in-cluster): 1520 requests in 61.2s (24.8/s, gap median 40ms max 95ms), 0 failed, latency median 4ms max 31ms` */
export function showSummary(s: ProbeSummary): string {
  const ms = (v: number): string => formatDuration(v);
  return (
    `${s.source}: ${s.total} requests in ${ms(s.durationMs)} (${s.rate.toFixed(1)}/s, gap median ${ms(s.medianGapMs)} ` +
    `max ${ms(s.maxGapMs)}), ${s.failed} failed` +
    (s.failed > 0 ? ` (longest outage ${ms(s.longestOutageMs)})` : "") +
    `, latency median ${ms(s.medianLatencyMs)} max ${ms(s.maxLatencyMs)}, ${Object.keys(s.pods).length} pods answered`
  );
}

export class FailedRequestsError extends Error {
  override name = "FailedRequestsError";
}

export interface FailurePolicy {
  /**
   * Failed requests allowed, as a share of all requests of each source (0.01 = 1%). Default 0: strict,
   * which the test bed meets. Upstream's load-balancer disruption test allows 5% and aims for 1%.
   */
  maxFailureRatio?: number;
}

/** Throws FailedRequestsError, naming each outage (when, how long, what failed), when a source failed too often. */
export function assertNoFailedRequests(records: readonly ProbeRecord[], policy: FailurePolicy = {}): void {
  const allowed = policy.maxFailureRatio ?? 0;
  const summaries = summarize(records);
  if (summaries.length === 0) throw new FailedRequestsError("no requests were recorded, so nothing was checked");
  const bad = summaries.filter((s) => s.total === 0 || s.failed / s.total > allowed);
  if (bad.length === 0) return;
  const start = Math.min(...records.map((r) => r.at));
  const lines = outages(records)
    .filter((o) => bad.some((s) => s.source === o.source))
    .slice(0, 10)
    .map(
      (o) =>
        `  ${o.source}: ${o.failed} failed request(s) from +${formatDuration(o.from - start)} for ${formatDuration(o.to - o.from)}, first: ${o.first}`,
    );
  throw new FailedRequestsError(
    `Expected ${allowed === 0 ? "no failed request" : `at most ${(allowed * 100).toFixed(2)}% failed requests`} per prober, saw:\n` +
      `${bad.map((s) => `  ${showSummary(s)}`).join("\n")}\noutages:\n${lines.join("\n")}`,
  );
}

/** Which version answered over time: consecutive answers of the same version merged, per source. */
export interface VersionSegment {
  source: string;
  version: string;
  from: number;
  to: number;
  answers: number;
}

/** Segments of answered versions; `versionOf(pod)` maps a pod name to its version (undefined: "unknown pod"). */
export function versionSegments(
  records: readonly ProbeRecord[],
  versionOf: (pod: string) => string | undefined,
): VersionSegment[] {
  const segments: VersionSegment[] = [];
  for (const source of sources(records)) {
    let current: VersionSegment | undefined;
    for (const r of byTime(records.filter((x) => x.source === source && !isFailure(x)))) {
      const version = versionOf(r.pod) ?? `unknown pod ${r.pod}`;
      if (current?.version !== version) {
        current = { source, version, from: r.at, to: r.at, answers: 0 };
        segments.push(current);
      }
      current.answers++;
      current.to = r.at;
    }
  }
  return segments;
}

export class VersionSwitchError extends Error {
  override name = "VersionSwitchError";
}

/**
 * Each source's answers MUST switch from `from` to `to`: its first answer came from `from`, its last from
 * `to`, and no other version answered. (During a rolling update old and new answers interleave; that is fine.)
 */
export function assertVersionSwitch(
  records: readonly ProbeRecord[],
  versionOf: (pod: string) => string | undefined,
  expected: { from: string; to: string },
): void {
  const problems: string[] = [];
  const segments = versionSegments(records, versionOf);
  for (const source of sources(records)) {
    const mine = segments.filter((s) => s.source === source);
    const shown = mine.map((s) => `${s.version} ×${s.answers}`);
    const show =
      shown.length > 12 ? [...shown.slice(0, 6), `… ${shown.length - 12} more …`, ...shown.slice(-6)] : shown;
    const others = [...new Set(mine.map((s) => s.version))].filter((v) => v !== expected.from && v !== expected.to);
    if (mine[0]?.version !== expected.from)
      problems.push(`${source}: first answers came from ${mine[0]?.version ?? "nobody"}`);
    if (mine.at(-1)?.version !== expected.to)
      problems.push(`${source}: last answers came from ${mine.at(-1)?.version ?? "nobody"}`);
    if (others.length > 0) problems.push(`${source}: answers from other versions: ${others.join(", ")}`);
    if (problems.some((p) => p.startsWith(`${source}:`))) problems.push(`${source}: answered ${show.join(" → ")}`);
  }
  if (problems.length > 0) {
    throw new VersionSwitchError(
      `Expected answers to switch from ${expected.from} to ${expected.to}:\n  ${problems.join("\n  ")}`,
    );
  }
}

/** A running prober. stop() ends it and returns its records (also when requests failed: judging is the caller's). */
export interface Prober {
  readonly source: string;
  stop(): Promise<ProbeRecord[]>;
}

export interface ProberOptions {
  /** Names the records' source, e.g. "service". */
  name: string;
  /** Pause between requests (default 20 ms: about 25 requests/s in-cluster on the test bed). */
  intervalMs?: number;
  /** One request's timeout (default T.httpRequest). */
  timeoutMs?: number;
}

const SAFE_URL = /^https?:\/\/[\w.:[\]-]+(\/[\w./-]*)?$/;

/** The shell loop an in-cluster prober runs (exported for the unit test). */
export function probeLoopScript(url: string, file: string, options: Required<Omit<ProberOptions, "name">>): string {
  if (!SAFE_URL.test(url)) throw new Error(`prober URL "${url}" has characters the probe loop does not quote`);
  const seconds = (ms: number): string => (ms / 1000).toFixed(3);
  const format = `${RECORD_MARK}|$(date +%s%N)|%{exitcode}|%{http_code}|%{time_total}|%header{x-pod}|%{errormsg}\\n`;
  return [
    `: > ${file}.log`,
    `while [ ! -e ${file}.stop ]; do`,
    `  curl -s -o /dev/null --max-time ${seconds(options.timeoutMs)} -H 'Connection: close' -w "${format}" '${url}' >> ${file}.log`,
    `  sleep ${seconds(options.intervalMs)}`,
    "done",
    `echo ${END_MARK} >> ${file}.log`,
  ].join("\n");
}

/**
 * Starts a request loop in `clientPod` (a pod with curl and sh, see startHttpClient) against `url`, e.g.
 * `http://web.<ns>.svc/` (Service DNS name) or `http://<clusterIP>/`. Returns once the first request is recorded.
 */
export async function startPodProber(
  ns: TestNamespace,
  clientPod: string,
  url: string,
  options: ProberOptions,
): Promise<Prober> {
  const source = `${options.name} (in-cluster)`;
  const file = `/tmp/koc-probe-${options.name.replace(/\W/g, "-")}`;
  const script = probeLoopScript(url, file, {
    intervalMs: options.intervalMs ?? 20,
    timeoutMs: options.timeoutMs ?? T.httpRequest,
  });
  // The loop runs detached (its output goes to a file), so this exec returns at once.
  const started = await exec(ns, clientPod, ["sh", "-c", 'sh -c "$1" </dev/null >/dev/null 2>&1 &', "sh", script]);
  if (started.exitCode !== 0) throw new Error(`could not start prober ${source} in ${clientPod}: ${started.stderr}`);
  const read = async (): Promise<string> => (await exec(ns, clientPod, ["cat", `${file}.log`])).stdout;
  await waitFor(
    `prober ${source} in pod ${ns.name}/${clientPod} records its first request to ${url}`,
    {
      observe: read,
      ok: (text) => text.includes(`${RECORD_MARK}|`),
      show: (text) => text.slice(-300) || "(no output yet)",
    },
    T.podStart,
    { signal: ns.signal },
  );
  log(`prober ${source} started: GET ${url} from pod ${clientPod}`);
  return {
    source,
    stop: async () => {
      await exec(ns, clientPod, ["touch", `${file}.stop`]);
      const text = await waitFor(
        `prober ${source} in pod ${ns.name}/${clientPod} stops`,
        {
          observe: read,
          ok: (t) => t.includes(END_MARK),
          show: (t) => `${t.split("\n").length} lines, no end mark yet`,
        },
        T.httpRequest + T.exec,
        { signal: ns.signal },
      );
      return parseProbeLog(text, source);
    },
  };
}

/** Where the test bed says its nodes live (`nodeNetwork`, e.g. 172.19.0.0/16); undefined when it says nothing. */
export const TESTBED_CONFIGMAP = { namespace: "kube-public", name: "k8s-ops-conformance-testbed" } as const;

export async function testbedNodeNetwork(kube: Kube): Promise<string | undefined> {
  try {
    const cm = await kube.core.readNamespacedConfigMap({ ...TESTBED_CONFIGMAP });
    return cm.data?.nodeNetwork;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** Refuses (throws) unless every address is inside the test bed's published node network. */
export function assertTestbedAddresses(addresses: readonly string[], nodeNetwork: string | undefined): void {
  if (nodeNetwork === undefined) {
    throw new Error(
      `refusing to send requests from this host: ConfigMap ${TESTBED_CONFIGMAP.namespace}/${TESTBED_CONFIGMAP.name} ` +
        "(key nodeNetwork) does not exist, so no node address is known to belong to the local test bed",
    );
  }
  const outside = addresses.filter((a) => !ipInCidr(a, nodeNetwork));
  if (outside.length > 0 || addresses.length === 0) {
    throw new Error(
      `refusing to send requests from this host to ${outside.join(", ") || "(no node addresses)"}: not inside the test bed's nodeNetwork ${nodeNetwork}`,
    );
  }
}

async function nodeAddresses(kube: Kube): Promise<string[]> {
  const nodes = (await kube.core.listNode()).items;
  return nodes.flatMap((n) => n.status?.addresses?.filter((a) => a.type === "InternalIP").map((a) => a.address) ?? []);
}

/** Requests from this process, round-robin over `urls` (already checked to be allowed). */
function startHostLoop(urls: readonly URL[], source: string, intervalMs: number, timeoutMs: number): Prober {
  const records: ProbeRecord[] = [];
  let stopped = false;
  const loop = (async () => {
    for (let i = 0; !stopped; i++) {
      const url = urls[i % urls.length] as URL;
      const at = Date.now();
      const t0 = performance.now();
      const { status, pod, error, code } = await freshGet(url, timeoutMs);
      const latencyMs = Math.round((performance.now() - t0) * 10) / 10;
      records.push({ source, at, latencyMs, status, pod, error: code ? `${code}: ${error}` : error });
      await pace(intervalMs); // pacing between requests, not a wait for state
    }
  })();
  return {
    source,
    stop: async () => {
      stopped = true;
      await loop;
      return records;
    },
  };
}

/**
 * Probes Service `service`'s NodePort "from outside": from this host, round-robin over every node's
 * InternalIP, when the test bed publishes its node network and every address is inside it; otherwise
 * from `clientPod` to the first node's address (an in-cluster request), logged as such.
 */
export async function startNodePortProber(
  ns: TestNamespace,
  clientPod: string,
  service: string,
  options: Partial<ProberOptions> = {},
): Promise<Prober> {
  const svc = await ns.kube.core.readNamespacedService({ name: service, namespace: ns.name });
  const nodePort = svc.spec?.ports?.[0]?.nodePort;
  if (nodePort === undefined) throw new Error(`service ${ns.name}/${service} has no NodePort`);
  const addresses = await nodeAddresses(ns.kube);
  const name = options.name ?? "nodeport";
  const intervalMs = options.intervalMs ?? 20;
  const timeoutMs = options.timeoutMs ?? T.httpRequest;
  const nodeNetwork = await testbedNodeNetwork(ns.kube);
  try {
    assertTestbedAddresses(addresses, nodeNetwork);
  } catch (refusal) {
    log(`${(refusal as Error).message}; probing the NodePort from pod ${clientPod} instead`);
    return startPodProber(ns, clientPod, `http://${addresses[0]}:${nodePort}/`, { name, intervalMs, timeoutMs });
  }
  const urls = addresses.map((a) => new URL(`http://${a}:${nodePort}/`));
  const source = `${name} (from this host)`;
  log(`prober ${source} started: GET ${urls.map(String).join(", ")} round-robin (inside nodeNetwork ${nodeNetwork})`);
  return startHostLoop(urls, source, intervalMs, timeoutMs);
}
