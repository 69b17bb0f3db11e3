/**
 * What a person needs at 3 a.m. when a scenario failed, gathered before its namespace is deleted:
 * events sorted by time, pods with conditions and container states, current and previous container
 * logs, describe output (kubectl's when it is installed, else our own), node conditions, and the test's
 * PersistentVolumeClaims with the PersistentVolumes they use or the test created, and those volumes' events.
 * Every text is scrubbed of Secret values, written under reports/artifacts/<file>/<test>/ and attached
 * to the test's Allure result.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import type {
  CoreV1Event,
  KubernetesObject,
  V1PersistentVolume,
  V1PersistentVolumeClaim,
  V1Pod,
} from "@kubernetes/client-node";
import { execa } from "execa";
import { stringify } from "yaml";
import { showConditions, showPod } from "../observe/conditions.ts";
import { showClaim, showVolume } from "../observe/volumes.ts";
import { config } from "./config.ts";
import { describeApiError, type Kube } from "./kube.ts";
import { redactor } from "./redact.ts";
import { attach } from "./report.ts";
import { T } from "./timeouts.ts";

export interface Artifact {
  /** File name under the test's artifact folder, e.g. `events.txt`, `logs/web-1.nginx.previous.log`. */
  name: string;
  content: string;
}

/** When an event last happened: lastTimestamp, else eventTime (events.k8s.io style), else when it was created. */
export function eventTime(event: CoreV1Event): number {
  const when = event.lastTimestamp ?? event.series?.lastObservedTime ?? event.eventTime ?? event.firstTimestamp;
  return new Date(when ?? event.metadata.creationTimestamp ?? 0).getTime();
}

/** Events oldest first, one per line: `14:02:01.120 Warning BackOff Pod/web-1: Back-off restarting ... (x3)`. */
export function formatEvents(events: readonly CoreV1Event[]): string {
  if (events.length === 0) return "(no events)";
  return [...events]
    .sort((a, b) => eventTime(a) - eventTime(b))
    .map((e) => {
      const at = new Date(eventTime(e)).toISOString().slice(11, 23);
      const count = (e.count ?? e.series?.count ?? 1) > 1 ? ` (x${e.count ?? e.series?.count})` : "";
      const object = `${e.involvedObject.kind}/${e.involvedObject.name}`;
      return `${at} ${e.type ?? ""} ${e.reason ?? ""} ${object}: ${(e.message ?? "").trim()}${count}`;
    })
    .join("\n");
}

/** kubectl on PATH or in the test bed's cache ($HOME/.cache/k8s-ops-conformance/kubernetes-<version>/bin). */
export function findKubectl(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string | undefined {
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (dir && existsSync(join(dir, "kubectl"))) return join(dir, "kubectl");
  }
  const cache = join(home, ".cache", "k8s-ops-conformance");
  if (!existsSync(cache)) return undefined;
  const versions = readdirSync(cache)
    .filter((d) => d.startsWith("kubernetes-"))
    .sort()
    .reverse();
  return versions.map((d) => join(cache, d, "bin", "kubectl")).find((p) => existsSync(p));
}

/** What our own describe lists when kubectl is missing. */
export const DESCRIBED_KINDS = [
  ["v1", "Pod"],
  ["apps/v1", "Deployment"],
  ["apps/v1", "ReplicaSet"],
  ["apps/v1", "StatefulSet"],
  ["apps/v1", "DaemonSet"],
  ["batch/v1", "Job"],
  ["v1", "Service"],
  ["discovery.k8s.io/v1", "EndpointSlice"],
  ["v1", "PersistentVolumeClaim"],
  ["v1", "ConfigMap"],
] as const;

/**
 * Our own describe: every object's YAML (managedFields dropped). Secrets are left out, as kubectl describe
 * leaves them out: their masked data says nothing, and listing them would ask every run for `list secrets`.
 */
async function describeWithoutKubectl(kube: Kube, namespace: string): Promise<string> {
  const sections: string[] = [];
  for (const [apiVersion, kind] of DESCRIBED_KINDS) {
    const list = await kube.objects.list(apiVersion, kind, namespace).catch((error) => ({ error }));
    if ("error" in list) {
      sections.push(`# ${kind}: cannot list: ${describeApiError(list.error)}`);
      continue;
    }
    for (const item of list.items) {
      const plain = JSON.parse(JSON.stringify({ apiVersion, kind, ...item })) as KubernetesObject;
      delete plain.metadata?.managedFields;
      sections.push(`# ${kind}/${plain.metadata?.name}\n${stringify(redactor.redactObject(plain))}`);
    }
  }
  return sections.join("---\n");
}

/** What `kubectl describe` is asked for. */
export const KUBECTL_DESCRIBED_KINDS =
  "pods,deployments,replicasets,statefulsets,daemonsets,jobs,services,endpointslices,pvc";

async function describe(kube: Kube, namespace: string): Promise<Artifact> {
  const kubectl = findKubectl();
  if (kubectl === undefined) {
    return { name: "describe.yaml", content: await describeWithoutKubectl(kube, namespace) };
  }
  const cfg = config();
  const target = [...(cfg.kubeconfig ? ["--kubeconfig", cfg.kubeconfig] : []), "--context", kube.context];
  const result = await execa(kubectl, [...target, "describe", "-n", namespace, KUBECTL_DESCRIBED_KINDS], {
    reject: false,
    timeout: T.diagnostics / 2,
  });
  return { name: "describe.txt", content: `${result.stdout}\n${result.stderr}`.trim() };
}

function podSummary(pods: readonly V1Pod[]): string {
  if (pods.length === 0) return "(no pods)";
  return pods
    .map((pod) => {
      const containers = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])].map(
        (s) =>
          `    ${s.name}: ready=${s.ready} restarts=${s.restartCount} image=${s.image} state=${JSON.stringify(s.state)}` +
          (s.lastState?.terminated ? ` lastState=${JSON.stringify(s.lastState)}` : ""),
      );
      return [showPod(pod), `  conditions: ${showConditions(pod.status?.conditions)}`, ...containers].join("\n");
    })
    .join("\n\n");
}

/** Current logs of every container of `pod`, and previous logs of those that restarted. */
async function logsOfPod(kube: Kube, namespace: string, pod: V1Pod): Promise<Artifact[]> {
  const name = pod.metadata?.name ?? "?";
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  const wanted = statuses.flatMap(
    (s) =>
      (s.restartCount > 0
        ? [
            [s.name, false],
            [s.name, true],
          ]
        : [[s.name, false]]) as Array<[string, boolean]>,
  );
  return Promise.all(
    wanted.map(async ([container, previous]) => ({
      name: `logs/${name}.${container}${previous ? ".previous" : ""}.log`,
      content: await kube.core
        .readNamespacedPodLog({ name, namespace, container, previous, tailLines: 1000 })
        .then(String, (error: unknown) => `(no log: ${describeApiError(error)})`),
    })),
  );
}

async function nodeSummary(kube: Kube): Promise<string> {
  const nodes = (await kube.core.listNode()).items;
  if (nodes.length > 10) return `(${nodes.length} nodes; node details skipped on clusters of more than 10)`;
  return nodes.map((n) => `${n.metadata?.name}: ${showConditions(n.status?.conditions)}`).join("\n");
}

/**
 * The volumes that belong to a test: bound to one of its claims, or created by it (the suite names
 * cluster-scoped objects after the namespace, `{{namespace}}` in manifests/).
 */
export function volumesOfNamespace(pvs: readonly V1PersistentVolume[], namespace: string): V1PersistentVolume[] {
  return pvs.filter(
    (pv) => pv.spec?.claimRef?.namespace === namespace || (pv.metadata?.name ?? "").includes(namespace),
  );
}

/** Claims and volumes, one line each, then each volume's events (PersistentVolume events live in `default`). */
export function formatVolumes(
  claims: readonly V1PersistentVolumeClaim[],
  volumes: readonly V1PersistentVolume[],
  volumeEvents: readonly CoreV1Event[],
): string {
  if (claims.length === 0 && volumes.length === 0) return "(no PersistentVolumeClaims or PersistentVolumes)";
  const lines = [
    "PersistentVolumeClaims:",
    ...(claims.length ? claims.map((c) => `  ${showClaim(c)}`) : ["  (none)"]),
    "PersistentVolumes:",
    ...(volumes.length ? volumes.map((v) => `  ${showVolume(v)}`) : ["  (none)"]),
    "PersistentVolume events:",
    ...formatEvents(volumeEvents)
      .split("\n")
      .map((line) => `  ${line}`),
  ];
  return lines.join("\n");
}

async function volumeSummary(kube: Kube, namespace: string): Promise<string> {
  const claims = (await kube.core.listNamespacedPersistentVolumeClaim({ namespace })).items;
  const volumes = volumesOfNamespace((await kube.core.listPersistentVolume()).items, namespace);
  const events = await Promise.all(
    volumes.map(
      async (pv) =>
        (
          await kube.core.listNamespacedEvent({
            namespace: "default",
            fieldSelector: `involvedObject.kind=PersistentVolume,involvedObject.name=${pv.metadata?.name}`,
          })
        ).items,
    ),
  );
  return formatVolumes(claims, volumes, events.flat());
}

/** Gathers every artifact for `namespace`; a part that fails is reported in its place, never thrown. */
export async function collectDiagnostics(kube: Kube, namespace: string): Promise<Artifact[]> {
  const attempt = async (name: string, make: () => Promise<string>): Promise<Artifact> => ({
    name,
    content: await make().catch((error: unknown) => `(could not collect: ${describeApiError(error)})`),
  });
  const pods = await kube.core
    .listNamespacedPod({ namespace })
    .then((list) => list.items)
    .catch(() => [] as V1Pod[]);
  const artifacts = await Promise.all([
    attempt("events.txt", async () => formatEvents((await kube.core.listNamespacedEvent({ namespace })).items)),
    attempt("pods.txt", async () => podSummary(pods)),
    attempt("nodes.txt", () => nodeSummary(kube)),
    attempt("volumes.txt", () => volumeSummary(kube, namespace)),
    describe(kube, namespace).catch((error: unknown) => ({
      name: "describe.txt",
      content: `(failed: ${describeApiError(error)})`,
    })),
  ]);
  const logs = await Promise.all(pods.map((pod) => logsOfPod(kube, namespace, pod)));
  return [...artifacts, ...logs.flat()];
}

/** `Smoke > should answer HTTP @smoke` → `Smoke-should-answer-HTTP-smoke` (a safe folder name). */
export function safeFileName(text: string): string {
  return (
    text
      .replace(/[^A-Za-z0-9._-]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 120) || "test"
  );
}

/** Writes artifacts under `dir` and attaches each to the current test; every text is scrubbed first. */
export async function saveArtifacts(artifacts: readonly Artifact[], dir: string): Promise<void> {
  for (const artifact of artifacts) {
    const content = redactor.scrub(artifact.content);
    const path = join(dir, artifact.name);
    mkdirSync(join(path, ".."), { recursive: true });
    writeFileSync(path, content);
    await attach(
      `diagnostics: ${artifact.name}`,
      content,
      artifact.name.endsWith(".yaml") ? "application/yaml" : "text/plain",
    );
  }
}
