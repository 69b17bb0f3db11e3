/**
 * What the test bed settles before it calls itself ready, so the first run after `up` meets a cluster
 * in the state every later run meets.
 *
 * kube-proxy gets CPU requests. kubeadm deploys it with none, which makes it BestEffort: under CPU
 * contention its cgroup weighs 2 against the 1024 per core of every pod with requests. On this 2-core
 * host the three nodes, their pods, the probers and the runner contend all through a run, and kube-proxy
 * then lags seconds behind EndpointSlice changes: a pod deleted in a rollout keeps receiving connections
 * after its preStop delay ended and nginx exited, and probers see ECONNRESET. A real cluster's nodes are
 * not oversubscribed like this; the test bed must not fail a zero-downtime verdict for its own sake.
 */
import { kubectl, log } from "../common.ts";

/**
 * kube-proxy's resources: a CPU request, so its cgroup weighs as much as a pod's that asks for 100m, and
 * nothing else (a memory request would take room the eviction scenario plans with on its node).
 */
export const KUBE_PROXY_RESOURCES = { requests: { cpu: "100m" } } as const;

export async function ensureKubeProxyRequests(): Promise<void> {
  const now = await kubectl(
    "-n",
    "kube-system",
    "get",
    "ds",
    "kube-proxy",
    "-o",
    "jsonpath={.spec.template.spec.containers[0].resources}",
  );
  if (now.trim() === JSON.stringify(KUBE_PROXY_RESOURCES)) return;
  const patch = [{ op: "add", path: "/spec/template/spec/containers/0/resources", value: KUBE_PROXY_RESOURCES }];
  await kubectl("-n", "kube-system", "patch", "ds", "kube-proxy", "--type=json", "-p", JSON.stringify(patch));
  await kubectl("-n", "kube-system", "rollout", "status", "ds/kube-proxy", "--timeout=180s");
  log(`kube-proxy requests cpu ${KUBE_PROXY_RESOURCES.requests.cpu} (Burstable, not BestEffort)`);
}
