#!/usr/bin/env node
// The local test bed: a 3-node kind cluster named k8s-ops-conformance (one schedulable control plane,
// two workers), context kind-k8s-ops-conformance.
//
//   node testbed/cluster.ts up       create it (idempotent: an existing healthy cluster returns at once)
//   node testbed/cluster.ts down     delete it, its containers, volumes and the kind network it made
//   node testbed/cluster.ts status   what runs now
//   node testbed/cluster.ts verify   prove it works: DNS, ClusterIP from every node, NodePort from the host,
//                                    a PVC binding, a worker surviving `docker restart`
//
// Images (KOC_TESTBED_IMAGES or --images):
//   local  (default) build everything here from Debian packages and Go modules: no container registry.
//   stock  (default when GITHUB_ACTIONS=true) kind's published node image and public workload images.
// Build outputs are cached in KOC_CACHE_DIR (default ~/.cache/k8s-ops-conformance), keyed by version.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { $, chalk } from "zx";
import { DEFAULT_IMAGES } from "../helpers/framework/images.ts";

const TESTBED = dirname(fileURLToPath(import.meta.url));
// KOC_TESTBED_NAME: a second test bed beside the default one (e.g. to try test bed changes while suites run)
const CLUSTER = process.env.KOC_TESTBED_NAME || "k8s-ops-conformance";
const CONTEXT = `kind-${CLUSTER}`;
const NETWORK = "kind";
const MANAGED = "app.kubernetes.io/managed-by=k8s-ops-conformance";
const CACHE = process.env.KOC_CACHE_DIR ?? join(homedir(), ".cache", "k8s-ops-conformance");
const IMAGES_CONFIGMAP = "k8s-ops-conformance-images";
// kubelet writes these host-wide from inside privileged nodes; they are put back once the nodes run
const HOST_SYSCTLS = [
  "kernel.panic",
  "kernel.panic_on_oops",
  "vm.overcommit_memory",
  "vm.panic_on_oom",
  "fs.protected_fifos",
  "fs.protected_hardlinks",
  "fs.protected_regular",
  "fs.protected_symlinks",
];
// kind's known issue for several nodes on one host: the default inotify instance limit (128) is too low
const INOTIFY = { "fs.inotify.max_user_watches": 524288, "fs.inotify.max_user_instances": 512 };

$.verbose = false;
$.quiet = true;

type Versions = Record<string, string>;
type Mode = "local" | "stock";

function readVersions(): Versions {
  const text = readFileSync(join(TESTBED, "versions.env"), "utf8");
  const out: Versions = {};
  for (const line of text.split("\n")) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m?.[1] && m[2] !== undefined) out[m[1]] = m[2];
  }
  return out;
}

const started = Date.now();
function log(msg: string): void {
  const s = ((Date.now() - started) / 1000).toFixed(0).padStart(4);
  console.log(`${chalk.gray(`[cluster ${s}s]`)} ${msg}`);
}

async function phase<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  const result = await fn();
  log(`${name} ${chalk.gray(`(${((Date.now() - t0) / 1000).toFixed(1)}s)`)}`);
  return result;
}

/** A key over every input of the local build, so a changed script or version rebuilds the node image. */
function buildKey(): string {
  const hash = createHash("sha256");
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (!/(cluster\.ts|\.md)$/.test(p)) hash.update(relative(TESTBED, p)).update(readFileSync(p));
    }
  };
  walk(TESTBED);
  return hash.digest("hex").slice(0, 12);
}

async function dockerUp(): Promise<boolean> {
  return (await $`docker info`.nothrow()).exitCode === 0;
}

async function kindBinary(v: Versions): Promise<string> {
  await $`bash ${join(TESTBED, "build/components.sh")} ${join(CACHE, "components")} kind`;
  return join(CACHE, "components", `kind-${v.KIND_VERSION}`, "kind");
}

async function clusterNodes(): Promise<string[]> {
  const out = await $`docker ps -a --filter label=io.x-k8s.kind.cluster=${CLUSTER} --format {{.Names}}`.nothrow();
  return out.stdout.split("\n").filter(Boolean).sort();
}

async function kubectl(...args: string[]): Promise<string> {
  const kc = process.env.KOC_KUBECTL ?? (await kubectlPath());
  return (await $`${kc} --context ${CONTEXT} ${args}`).stdout;
}

async function kubectlPath(): Promise<string> {
  if ((await $`command -v kubectl`.nothrow()).exitCode === 0) return "kubectl";
  const v = readVersions();
  const built = join(CACHE, `kubernetes-${v.KUBERNETES_VERSION}`, "bin", "kubectl");
  if (existsSync(built)) return built;
  throw new Error("kubectl not found: install it or run `npm run cluster:up` once to build it");
}

async function readSysctls(names: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const n of names) {
    const r = await $`sysctl -n ${n}`.nothrow();
    if (r.exitCode === 0) out[n] = r.stdout.trim();
  }
  return out;
}

async function writeSysctls(values: Record<string, string | number>): Promise<void> {
  for (const [k, v] of Object.entries(values)) await $`sysctl -qw ${`${k}=${v}`}`.nothrow();
}

async function buildLocalImages(v: Versions): Promise<{ nodeImage: string; workloads: Record<string, string> }> {
  const key = buildKey();
  const tag = `koc.local/node:${v.KUBERNETES_VERSION}-${key}`;
  const imagesTar = join(CACHE, "images", `images-${key}.tar`);
  const workloadsJson = join(CACHE, "images", `workloads-${key}.json`);
  const build = join(TESTBED, "build");
  if ((await $`docker image inspect ${tag}`.nothrow()).exitCode === 0 && existsSync(workloadsJson)) {
    log(`node image ${tag} cached`);
    return { nodeImage: tag, workloads: JSON.parse(readFileSync(workloadsJson, "utf8")) };
  }
  mkdirSync(join(CACHE, "images"), { recursive: true });
  await phase(`Kubernetes ${v.KUBERNETES_VERSION} binaries`, () =>
    $`bash ${join(build, "kubernetes.sh")} ${join(CACHE, `kubernetes-${v.KUBERNETES_VERSION}`)}`.quiet(false),
  );
  await phase(
    "etcd, CoreDNS, local-path-provisioner, crictl, kind",
    () => $`bash ${join(build, "components.sh")} ${join(CACHE, "components")}`,
  );
  const sets = readFileSync(join(build, "rootfs-sets.env"), "utf8");
  for (const m of sets.matchAll(/^ROOTFS_([A-Z]+)=(.*)$/gm)) {
    const [, name = "", pkgs = ""] = m;
    const h = createHash("sha256").update(`${pkgs}\n`).digest("hex").slice(0, 12);
    const out = join(CACHE, "rootfs", `${name.toLowerCase()}-${h}.tar`);
    await phase(`Debian rootfs ${name.toLowerCase()}`, () => $`bash ${join(build, "rootfs.sh")} ${out} ${pkgs}`);
  }
  await phase(
    "component and workload images",
    () => $`bash ${join(build, "images.sh")} ${CACHE} ${key} ${imagesTar} ${workloadsJson}`,
  );
  await phase(`node image ${tag}`, () => $`bash ${join(build, "node-image.sh")} ${CACHE} ${tag} ${imagesTar}`);
  await pruneOtherBuilds(key);
  return { nodeImage: tag, workloads: JSON.parse(readFileSync(workloadsJson, "utf8")) };
}

/** Drop node images and archives of other build keys: each is a couple of GB. */
async function pruneOtherBuilds(key: string): Promise<void> {
  const dir = join(CACHE, "images");
  // builds a cluster still runs (another KOC_TESTBED_NAME) are kept with their image list
  const inUse = (await $`docker ps -a --format {{.Image}}`).stdout
    .split("\n")
    .filter((t) => t.startsWith("koc.local/node:"));
  const keep = (name: string) =>
    name.includes(key) || inUse.some((t) => name.includes(t.slice(t.lastIndexOf("-") + 1)));
  const tags = (await $`docker images koc.local/node --format {{.Repository}}:{{.Tag}}`).stdout.split("\n");
  for (const t of tags.filter((t) => t && !keep(t))) await $`docker rmi ${t}`.nothrow();
  for (const f of readdirSync(dir)) {
    if (f.startsWith("images-"))
      await $`rm -f ${join(dir, f)}`; // preloaded into the node image now
    else if (f.startsWith("workloads-") && !keep(f)) await $`rm -f ${join(dir, f)}`;
  }
}

function kindConfig(): string {
  // Three schedulable nodes like the clusters our users accept: the control plane keeps no taint.
  // failCgroupV1: false is a no-op on 1.34 (its default) and keeps cgroup v1 hosts working on 1.35+.
  //
  // The second worker is the memory-pressure node (label k8s-ops-conformance/memory-pressure=true) for the
  // eviction scenario: its kubelet reserves all but 3 GiB of the host's memory (systemReserved), caps its
  // pods' cgroup there (enforceNodeAllocatable: pods), and evicts once less than 1.5 GiB of that is left
  // (evictionHard memory.available, which the kubelet also applies to allocatable). So pods see 1.5 GiB
  // allocatable, 1.5 GiB of allocation puts the node under pressure well before the kernel's cap, and
  // however much its pods try to allocate, they can never take more than 3 GiB of this machine. kind's own evictionHard
  // disk values (0%) are repeated because the flag replaces the whole map. Worker kubelets take their
  // configuration from the cluster, so the settings are flags (kubeletExtraArgs) on that node only.
  const podsCapMi = 3072;
  const thresholdMi = 1536;
  let hostMi = 0;
  try {
    const kib = /^MemTotal:\s+(\d+) kB/m.exec(readFileSync("/proc/meminfo", "utf8"))?.[1];
    hostMi = Math.floor(Number(kib ?? 0) / 1024);
  } catch {
    // not Linux: no memory-pressure node (the eviction scenario skips, saying why)
  }
  const pressureWorker =
    hostMi >= 2 * podsCapMi
      ? `  - role: worker
    labels:
      k8s-ops-conformance/memory-pressure: "true"
    kubeadmConfigPatches:
      - |
        kind: JoinConfiguration
        nodeRegistration:
          kubeletExtraArgs:
            system-reserved: "memory=${hostMi - podsCapMi}Mi"
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

async function waitFor(what: string, timeoutMs: number, check: () => Promise<string | true>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    const r = await check().catch((e: unknown) => String(e));
    if (r === true) return;
    last = r;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}; last seen: ${last}`);
    await new Promise((res) => setTimeout(res, 1000)); // infrastructure poll interval, not a test wait
  }
}

async function waitHealthy(timeoutMs = 300_000): Promise<void> {
  await waitFor("3 Ready nodes", timeoutMs, async () => {
    const out = await kubectl("get", "nodes", "--no-headers");
    const lines = out.trim().split("\n").filter(Boolean);
    const ready = lines.filter((l) => / Ready /.test(l)).length;
    return ready === 3 && lines.length === 3 ? true : out.trim();
  });
  // Ready can be stale for 40 s after the nodes stopped (a host restart, a killed docker): every kubelet
  // must have renewed its lease just now, and the control plane's own pods must be ready
  await waitFor("every kubelet renewed its lease in the last 20s", timeoutMs, async () => {
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
  await waitFor("control plane pods ready", timeoutMs, async () => {
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
    await waitFor(`deployment ${ns}/${deploy} available`, timeoutMs, async () => {
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
async function publishTestbedInfo(mode: Mode, workloads: Record<string, string> | undefined): Promise<void> {
  const subnet = (await $`docker network inspect ${NETWORK} -f ${"{{(index .IPAM.Config 0).Subnet}}"}`).stdout.trim();
  const cm = (name: string, data: Record<string, string>) => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace: "kube-public", labels: { "k8s-ops-conformance/testbed": "true" } },
    data,
  });
  const items = [cm("k8s-ops-conformance-testbed", { nodeNetwork: subnet, cluster: CLUSTER, images: mode })];
  if (workloads) items.push(cm(IMAGES_CONFIGMAP, workloads));
  const file = join(CACHE, "testbed-configmaps.json");
  writeFileSync(file, JSON.stringify({ apiVersion: "v1", kind: "List", items }));
  await kubectl("apply", "-f", file);
}

/**
 * An existing cluster is started if stopped and reused when healthy (true); an unhealthy one is deleted
 * so that `up` creates it afresh (false); false as well when there is none.
 */
async function reuseExisting(mode: Mode, v: Versions): Promise<boolean> {
  const nodes = await clusterNodes();
  if (nodes.length === 0) return false;
  await $`docker start ${nodes}`.nothrow(); // a stopped cluster (host reboot) comes back as it was
  const running = (await $`docker inspect -f ${"{{.Config.Image}}"} ${nodes[0]}`).stdout.trim();
  const current = `koc.local/node:${v.KUBERNETES_VERSION}-${buildKey()}`;
  if (mode === "local" && running !== current) {
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
  const workloadsFile = join(CACHE, "images", `workloads-${buildKey()}.json`);
  if (mode === "local" && !existsSync(workloadsFile)) {
    throw new Error(`the running cluster's image list ${workloadsFile} is gone: npm run cluster:down, then up`);
  }
  await publishTestbedInfo(mode, mode === "local" ? JSON.parse(readFileSync(workloadsFile, "utf8")) : undefined);
  return true;
}

async function up(mode: Mode): Promise<void> {
  const v = readVersions();
  log(`test bed ${CLUSTER}: Kubernetes ${v.KUBERNETES_VERSION}, kind ${v.KIND_VERSION}, ${mode} images`);
  if (mode === "local") await phase("docker engine", () => $`bash ${join(TESTBED, "host/ensure-docker.sh")}`);
  else if (!(await dockerUp())) throw new Error("no Docker engine answers: start Docker, or use --images=local");
  const kind = await kindBinary(v);
  if (await reuseExisting(mode, v)) {
    log(`${chalk.green("ready")}: context ${CONTEXT} (${((Date.now() - started) / 1000).toFixed(0)}s)`);
    return;
  }
  // stock: kind's own default node image for its version; local: the one built here
  let imageArgs: string[] = [];
  let workloads: Record<string, string> | undefined;
  if (mode === "local") {
    const built = await buildLocalImages(v);
    imageArgs = ["--image", built.nodeImage];
    workloads = built.workloads;
  }
  await writeSysctls(INOTIFY);
  const saved = await readSysctls(HOST_SYSCTLS);
  if ((await $`docker network inspect ${NETWORK}`.nothrow()).exitCode !== 0) {
    // IPv4 only, made before kind so that kind reuses it; labelled so `down` knows it is ours
    await $`docker network create -d bridge --label ${MANAGED} -o com.docker.network.bridge.enable_ip_masquerade=true ${NETWORK}`;
  }
  const cfg = join(CACHE, "kind-config.yaml");
  mkdirSync(CACHE, { recursive: true });
  writeFileSync(cfg, kindConfig());
  try {
    await phase("kind create cluster", () =>
      $`${kind} create cluster --name ${CLUSTER} ${imageArgs} --config ${cfg} --wait 0s`.quiet(false),
    );
  } finally {
    await writeSysctls(saved);
  }
  await phase("nodes Ready, CoreDNS and storage available", () => waitHealthy());
  await writeSysctls(saved); // kubelet rewrote them on start
  await publishTestbedInfo(mode, workloads);
  log(`${chalk.green("ready")}: context ${CONTEXT} (${((Date.now() - started) / 1000).toFixed(0)}s)`);
}

async function down(): Promise<void> {
  const v = readVersions();
  const nodes = await clusterNodes();
  if (nodes.length > 0) {
    const kind = await kindBinary(v);
    await phase(`kind delete cluster (${nodes.length} nodes)`, () => $`${kind} delete cluster --name ${CLUSTER}`);
  }
  const net = await $`docker network inspect ${NETWORK} -f ${"{{json .Labels}} {{len .Containers}}"}`.nothrow();
  if (net.exitCode === 0 && net.stdout.includes('"app.kubernetes.io/managed-by":"k8s-ops-conformance"')) {
    if (net.stdout.trim().endsWith(" 0"))
      await phase(`network ${NETWORK} removed`, () => $`docker network rm ${NETWORK}`);
    else log(`network ${NETWORK} kept: other containers still use it`);
  }
  const left = await $`docker ps -aq --filter label=io.x-k8s.kind.cluster=${CLUSTER}`.nothrow();
  if (left.stdout.trim()) throw new Error(`containers of ${CLUSTER} remain: ${left.stdout.trim()}`);
  log(`${chalk.green("down")}: nothing of ${CLUSTER} is left running`);
}

async function status(): Promise<number> {
  if (!(await dockerUp())) {
    console.log("docker: not running (no test bed)");
    return 1;
  }
  const nodes = await clusterNodes();
  if (nodes.length === 0) {
    console.log(`${CLUSTER}: not created (run npm run cluster:up)`);
    return 1;
  }
  const ps =
    await $`docker ps -a --filter label=io.x-k8s.kind.cluster=${CLUSTER} --format ${"{{.Names}}\t{{.Status}}\t{{.Image}}"}`;
  console.log(ps.stdout.trim());
  const k = await $`${await kubectlPath()} --context ${CONTEXT} get nodes -o wide`.nothrow();
  console.log(k.exitCode === 0 ? k.stdout.trim() : `API server not answering: ${k.stderr.trim()}`);
  return k.exitCode === 0 ? 0 : 1;
}

const VERIFY_NS = "koc-testbed-verify";
function verifyManifests(nodes: string[], images: Record<string, string>): [string, string] {
  const clients = nodes.map(
    (node, i) => `---
apiVersion: v1
kind: Pod
metadata: { name: client-${i}, labels: { role: client } }
spec:
  nodeName: ${node}
  restartPolicy: Never
  containers:
    - name: c
      image: ${images.curl}
      command: [sh, -c, 'getent hosts web.${VERIFY_NS}.svc.cluster.local && curl -fsS -m 5 -o /dev/null -w "%{http_code}" http://web']`,
  );
  const base = `apiVersion: v1
kind: Namespace
metadata: { name: ${VERIFY_NS}, labels: { ${MANAGED.replace("=", ": ")} } }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: web, namespace: ${VERIFY_NS} }
spec:
  replicas: 2
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec: { containers: [{ name: web, image: ${images.nginx}, ports: [{ containerPort: 80 }] }] }
---
apiVersion: v1
kind: Service
metadata: { name: web, namespace: ${VERIFY_NS} }
spec: { type: NodePort, selector: { app: web }, ports: [{ port: 80, targetPort: 80 }] }
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: { name: data, namespace: ${VERIFY_NS} }
spec: { accessModes: [ReadWriteOnce], resources: { requests: { storage: 64Mi } } }
---
apiVersion: v1
kind: Pod
metadata: { name: writer, namespace: ${VERIFY_NS} }
spec:
  restartPolicy: Never
  containers:
    - name: c
      image: ${images.busybox}
      command: [sh, -c, 'echo ok > /data/f && cat /data/f']
      volumeMounts: [{ name: d, mountPath: /data }]
  volumes: [{ name: d, persistentVolumeClaim: { claimName: data } }]
`;
  return [
    base,
    clients.join("\n").replaceAll("metadata: { name: client", `metadata: { namespace: ${VERIFY_NS}, name: client`),
  ];
}

async function podPhase(name: string): Promise<string> {
  return kubectl("-n", VERIFY_NS, "get", "pod", name, "-o", "jsonpath={.status.phase}");
}

async function verify(): Promise<void> {
  const cm = await kubectl("-n", "kube-public", "get", "cm", IMAGES_CONFIGMAP, "-o", "jsonpath={.data}").catch(
    () => "",
  );
  // images built here (local mode) or the suites' public defaults (stock mode)
  const mode = await kubectl(
    "-n",
    "kube-public",
    "get",
    "cm",
    "k8s-ops-conformance-testbed",
    "-o",
    "jsonpath={.data.images}",
  );
  if (mode === "local" && !cm)
    throw new Error(`no kube-public/${IMAGES_CONFIGMAP} on a local-image test bed: run npm run cluster:up`);
  const images: Record<string, string> = { ...DEFAULT_IMAGES, ...(cm ? JSON.parse(cm) : {}) };
  const nodes = (await kubectl("get", "nodes", "-o", "jsonpath={.items[*].metadata.name}")).split(" ").filter(Boolean);
  if (nodes.length !== 3) throw new Error(`expected 3 nodes, found ${nodes.join(", ")}`);
  const [base, clients] = verifyManifests(nodes, images);
  const baseFile = join(CACHE, "verify.yaml");
  const clientsFile = join(CACHE, "verify-clients.yaml");
  writeFileSync(baseFile, base);
  writeFileSync(clientsFile, clients);
  try {
    // the namespace first: pods are refused until the controller made its default ServiceAccount
    await kubectl("delete", "namespace", VERIFY_NS, "--ignore-not-found", "--wait=true", "--timeout=120s");
    await kubectl("create", "namespace", VERIFY_NS);
    await kubectl("label", "namespace", VERIFY_NS, MANAGED);
    await waitFor(`ServiceAccount ${VERIFY_NS}/default`, 60_000, async () =>
      (await kubectl("-n", VERIFY_NS, "get", "sa", "default", "-o", "name").catch(() => "")).trim() !== ""
        ? true
        : "not created yet",
    );
    await kubectl("apply", "-f", baseFile);
    await phase("PVC bound and written by a pod", () =>
      waitFor("pod writer to succeed with its PVC bound", 120_000, async () => {
        const p = await podPhase("writer");
        return p === "Succeeded"
          ? true
          : `writer ${p}, pvc ${await kubectl("-n", VERIFY_NS, "get", "pvc", "data", "-o", "jsonpath={.status.phase}")}`;
      }),
    );
    await phase(`DNS and ClusterIP from a pod on each of ${nodes.length} nodes`, async () => {
      await kubectl("-n", VERIFY_NS, "rollout", "status", "deploy/web", "--timeout=120s");
      await kubectl("apply", "-f", clientsFile);
      for (let i = 0; i < nodes.length; i++) {
        await waitFor(`client-${i} on ${nodes[i]} to resolve and reach the Service`, 120_000, async () => {
          const p = await podPhase(`client-${i}`);
          if (p === "Failed") throw new Error(`client-${i}: ${await kubectl("-n", VERIFY_NS, "logs", `client-${i}`)}`);
          return p === "Succeeded" ? true : `client-${i} ${p}`;
        });
      }
    });
    await phase("NodePort answers from the host on every node", async () => {
      const port = await kubectl("-n", VERIFY_NS, "get", "svc", "web", "-o", "jsonpath={.spec.ports[0].nodePort}");
      const subnet = (
        await $`docker network inspect ${NETWORK} -f ${"{{(index .IPAM.Config 0).Subnet}}"}`
      ).stdout.trim();
      const ips = (
        await kubectl("get", "nodes", "-o", 'jsonpath={.items[*].status.addresses[?(@.type=="InternalIP")].address}')
      ).split(" ");
      for (const ip of ips) {
        // only the kind network's own addresses: traffic never leaves this machine
        if (!inSubnet(ip, subnet)) throw new Error(`node address ${ip} is outside the kind network ${subnet}`);
        await waitFor(`http://${ip}:${port} to answer 200`, 30_000, async () => {
          const r = await fetch(`http://${ip}:${port}/`, { signal: AbortSignal.timeout(3000) });
          return r.status === 200 ? true : `HTTP ${r.status}`;
        });
      }
    });
    const worker = nodes.find((n) => n.endsWith("-worker")) ?? nodes[1] ?? "";
    await phase(`${worker} back to Ready after docker restart`, async () => {
      await $`docker restart ${worker}`;
      const restarted = Date.parse((await $`docker inspect -f ${"{{.State.StartedAt}}"} ${worker}`).stdout.trim());
      // Ready alone could be stale: the kubelet must have renewed its lease since the restart, and the
      // node's own pods (kube-proxy, netd) must be running again
      await waitFor(`${worker} Ready, its lease renewed and its pods ready after the restart`, 180_000, async () => {
        const ready = await kubectl(
          "get",
          "node",
          worker,
          "-o",
          'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
        );
        const renew = Date.parse(
          await kubectl("-n", "kube-node-lease", "get", "lease", worker, "-o", "jsonpath={.spec.renewTime}"),
        );
        const pods = await kubectl(
          "-n",
          "kube-system",
          "get",
          "pods",
          "--field-selector",
          `spec.nodeName=${worker}`,
          "-o",
          'jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status} {end}',
        );
        const ok = ready === "True" && renew > restarted && pods.trim() !== "" && !pods.includes("=False");
        return (
          ok || `Ready=${ready}, lease renewed ${renew > restarted ? "after" : "before"} restart, pods ${pods.trim()}`
        );
      });
    });
  } finally {
    await kubectl("delete", "namespace", VERIFY_NS, "--wait=true", "--timeout=120s").catch(() => undefined);
  }
  log(`${chalk.green("verified")}: ${CLUSTER} passes its acceptance checks`);
}

function inSubnet(ip: string, cidr: string): boolean {
  const toInt = (a: string): number => a.split(".").reduce((n, o) => n * 256 + Number(o), 0);
  const [base = "", bits = "32"] = cidr.split("/");
  const mask = Number(bits) === 0 ? 0 : 2 ** 32 - 2 ** (32 - Number(bits));
  return (toInt(ip) & mask) >>> 0 === (toInt(base) & mask) >>> 0;
}

function parseMode(args: string[]): Mode {
  const flag = args.find((a) => a.startsWith("--images="))?.slice("--images=".length);
  const mode = flag ?? process.env.KOC_TESTBED_IMAGES ?? (process.env.GITHUB_ACTIONS === "true" ? "stock" : "local");
  if (mode !== "local" && mode !== "stock") throw new Error(`--images must be local or stock, not ${mode}`);
  return mode;
}

async function main(): Promise<number> {
  const [cmd, ...rest] = process.argv.slice(2);
  if (cmd === "up") await up(parseMode(rest));
  else if (cmd === "down") await down();
  else if (cmd === "status") return status();
  else if (cmd === "verify") await verify();
  else {
    console.error("usage: node testbed/cluster.ts up [--images=local|stock] | down | status | verify");
    return 2;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    // a failed build step: show the tail of what it printed, not zx's stack
    const e = err as { stderr?: string; stdout?: string; exitCode?: number; message?: string };
    const out = [e.stdout, e.stderr].filter(Boolean).join("\n").trim().split("\n").slice(-25).join("\n");
    console.error(chalk.red(`cluster: ${out || e.message || String(err)}${e.exitCode ? ` (exit ${e.exitCode})` : ""}`));
    process.exit(1);
  },
);
