/**
 * The cluster's life: kind's configuration, creating the cluster, reusing a healthy one, deleting it,
 * and what it publishes for the suites (kube-public ConfigMaps).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { $, chalk } from "zx";
import { PRESSURE_NODE_KEY, PRESSURE_NODE_REASON_KEY } from "../helpers/manifests/prereq.ts";
import { nodeImageTag, workloadsFile } from "./build/local-images.ts";
import {
  CACHE,
  CLUSTER,
  IMAGES_CONFIGMAP,
  kindSubnet,
  kubectl,
  log,
  MANAGED,
  type Mode,
  NETWORK,
  phase,
  TESTBED,
  TESTBED_CONFIGMAP,
  until,
  type Versions,
} from "./common.ts";
import { minorOf } from "./versions.ts";

export async function kindBinary(v: Versions): Promise<string> {
  await $`bash ${join(TESTBED, "build/components.sh")} ${join(CACHE, "components")} kind`;
  return join(CACHE, "components", `kind-${v.KIND_VERSION}`, "kind");
}

/** A running test bed of another Kubernetes minor than the one asked for; cluster:up exits 2 with it. */
export class VersionMismatchError extends Error {}

/**
 * The Kubernetes version the cluster's nodes run, as the nodes report it (their kubelets), e.g. "v1.36.3";
 * several versions joined with ", " during a mixed state.
 */
export async function runningVersion(): Promise<string> {
  const out = await kubectl("get", "nodes", "-o", "jsonpath={.items[*].status.nodeInfo.kubeletVersion}");
  return [...new Set(out.split(/\s+/).filter(Boolean))].sort().join(", ");
}

/**
 * An existing test bed of another minor is never reused and never replaced behind the user's back (suites
 * may be running on it): `up` refuses with one line. The node says what it runs (kind's /kind/version,
 * readable before the API server answers; cluster:upgrade rewrites it with the kubelet it installs).
 */
async function refuseOtherMinor(nodes: string[], v: Versions): Promise<void> {
  const node = nodes.find((n) => n.endsWith("-control-plane")) ?? nodes[0] ?? "";
  const out = await $`docker exec ${node} cat /kind/version`.nothrow();
  const running = out.stdout.trim();
  if (out.exitCode !== 0 || minorOf(running) === v.KUBERNETES_MINOR) return;
  throw new VersionMismatchError(
    `${CLUSTER} runs Kubernetes ${running}, ${v.KUBERNETES_VERSION} (${v.KUBERNETES_MINOR}) was asked for: ` +
      `npm run cluster:down first, or KOC_TESTBED_NAME=<name> for a second test bed`,
  );
}

export async function clusterNodes(): Promise<string[]> {
  const out = await $`docker ps -a --filter label=io.x-k8s.kind.cluster=${CLUSTER} --format {{.Names}}`.nothrow();
  return out.stdout.split("\n").filter(Boolean).sort();
}

/** What the memory-pressure node's pods may take of the host's memory (see kindConfig). */
const PRESSURE_PODS_CAP_MI = 3072;

/**
 * The host's memory, and why it gets no memory-pressure node (undefined: it gets one): the node needs twice
 * its pods' cap, and /proc/meminfo (not Linux: none). The suites read the answer from the ConfigMap
 * publishTestbedInfo writes: where the node is promised, its absence fails the eviction scenario.
 */
export function pressureNodeHost(): { hostMi: number; why?: string } {
  let hostMi = 0;
  try {
    const kib = /^MemTotal:\s+(\d+) kB/m.exec(readFileSync("/proc/meminfo", "utf8"))?.[1];
    hostMi = Math.floor(Number(kib ?? 0) / 1024);
  } catch {
    return { hostMi, why: "no /proc/meminfo on this host (not Linux): no memory-pressure node" };
  }
  if (hostMi < 2 * PRESSURE_PODS_CAP_MI)
    return {
      hostMi,
      why: `the host has ${hostMi} MiB of memory, the memory-pressure node needs ${2 * PRESSURE_PODS_CAP_MI}`,
    };
  return { hostMi };
}

export function kindConfig(): string {
  // Three schedulable nodes like the clusters our users accept: the control plane keeps no taint.
  // failCgroupV1: false keeps cgroup v1 hosts working: from 1.35 the kubelet refuses them by default.
  // The patches name no apiVersion: kind (v0.33) writes kubeadm v1beta3 for 1.35 and v1beta4 from 1.36,
  // and turns the kubeletExtraArgs map below into v1beta4's name/value list itself.
  //
  // The second worker is the memory-pressure node (label k8s-ops-conformance/memory-pressure=true) for the
  // eviction scenario: its kubelet reserves all but 3 GiB of the host's memory (systemReserved), caps its
  // pods' cgroup there (enforceNodeAllocatable: pods), and evicts once less than 1.5 GiB of that is left
  // (evictionHard memory.available, which the kubelet also applies to allocatable). So pods see 1.5 GiB
  // allocatable, 1.5 GiB of allocation puts the node under pressure well before the kernel's cap, and
  // however much its pods try to allocate, they can never take more than 3 GiB of this machine. kind's own evictionHard
  // disk values (0%) are repeated because the flag replaces the whole map. Worker kubelets take their
  // configuration from the cluster, so the settings are flags (kubeletExtraArgs) on that node only.
  const thresholdMi = 1536;
  const { hostMi, why } = pressureNodeHost();
  const pressureWorker =
    why === undefined
      ? `  - role: worker
    labels:
      k8s-ops-conformance/memory-pressure: "true"
    kubeadmConfigPatches:
      - |
        kind: JoinConfiguration
        nodeRegistration:
          kubeletExtraArgs:
            system-reserved: "memory=${hostMi - PRESSURE_PODS_CAP_MI}Mi"
            enforce-node-allocatable: "pods"
            eviction-hard: "memory.available<${thresholdMi}Mi,nodefs.available<0%,nodefs.inodesFree<0%,imagefs.available<0%"
            eviction-pressure-transition-period: "30s"
`
      : "  - role: worker\n";
  return `kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
  - role: control-plane
  - role: worker
${pressureWorker}kubeadmConfigPatches:
  - |
    kind: InitConfiguration
    nodeRegistration:
      taints: []
  - |
    kind: KubeletConfiguration
    failCgroupV1: false
`;
}

export async function networkExists(): Promise<boolean> {
  return (await $`docker network inspect ${NETWORK}`.nothrow()).exitCode === 0;
}

/** The IPv4 `kind` network, made before kind so that kind reuses it; labelled so `down` knows it is ours. */
export async function ensureNetwork(): Promise<void> {
  if (await networkExists()) return;
  await $`docker network create -d bridge --label ${MANAGED} -o com.docker.network.bridge.enable_ip_masquerade=true ${NETWORK}`;
}

export async function createCluster(kind: string, imageArgs: string[]): Promise<void> {
  const cfg = join(CACHE, `kind-config-${CLUSTER}.yaml`);
  mkdirSync(CACHE, { recursive: true });
  writeFileSync(cfg, kindConfig());
  await phase("kind create cluster", () =>
    $`${kind} create cluster --name ${CLUSTER} ${imageArgs} --config ${cfg} --wait 0s`.quiet(false),
  );
}

export async function waitHealthy(timeoutMs = 300_000): Promise<void> {
  await until("3 Ready nodes", timeoutMs, async () => {
    const out = await kubectl("get", "nodes", "--no-headers");
    const lines = out.trim().split("\n").filter(Boolean);
    const ready = lines.filter((l) => / Ready /.test(l)).length;
    return ready === 3 && lines.length === 3 ? true : out.trim();
  });
  // Ready can be stale for 40 s after the nodes stopped (a host restart, a killed docker): every kubelet
  // must have renewed its lease just now, and the control plane's own pods must be ready
  await until("every kubelet renewed its lease in the last 20s", timeoutMs, async () => {
    const out = await kubectl(
      "-n",
      "kube-node-lease",
      "get",
      "lease",
      "-o",
      'jsonpath={range .items[*]}{.metadata.name} {.spec.renewTime}{"\\n"}{end}',
    );
    const stale = out
      .trim()
      .split("\n")
      .filter((l) => Date.now() - Date.parse(l.split(" ")[1] ?? "") > 20_000);
    return stale.length === 0 ? true : `stale: ${stale.join(", ")}`;
  });
  await until("control plane pods ready", timeoutMs, async () => {
    const out = await kubectl(
      "-n",
      "kube-system",
      "get",
      "pods",
      "-l",
      "tier=control-plane",
      "-o",
      'jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status} {end}',
    );
    return out.includes("=") && !out.includes("=False") ? true : out.trim();
  });
  for (const [ns, deploy] of [
    ["kube-system", "coredns"],
    ["local-path-storage", "local-path-provisioner"],
  ] as const) {
    await until(`deployment ${ns}/${deploy} available`, timeoutMs, async () => {
      const out = await kubectl(
        "-n",
        ns,
        "get",
        "deploy",
        deploy,
        "-o",
        "jsonpath={.status.availableReplicas}/{.spec.replicas}",
      );
      const [a, want] = out.split("/");
      return a && a === want ? true : `available ${out}`;
    });
  }
}

/**
 * What the suites learn from the test bed itself: the refs of the images built here (kube-public/
 * k8s-ops-conformance-images, key -> ref) and the node network (kube-public/k8s-ops-conformance-testbed),
 * the only addresses outside the cluster that traffic from this machine may go to.
 */
export async function publishTestbedInfo(mode: Mode, workloads: Record<string, string> | undefined): Promise<void> {
  const subnet = await kindSubnet();
  const pressure = pressureNodeHost();
  const cm = (name: string, data: Record<string, string>) => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace: "kube-public", labels: { "k8s-ops-conformance/testbed": "true" } },
    data,
  });
  const items = [
    cm(TESTBED_CONFIGMAP, {
      nodeNetwork: subnet,
      cluster: CLUSTER,
      // what the nodes run (their kubelets), not what the version table says
      kubernetesVersion: await runningVersion(),
      images: mode,
      containerdOomScoreAdj: await containerdOomScoreAdj(),
      // whether kindConfig labelled a memory-pressure node on this host (helpers/manifests/prereq.ts reads it)
      [PRESSURE_NODE_KEY]: String(pressure.why === undefined),
      ...(pressure.why === undefined ? {} : { [PRESSURE_NODE_REASON_KEY]: pressure.why }),
    }),
  ];
  if (workloads) items.push(cm(IMAGES_CONFIGMAP, workloads));
  const file = join(CACHE, `testbed-configmaps-${CLUSTER}.json`);
  writeFileSync(file, JSON.stringify({ apiVersion: "v1", kind: "List", items }));
  await kubectl("apply", "-f", file);
}

/**
 * The nodes' containerd oom_score_adj: the floor of every container's score. The host lacks
 * CAP_SYS_RESOURCE, so containerd runs with restrict_oom_score_adj (node/files/etc/containerd/config.toml)
 * and raises any lower score the kubelet asks for (-997 for Guaranteed) to its own. The QoS scenario
 * expects exactly that on the test bed, so it is measured here, the same on every node or an error.
 */
async function containerdOomScoreAdj(): Promise<string> {
  const scores = new Map<string, string>();
  for (const node of await clusterNodes()) {
    const out = await $`docker exec ${node} sh -c ${"cat /proc/$(pidof containerd)/oom_score_adj"}`;
    scores.set(node, out.stdout.trim());
  }
  const values = new Set(scores.values());
  if (values.size !== 1 || !/^-?\d+$/.test([...values][0] ?? ""))
    throw new Error(
      `containerd's oom_score_adj differs between nodes or is unreadable: ${JSON.stringify([...scores])}`,
    );
  return [...values][0] ?? "";
}

/**
 * An existing cluster is started if stopped and reused when healthy (true); an unhealthy one is deleted
 * so that `up` creates it afresh (false); false as well when there is none.
 */
export async function reuseExisting(mode: Mode, v: Versions): Promise<boolean> {
  const nodes = await clusterNodes();
  if (nodes.length === 0) return false;
  await $`docker start ${nodes}`.nothrow(); // a stopped cluster (host reboot) comes back as it was
  await refuseOtherMinor(nodes, v);
  const running = (await $`docker inspect -f ${"{{.Config.Image}}"} ${nodes[0]}`).stdout.trim();
  const current = nodeImageTag(v);
  const imageVersion = /^koc\.local\/node:(v[^-]+)-/.exec(running)?.[1];
  if (mode === "local" && imageVersion !== undefined && imageVersion !== v.KUBERNETES_VERSION) {
    // cluster:upgrade moved the nodes (and /kind/version) to this minor in place; the node image stays the old one's
    log(
      chalk.yellow(
        `the cluster was upgraded in place to ${v.KUBERNETES_VERSION} from the node image ${running}: reused as it is; npm run cluster:down, then up, for a fresh ${v.KUBERNETES_MINOR} test bed`,
      ),
    );
  } else if (mode === "local" && running !== current) {
    log(
      chalk.yellow(
        `the cluster runs ${running}, the test bed files now make ${current}: npm run cluster:down, then up, to rebuild`,
      ),
    );
  }
  const healthy = await phase("existing cluster checked", () =>
    waitHealthy(90_000).then(
      () => true,
      (e: Error) => {
        log(chalk.yellow(`existing cluster unhealthy, recreating it: ${e.message}`));
        return false;
      },
    ),
  );
  if (!healthy) {
    await $`${await kindBinary(v)} delete cluster --name ${CLUSTER}`;
    return false;
  }
  // published again, so a cluster whose first `up` was interrupted still tells the suites its images
  const workloads = workloadsFile(running);
  if (mode === "local" && !existsSync(workloads)) {
    throw new Error(`the running cluster's image list ${workloads} is gone: npm run cluster:down, then up`);
  }
  await publishTestbedInfo(mode, mode === "local" ? JSON.parse(readFileSync(workloads, "utf8")) : undefined);
  return true;
}

/**
 * kind delete, and the nodes' volumes with them. Each node's /var is an anonymous volume that Docker deletes
 * with the node, unless something in it cannot be deleted: the CephFS mount point is immutable (chattr +i,
 * node/files/usr/local/bin/koc-cephfs-mount), which left one volume per node behind. Released first;
 * whatever remains is named.
 */
async function deleteNodes(v: Versions, nodes: string[]): Promise<void> {
  const kind = await kindBinary(v);
  const volumes = (
    await $`docker inspect -f ${'{{range .Mounts}}{{if eq .Type "volume"}}{{.Name}} {{end}}{{end}}'} ${nodes}`
  ).stdout
    .split(/\s+/)
    .filter(Boolean);
  for (const node of nodes) {
    await $`docker exec ${node} sh -c ${"systemctl stop koc-cephfs; umount -l /var/lib/koc-cephfs; chattr -i /var/lib/koc-cephfs; true"}`.nothrow();
  }
  await phase(`kind delete cluster (${nodes.length} nodes)`, () => $`${kind} delete cluster --name ${CLUSTER}`);
  const left: string[] = [];
  for (const volume of volumes) {
    if ((await $`docker volume inspect ${volume}`.nothrow()).exitCode !== 0) continue;
    if ((await $`docker volume rm ${volume}`.nothrow()).exitCode !== 0) left.push(volume);
  }
  if (left.length > 0) throw new Error(`the nodes' volumes could not be removed: ${left.join(", ")}`);
}

/** Deletes the cluster, and the kind network when this project made it and nothing else uses it. */
export async function deleteCluster(v: Versions): Promise<void> {
  const nodes = await clusterNodes();
  if (nodes.length > 0) await deleteNodes(v, nodes);
  const net = await $`docker network inspect ${NETWORK} -f ${"{{json .Labels}} {{len .Containers}}"}`.nothrow();
  if (net.exitCode === 0 && net.stdout.includes('"app.kubernetes.io/managed-by":"k8s-ops-conformance"')) {
    if (net.stdout.trim().endsWith(" 0"))
      await phase(`network ${NETWORK} removed`, () => $`docker network rm ${NETWORK}`);
    else log(`network ${NETWORK} kept: other containers still use it`);
  }
  const left = await $`docker ps -aq --filter label=io.x-k8s.kind.cluster=${CLUSTER}`.nothrow();
  if (left.stdout.trim()) throw new Error(`containers of ${CLUSTER} remain: ${left.stdout.trim()}`);
}
