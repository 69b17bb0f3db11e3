/**
 * `run --in-cluster`, the pure part: what is created in the cluster for one run inside it, and how the
 * runner's log is read back.
 *
 * Created, all labelled k8s-ops-conformance/runner=<run id> (not managed-by, so neither the inner run's
 * sweep nor `cleanup` takes the runner's own objects away under it; the launcher deletes them):
 *   - namespace koc-runner-<run id> (Pod Security restricted) with a ServiceAccount,
 *   - ClusterRole + ClusterRoleBinding, and a Role + RoleBinding per fixed namespace (kube-public), granting
 *     what the selected suites need (suites/<suite>/permissions.yaml, helpers/framework/permissions.ts),
 *   - with --compare, a ConfigMap holding the baseline file,
 *   - a Job running the suite image with the same run flags. Its container writes the results to an emptyDir
 *     (/results), prints FINISHED_MARKER, and waits until the launcher has copied them (DONE_FILE), at most
 *     COPY_WAIT_SECONDS; the launcher copies through the API (exec + tar, as `kubectl cp`), never a volume.
 */
import { type Permission, rbacRules } from "../helpers/framework/permissions.ts";
import { MEMORY_PRESSURE_LABEL } from "../helpers/manifests/prereq.ts";

export const RUNNER_LABEL = "k8s-ops-conformance/runner";
export const RESULTS_DIR = "/results";
export const BASELINE_DIR = "/baseline";
export const DONE_FILE = `${RESULTS_DIR}/.copied`;
export const FINISHED_MARKER = "koc-runner: finished with exit code";
/** How long the finished runner waits for the launcher to copy its results (then it exits, results lost). */
export const COPY_WAIT_SECONDS = 3600;
/** The suite image's user (image/build.sh): not root, so the runner meets Pod Security `restricted`. */
export const RUNNER_UID = 10001;
export const PROJECT_DIR = "/opt/k8s-ops-conformance";
const CONTAINER = "runner";

/** `koc-runner-<run id>`, a DNS label. */
export function runnerName(runId: string): string {
  return `koc-runner-${runId.toLowerCase().replace(/[^a-z0-9-]/g, "-")}`.slice(0, 63).replace(/-+$/, "");
}

/**
 * The container's shell: runs the CLI with the forwarded flags ("$@"), passes SIGTERM on (the inner run then
 * stops its tests and deletes what it created), and after a normal end waits for the copy.
 */
export const RUNNER_SCRIPT = `node bin/k8s-ops-conformance.ts "$@" & pid=$!
stopped=0
trap 'stopped=1; kill -TERM $pid 2>/dev/null' TERM INT
wait $pid; code=$?
while kill -0 $pid 2>/dev/null; do wait $pid; code=$?; done
[ "$stopped" = 1 ] && exit $code
echo "$code" > ${RESULTS_DIR}/exit-code
echo "${FINISHED_MARKER} $code"
i=0
while [ ! -e ${DONE_FILE} ] && [ $i -lt ${COPY_WAIT_SECONDS} ]; do sleep 1; i=$((i+1)); done
exit $code`;

export interface RunnerSpec {
  runId: string;
  image: string;
  /** The run's flags for the CLI inside (bin/forward.ts runArgv), without the leading node and script. */
  args: string[];
  env: Record<string, string>;
  permissions: readonly Permission[];
  /** The baseline file's content, for --compare. */
  baseline?: string | undefined;
  /** Seconds the runner gets to stop its tests and clean up when the launcher is interrupted. */
  gracePeriodSeconds: number;
}

type Manifest = Record<string, unknown> & { apiVersion: string; kind: string; metadata: Record<string, unknown> };

/** Everything `run --in-cluster` creates, in creation order (delete in reverse). */
export function runnerManifests(spec: RunnerSpec): Manifest[] {
  const name = runnerName(spec.runId);
  const labels = { "app.kubernetes.io/name": "k8s-ops-conformance-runner", [RUNNER_LABEL]: name };
  const rbac = "rbac.authorization.k8s.io/v1";
  const subject = { kind: "ServiceAccount", name, namespace: name };
  const docs: Manifest[] = [
    {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: {
        name,
        labels: {
          ...labels,
          "pod-security.kubernetes.io/enforce": "restricted",
          "pod-security.kubernetes.io/warn": "restricted",
        },
      },
    },
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name, namespace: name, labels } },
    {
      apiVersion: rbac,
      kind: "ClusterRole",
      metadata: { name, labels },
      rules: rbacRules(spec.permissions.filter((p) => p.namespace === undefined)),
    },
    {
      apiVersion: rbac,
      kind: "ClusterRoleBinding",
      metadata: { name, labels },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name },
      subjects: [subject],
    },
  ];
  const namespaces = [...new Set(spec.permissions.flatMap((p) => (p.namespace ? [p.namespace] : [])))].sort();
  for (const namespace of namespaces) {
    docs.push(
      {
        apiVersion: rbac,
        kind: "Role",
        metadata: { name, namespace, labels },
        rules: rbacRules(spec.permissions.filter((p) => p.namespace === namespace)),
      },
      {
        apiVersion: rbac,
        kind: "RoleBinding",
        metadata: { name, namespace, labels },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
        subjects: [subject],
      },
    );
  }
  if (spec.baseline !== undefined) {
    docs.push({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "baseline", namespace: name, labels },
      data: { "baseline.json": spec.baseline },
    });
  }
  docs.push(runnerJob(spec, name, labels));
  return docs;
}

function runnerJob(spec: RunnerSpec, name: string, labels: Record<string, string>): Manifest {
  const volumes: object[] = [
    { name: "results", emptyDir: {} },
    { name: "tmp", emptyDir: {} },
  ];
  const mounts: object[] = [
    { name: "results", mountPath: RESULTS_DIR },
    { name: "tmp", mountPath: "/tmp" },
  ];
  if (spec.baseline !== undefined) {
    volumes.push({ name: "baseline", configMap: { name: "baseline" } });
    mounts.push({ name: "baseline", mountPath: BASELINE_DIR, readOnly: true });
  }
  const env = { ...spec.env, KOC_IN_CLUSTER: "1", HOME: "/tmp" };
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name, namespace: name, labels },
    spec: {
      backoffLimit: 0,
      template: {
        metadata: { labels },
        spec: {
          serviceAccountName: name,
          restartPolicy: "Never",
          terminationGracePeriodSeconds: spec.gracePeriodSeconds,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: RUNNER_UID,
            runAsGroup: RUNNER_UID,
            seccompProfile: { type: "RuntimeDefault" },
          },
          // Never on the node the eviction scenario puts under memory pressure (the local test bed labels it).
          affinity: {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [
                  { matchExpressions: [{ key: MEMORY_PRESSURE_LABEL.key, operator: "DoesNotExist" }] },
                ],
              },
            },
          },
          containers: [
            {
              name: CONTAINER,
              image: spec.image,
              imagePullPolicy: "IfNotPresent",
              workingDir: PROJECT_DIR,
              command: ["sh", "-c", RUNNER_SCRIPT, "koc-runner", ...spec.args],
              env: Object.entries(env).map(([n, value]) => ({ name: n, value })),
              resources: { requests: { cpu: "250m", memory: "512Mi" }, limits: { memory: "2Gi" } },
              securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
              volumeMounts: mounts,
            },
          ],
          volumes,
        },
      },
    },
  };
}

export const RUNNER_CONTAINER = CONTAINER;

// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour sequences
const ANSI = /\u001b\[[0-9;]*m/g;

/**
 * The line to print for one line of the runner's log, or undefined: each finished scenario (vitest's
 * ✓ passed, × failed, ↓ skipped), the CLI's own lines and the count line; the rest goes only to runner.log.
 */
export function progressLine(raw: string): string | undefined {
  const line = raw.replace(ANSI, "").trimEnd();
  const scenario = /^\s*([✓✔×✗↓])\s+(.+)$/.exec(line);
  if (scenario) return `${scenario[1]} ${scenario[2]}`;
  if (/^(k8s-ops-conformance:|e2e: |koc-runner:)/.test(line)) return line;
  return undefined;
}

/** The exit code in the runner's FINISHED_MARKER line, or undefined for any other line. */
export function finishedCode(raw: string): number | undefined {
  const match = new RegExp(`^${FINISHED_MARKER} (\\d+)$`).exec(raw.replace(ANSI, "").trim());
  return match ? Number(match[1]) : undefined;
}
