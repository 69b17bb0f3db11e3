/**
 * Upgrade acceptance, the cluster part: long-lived canary workloads in the namespace `koc-canary`
 * (manifests/canary/: a Deployment behind a Service, probed from inside the cluster by two canary-prober
 * replicas running helpers/traffic/probe-loop.mjs, a StatefulSet pod with data on a PersistentVolumeClaim, a
 * Secret and a ConfigMap mounted), and a snapshot of their identities that bin/baseline.ts compares before
 * and after an upgrade. The canary-prober's records are kept by the log follower (bin/canary-logs.ts) and
 * judged by bin/upgrade-traffic.ts.
 *
 * The namespace carries `k8s-ops-conformance/canary=true` and not the run labels, so neither the run-end
 * sweep nor `cleanup` removes it: `run --compare` does (unless --keep-canaries), or `kubectl delete ns koc-canary`.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { V1Pod } from "@kubernetes/client-node";
import type { ImageTable } from "../helpers/framework/images.ts";
import { isNotFound, type Kube } from "../helpers/framework/kube.ts";
import { podSecurityLabels, type TestNamespace } from "../helpers/framework/namespace.ts";
import { BOUNDS, POLL, T } from "../helpers/framework/timeouts.ts";
import { waitFor } from "../helpers/framework/wait.ts";
import { apply } from "../helpers/manifests/apply.ts";
import { deploymentAvailable, podReady } from "../helpers/observe/conditions.ts";
import { exec } from "../helpers/traffic/exec.ts";
import { PROBE_LOOP } from "../helpers/traffic/prober.ts";
import { UsageError } from "./args.ts";
import type { CanarySnapshot, PodRecord } from "./baseline.ts";

export const CANARY_NAMESPACE = "koc-canary";
export const CANARY_LABEL = "k8s-ops-conformance/canary";
/** Requests per second of each canary-prober replica (manifests/canary/40-prober.yaml says why a quarter of 200). */
export const CANARY_PROBER_RATE = 50;

/** The canaries' namespace as a TestNamespace, for the helpers that take one (apply, exec, clocks). */
export function canaryNamespace(kube: Kube, images: ImageTable): TestNamespace {
  return {
    name: CANARY_NAMESPACE,
    kube,
    images,
    runId: "canary",
    signal: new AbortController().signal,
    defer: () => {
      // canaries live until the compare removes them
    },
  };
}

/** Creates koc-canary and the canaries, and waits until they serve; refuses when the namespace exists. */
export async function deployCanaries(kube: Kube, images: ImageTable): Promise<void> {
  try {
    const existing = await kube.core.readNamespace({ name: CANARY_NAMESPACE });
    throw new UsageError(
      `namespace ${CANARY_NAMESPACE} exists (created ${existing.metadata?.creationTimestamp?.toISOString()}): an earlier baseline's canaries; compare against that baseline or delete the namespace first`,
    );
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  // nginx and busybox run as root: Pod Security "baseline" is the lowest level the canaries need.
  await kube.core.createNamespace({
    body: {
      metadata: { name: CANARY_NAMESPACE, labels: { [CANARY_LABEL]: "true", ...podSecurityLabels("baseline") } },
    },
  });
  const ns = canaryNamespace(kube, images);
  await waitFor(
    `ServiceAccount ${CANARY_NAMESPACE}/default exists`,
    { observe: () => kube.core.readNamespacedServiceAccount({ name: "default", namespace: ns.name }), ok: () => true },
    T.namespaceReady,
  );
  await kube.core.createNamespacedConfigMap({
    namespace: ns.name,
    body: { metadata: { name: "probe-loop" }, data: { "probe-loop.mjs": readFileSync(PROBE_LOOP, "utf8") } },
  });
  await apply(ns, "canary", {
    proberRate: String(CANARY_PROBER_RATE),
    proberTimeout: String(BOUNDS.proberRequestTimeout),
  });
  await Promise.all([
    waitFor(
      `deployment ${ns.name}/canary-web has 2 available replicas`,
      deploymentAvailable(ns, "canary-web", 2),
      T.rollout,
    ),
    waitFor(`pod ${ns.name}/canary-data-0 is Ready (data written)`, podReady(ns, "canary-data-0"), T.rollout),
    waitFor(
      `deployment ${ns.name}/canary-prober has 2 available replicas`,
      deploymentAvailable(ns, "canary-prober", 2),
      T.rollout,
    ),
  ]);
}

/** Deletes koc-canary and waits until it is gone. */
export async function removeCanaries(kube: Kube): Promise<void> {
  try {
    await kube.core.deleteNamespace({ name: CANARY_NAMESPACE, propagationPolicy: "Background" });
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  await waitFor(
    `namespace ${CANARY_NAMESPACE} is gone`,
    {
      observe: () =>
        kube.core.readNamespace({ name: CANARY_NAMESPACE }).then(
          (n) => n.status?.phase ?? "present",
          (error) => {
            if (isNotFound(error)) return "gone";
            throw error;
          },
        ),
      ok: (phase) => phase === "gone",
    },
    T.cleanup,
    { interval: POLL.slow },
  );
}

const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");

/** `node -e FETCH_DIGEST URL` in a canary-prober pod (Node.js, no curl): the sha256 of the page URL serves. */
const FETCH_DIGEST = `fetch(process.argv[1], { signal: AbortSignal.timeout(${BOUNDS.proberRequestTimeout}) })
  .then(async (r) => {
    if (r.status !== 200) throw new Error("HTTP " + r.status);
    console.log(require("node:crypto").createHash("sha256").update(await r.text()).digest("hex"));
  })
  .catch((e) => { console.error(e.message); process.exit(1); });`;

async function shellIn(ns: TestNamespace, pod: string, script: string): Promise<string> {
  const result = await exec(ns, pod, ["sh", "-c", script]);
  if (result.exitCode !== 0)
    throw new Error(`${ns.name}/${pod}: ${script} exited ${result.exitCode}: ${result.stderr.trim()}`);
  return result.stdout.trim();
}

function ownerOf(pod: V1Pod): string {
  const owner = pod.metadata?.ownerReferences?.find((o) => o.controller);
  return owner ? `${owner.kind}/${owner.name}` : "none";
}

function readyPodsOf(pods: V1Pod[], app: string): V1Pod[] {
  return pods.filter(
    (p) =>
      p.metadata?.labels?.app === app &&
      !p.metadata?.deletionTimestamp &&
      p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
  );
}

/** The ReplicaSet a Deployment currently rolls out (its revision annotation matches the Deployment's). */
async function currentReplicaSet(ns: TestNamespace, deployment: string): Promise<string> {
  const d = await ns.kube.apps.readNamespacedDeployment({ name: deployment, namespace: ns.name });
  const revision = d.metadata?.annotations?.["deployment.kubernetes.io/revision"];
  const sets = await ns.kube.apps.listNamespacedReplicaSet({ namespace: ns.name });
  const current = sets.items.find(
    (rs) =>
      rs.metadata?.ownerReferences?.some((o) => o.uid === d.metadata?.uid) &&
      rs.metadata?.annotations?.["deployment.kubernetes.io/revision"] === revision,
  );
  return `${current?.metadata?.name ?? "(none)"} (revision ${revision ?? "?"})`;
}

/** Reads what the canaries are now. Waits (bounded) until each is serving again, as after a node restart. */
export async function snapshotCanaries(kube: Kube, images: ImageTable): Promise<CanarySnapshot> {
  const ns = canaryNamespace(kube, images);
  const namespace = await kube.core.readNamespace({ name: CANARY_NAMESPACE }).catch((error) => {
    if (isNotFound(error)) throw new UsageError(`namespace ${CANARY_NAMESPACE} does not exist: no canaries to compare`);
    throw error;
  });
  await Promise.all([
    waitFor(
      `deployment ${ns.name}/canary-web has 2 available replicas`,
      deploymentAvailable(ns, "canary-web", 2),
      T.rollout,
    ),
    waitFor(`pod ${ns.name}/canary-data-0 is Ready`, podReady(ns, "canary-data-0"), T.rollout),
    waitFor(
      `deployment ${ns.name}/canary-prober has 2 available replicas`,
      deploymentAvailable(ns, "canary-prober", 2),
      T.rollout,
    ),
  ]);
  const [pods, nodes, web, data, pvc, configMap, secret] = await Promise.all([
    kube.core.listNamespacedPod({ namespace: ns.name }).then((l) => l.items),
    kube.core.listNode().then((l) => l.items),
    kube.apps.readNamespacedDeployment({ name: "canary-web", namespace: ns.name }),
    kube.apps.readNamespacedStatefulSet({ name: "canary-data", namespace: ns.name }),
    kube.core.readNamespacedPersistentVolumeClaim({ name: "data-canary-data-0", namespace: ns.name }),
    kube.core.readNamespacedConfigMap({ name: "canary-config", namespace: ns.name }),
    kube.core.readNamespacedSecret({ name: "canary-secret", namespace: ns.name }),
  ]);
  const prober = readyPodsOf(pods, "canary-prober")[0]?.metadata?.name ?? "";
  const webPods = readyPodsOf(pods, "canary-web").map((p) => p.metadata?.name ?? "");
  // The page must be the ConfigMap's, fetched through the Service's ClusterIP (an empty or failed answer is not).
  const page = sha256(configMap.data?.["index.html"] ?? "");
  const url = `http://${(await kube.core.readNamespacedService({ name: "canary-web", namespace: ns.name })).spec?.clusterIP}/`;
  const served = await waitFor(
    `GET ${url} (Service canary-web) from ${prober} answers with the ConfigMap's page (sha256 ${page.slice(0, 12)}...)`,
    {
      observe: () =>
        exec(ns, prober, ["node", "-e", FETCH_DIGEST, url]).then(
          (r) => (r.exitCode === 0 ? r.stdout.trim() : `no answer: ${r.stderr.trim().split("\n").at(-1)}`),
          (error: Error) => `no answer: ${error.message}`,
        ),
      ok: (digest) => digest === page,
    },
    T.serviceReachable,
  );
  const mounted = await Promise.all(
    webPods.map((pod) => shellIn(ns, pod, "sha256sum /etc/canary/token | cut -d' ' -f1")),
  );
  const dataDigest = await shellIn(ns, "canary-data-0", "sha256sum /data/canary.bin | cut -d' ' -f1");
  const readySince = (name: string): string =>
    nodes
      .find((n) => n.metadata?.name === name)
      ?.status?.conditions?.find((c) => c.type === "Ready")
      ?.lastTransitionTime?.toISOString() ?? "?";
  const podRecords: PodRecord[] = pods
    .filter((p) => !p.metadata?.deletionTimestamp)
    .map((p) => ({
      name: p.metadata?.name ?? "?",
      uid: p.metadata?.uid ?? "?",
      owner: ownerOf(p),
      node: p.spec?.nodeName ?? "?",
      nodeReadySince: readySince(p.spec?.nodeName ?? ""),
      containers: (p.status?.containerStatuses ?? []).map((c) => {
        const last = c.lastState?.terminated;
        return {
          name: c.name,
          restarts: c.restartCount,
          lastTermination: last ? `${last.reason ?? "?"} (exit ${last.exitCode})` : undefined,
        };
      }),
    }));
  const sameEverywhere = (digests: string[]): string =>
    new Set(digests).size === 1 ? (digests[0] ?? "") : `differs between pods: ${digests.join(", ")}`;
  return {
    identities: {
      [`Namespace ${CANARY_NAMESPACE} uid`]: namespace.metadata?.uid ?? "?",
      "Deployment canary-web uid": web.metadata?.uid ?? "?",
      "Deployment canary-web serving ReplicaSet": await currentReplicaSet(ns, "canary-web"),
      "Deployment canary-prober serving ReplicaSet": await currentReplicaSet(ns, "canary-prober"),
      "StatefulSet canary-data uid": data.metadata?.uid ?? "?",
      "StatefulSet canary-data revision": data.status?.currentRevision ?? "?",
      "PersistentVolumeClaim data-canary-data-0 uid": pvc.metadata?.uid ?? "?",
      "PersistentVolumeClaim data-canary-data-0 volume": pvc.spec?.volumeName ?? "?",
      "sha256 of /data/canary.bin on the claim": dataDigest,
      "ConfigMap canary-config uid": configMap.metadata?.uid ?? "?",
      "Secret canary-secret uid": secret.metadata?.uid ?? "?",
      "sha256 of the page Service canary-web serves (the ConfigMap's)": served,
      "sha256 of the Secret as mounted in canary-web pods": sameEverywhere(mounted),
      "sha256 of the Secret's value in the API": sha256(Buffer.from(secret.data?.token ?? "", "base64").toString()),
    },
    pods: podRecords,
  };
}
