// The test bed's Ceph: a real CephFS (Debian's Ceph daemons) that every node mounts with ceph-fuse, and
// StorageClass `cephfs` provisioning ReadWriteMany volumes on it. See testbed/README.md for the design.
//
// cephUp never throws: when Ceph fails, the test bed still comes up, the class is removed and
// kube-public/k8s-ops-conformance-cephfs says which daemon failed and which log to read.
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { $, chalk } from "zx";
import { CACHE, CLUSTER, kubectl, log, type Mode, NETWORK } from "../common.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
export const STORAGE_CLASS = "cephfs";
export const PROVISIONER_NAME = "testbed.k8s-ops-conformance/cephfs";
export const STATE_CONFIGMAP = "k8s-ops-conformance-cephfs";
const MOUNT = "/var/lib/koc-cephfs";
const DATA_IN_CONTAINER = "/var/lib/koc-ceph";
// a file operation on CephFS blocks while the MDS or the OSD is down, and a process blocked on it cannot
// even be killed inside the node: the docker exec client is what is given up on after this long
const FS_TIMEOUT = "30s";

export interface CephContext {
  /** the test bed's name (KOC_TESTBED_NAME): names the container, the data directory and the ports */
  cluster: string;
  cache: string;
  /** the docker network of the nodes; Ceph binds to its host address only */
  network: string;
  images: Mode;
  kubectl: (...args: string[]) => Promise<string>;
  log: (msg: string) => void;
}

/** This test bed's context (KOC_TESTBED_NAME, KOC_CACHE_DIR, its kubectl context). */
export function testbedCeph(images: Mode = "local"): CephContext {
  return { cluster: CLUSTER, cache: CACHE, network: NETWORK, images, kubectl, log };
}

/** Where one test bed's Ceph lives; different test bed names get different containers, data and ports. */
export function cephLayout(cluster: string, cache: string) {
  return {
    container: `koc-ceph-${cluster}`,
    data: join(cache, "ceph", cluster),
    port: cephPort(cluster),
  };
}

/**
 * The monitor's msgr2 port for a test bed: 20000 + 100 * slot, slot from the name's hash. The monitor
 * uses port and port+1, the other daemons port+10..port+99, all on the kind network's host address.
 */
export function cephPort(cluster: string): number {
  const slot = createHash("sha256").update(cluster).digest().readUInt32BE(0) % 90;
  return 20_000 + 100 * slot;
}

async function nodesOf(cluster: string): Promise<string[]> {
  const out = await $`docker ps --filter label=io.x-k8s.kind.cluster=${cluster} --format {{.Names}}`;
  return out.stdout.split("\n").filter(Boolean).sort();
}

async function hostAddress(network: string): Promise<{ subnet: string; gateway: string }> {
  const out =
    await $`docker network inspect ${network} -f ${"{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}\n{{end}}"}`;
  for (const line of out.stdout.split("\n")) {
    const [subnet = "", gateway = ""] = line.trim().split(" ");
    if (/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(subnet) && /^\d+\.\d+\.\d+\.\d+$/.test(gateway)) return { subnet, gateway };
  }
  throw new Error(`network ${network} has no IPv4 subnet and gateway: ${out.stdout.trim()}`);
}

/** The last line a failed command wrote: koc-ceph.sh ends with "<daemon>: <what>; read <log>". */
function reason(e: unknown): string {
  const err = e as { stderr?: string; message?: string };
  const lines = (err.stderr || err.message || String(e)).trim().split("\n");
  return lines[lines.length - 1] ?? String(e);
}

async function publishState(ctx: CephContext, state: "ready" | "failed" | "skipped", why: string): Promise<void> {
  const cm = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: STATE_CONFIGMAP, namespace: "kube-public", labels: { "k8s-ops-conformance/testbed": "true" } },
    data: { storageClass: STORAGE_CLASS, provisioner: PROVISIONER_NAME, state, reason: why },
  };
  const file = join(ctx.cache, `cephfs-state-${ctx.cluster}.json`);
  writeFileSync(file, JSON.stringify(cm));
  await ctx.kubectl("apply", "-f", file);
}

/** Start (or repair) Ceph, mount it on every node, install StorageClass `cephfs`. Never throws. */
export async function cephUp(images: Mode, ctx: CephContext = testbedCeph(images)): Promise<void> {
  const t0 = Date.now();
  if (ctx.images !== "local") {
    const why = "CephFS needs the local node image (ceph-fuse): not set up with stock images";
    ctx.log(chalk.yellow(`cephfs: ${why}`));
    await publishState(ctx, "skipped", why).catch(() => undefined);
    return;
  }
  try {
    await startDaemons(ctx);
    await mountOnNodes(ctx);
    await installStorageClass(ctx);
    await publishState(ctx, "ready", "");
    ctx.log(`cephfs: Ceph healthy, mounted on every node, StorageClass ${STORAGE_CLASS} ready (${secs(t0)})`);
  } catch (e) {
    const why = reason(e);
    ctx.log(chalk.red(`cephfs: FAILED, the rest of the test bed is up without StorageClass ${STORAGE_CLASS}: ${why}`));
    await ctx.kubectl("delete", "storageclass", STORAGE_CLASS, "--ignore-not-found").catch(() => undefined);
    await publishState(ctx, "failed", why).catch(() => undefined);
  }
}

function secs(t0: number): string {
  return `${((Date.now() - t0) / 1000).toFixed(1)}s`;
}

async function startDaemons(ctx: CephContext): Promise<void> {
  const { container, data, port } = cephLayout(ctx.cluster, ctx.cache);
  const t0 = Date.now();
  const image = (await $`bash ${join(HERE, "image.sh")} ${ctx.cache}`).stdout.trim();
  const { subnet, gateway } = await hostAddress(ctx.network);
  const running = await $`docker inspect -f ${"{{.State.Running}} {{.Config.Image}}"} ${container}`.nothrow();
  if (running.exitCode === 0 && !running.stdout.startsWith(`true ${image}`)) {
    // stopped (host restart) or made from an older image: a new container over the same data
    await $`docker rm -f ${container}`;
  }
  if (running.exitCode !== 0 || !running.stdout.startsWith(`true ${image}`)) {
    mkdirSync(data, { recursive: true });
    // host network: the daemons bind to the kind network's host address (public network = its subnet)
    await $`docker run -d --name ${container} --network host --label app.kubernetes.io/managed-by=k8s-ops-conformance --label k8s-ops-conformance/testbed=${ctx.cluster} -v ${data}:${DATA_IN_CONTAINER} ${image}`;
  }
  await $`docker exec -e KOC_CEPH_LOG_HINT=${join(data, "log")} ${container} koc-ceph up ${gateway} ${subnet} ${port}`;
  ctx.log(`cephfs: ${container} at ${gateway}:${port}, ${image} (${secs(t0)})`);
}

async function mountOnNodes(ctx: CephContext): Promise<void> {
  const { container, data } = cephLayout(ctx.cluster, ctx.cache);
  const t0 = Date.now();
  const conf = (await $`docker exec ${container} koc-ceph client-conf`).stdout;
  // the key goes from the Ceph container to the nodes in memory, never to a log
  const keyring = (await $`docker exec ${container} cat ${`${DATA_IN_CONTAINER}/keys/ceph.client.k8s.keyring`}`).stdout;
  const nodes = await nodesOf(ctx.cluster);
  if (nodes.length === 0) throw new Error(`cephfs: no nodes of ${ctx.cluster} run`);
  for (const node of nodes) {
    if ((await $`docker exec ${node} systemctl cat koc-cephfs`.nothrow()).exitCode !== 0) {
      throw new Error(`node ${node} has no koc-cephfs.service (an older node image): npm run cluster:down, then up`);
    }
    await $({
      input: conf,
    })`docker exec -i ${node} sh -c ${"mkdir -p /etc/ceph && cat >/etc/ceph/koc-cephfs.conf.new"}`;
    await $({ input: keyring })`docker exec -i ${node} sh -c ${"umask 077 && cat >/etc/ceph/koc-cephfs.keyring.new"}`;
    // a changed configuration (a new Ceph) remounts; an unchanged one only starts what is not running
    await $`docker exec ${node} sh -c ${`changed=
      for f in conf keyring; do
        cmp -s /etc/ceph/koc-cephfs.$f.new /etc/ceph/koc-cephfs.$f || { mv /etc/ceph/koc-cephfs.$f.new /etc/ceph/koc-cephfs.$f; changed=1; }
        rm -f /etc/ceph/koc-cephfs.$f.new
      done
      if [ -n "$changed" ] || ! systemctl -q is-active koc-cephfs; then systemctl restart koc-cephfs; fi`}`;
  }
  const mountHint = (node: string) =>
    `node ${node}: read \`docker exec ${node} journalctl -u koc-cephfs\` and /var/log/koc-cephfs.log in the node; Ceph logs in ${join(data, "log")}`;
  for (const node of nodes) {
    await pollUntil(60_000, async () => {
      const r =
        await $`docker exec ${node} awk -v m=${MOUNT} ${'$2 == m && $3 == "fuse.ceph-fuse" {f=1} END {exit !f}'} /proc/self/mounts`
          .timeout("15s")
          .nothrow();
      return r.exitCode === 0 ? true : `CephFS not mounted at ${MOUNT}`;
    }).catch((e: Error) => {
      throw new Error(`${e.message}; ${mountHint(node)}`);
    });
  }
  // one node writes, every node reads it back: the mounts are one file system, not local directories
  const token = randomBytes(8).toString("hex");
  const check = `${MOUNT}/.testbed-check`;
  const [first = ""] = nodes;
  await $`docker exec ${first} sh -c ${`mkdir -p ${MOUNT}/volumes && echo ${token} >${check}`}`
    .timeout(FS_TIMEOUT)
    .catch(() => {
      throw new Error(`cannot write to CephFS at ${MOUNT}; ${mountHint(first)}`);
    });
  for (const node of nodes) {
    const seen = await $`docker exec ${node} cat ${check}`.timeout(FS_TIMEOUT).nothrow();
    if (seen.stdout.trim() !== token) {
      throw new Error(
        `node ${node} does not see what ${first} wrote to CephFS (saw "${seen.stdout.trim()}"); ${mountHint(node)}`,
      );
    }
  }
  ctx.log(`cephfs: mounted on ${nodes.length} nodes, each reads what ${first} wrote (${secs(t0)})`);
}

async function installStorageClass(ctx: CephContext): Promise<void> {
  const t0 = Date.now();
  // the same provisioner and helper images as the test bed's default class
  const spec = await ctx.kubectl(
    "-n",
    "local-path-storage",
    "get",
    "deploy",
    "local-path-provisioner",
    "-o",
    'jsonpath={.spec.template.spec.containers[0].image}{" "}{.spec.template.spec.containers[0].command}',
  );
  const [provisionerImage = ""] = spec.split(" ");
  const helperImage = /"--helper-image","([^"]+)"/.exec(spec)?.[1];
  if (!provisionerImage || !helperImage) throw new Error(`cannot read local-path-provisioner's images: ${spec}`);
  const manifest = readFileSync(join(HERE, "cephfs.yaml"), "utf8")
    .replaceAll("PROVISIONER_IMAGE", provisionerImage)
    .replaceAll("HELPER_IMAGE", helperImage)
    .replaceAll("PROVISIONER_NAME", PROVISIONER_NAME);
  const file = join(ctx.cache, `cephfs-${ctx.cluster}.yaml`);
  writeFileSync(file, manifest);
  await ctx.kubectl("apply", "-f", file);
  await ctx.kubectl("-n", "cephfs-storage", "rollout", "status", "deploy/cephfs-provisioner", "--timeout=120s");
  ctx.log(`cephfs: StorageClass ${STORAGE_CLASS} (provisioner ${PROVISIONER_NAME}) available (${secs(t0)})`);
}

async function pollUntil(timeoutMs: number, check: () => Promise<string | true>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await check().catch((e: unknown) => String(e));
    if (r === true) return;
    if (Date.now() > deadline) throw new Error(`after ${timeoutMs / 1000}s: ${r}`);
    await new Promise((res) => setTimeout(res, 1000)); // infrastructure poll interval, not a test wait
  }
}

/** Remove the Ceph container and all its data (the nodes' mounts go with the nodes). */
export async function cephDown(ctx: Pick<CephContext, "cluster" | "cache" | "log"> = testbedCeph()): Promise<void> {
  const { container, data } = cephLayout(ctx.cluster, ctx.cache);
  const had = await $`docker rm -f -v ${container}`.nothrow();
  await $`rm -rf ${data}`;
  if (had.exitCode === 0) ctx.log(`cephfs: ${container} and its data removed`);
}

/** Ceph's health by each daemon's own state, then `ceph -s`. Returns false when not healthy. */
export async function cephStatus(ctx: Pick<CephContext, "cluster" | "cache"> = testbedCeph()): Promise<boolean> {
  const { container, data } = cephLayout(ctx.cluster, ctx.cache);
  const up = await $`docker inspect -f {{.State.Running}} ${container}`.nothrow();
  if (up.stdout.trim() !== "true") {
    console.log(`cephfs: ${container} is not running (npm run cluster:up starts it)`);
    return false;
  }
  const health = await $`docker exec -e KOC_CEPH_LOG_HINT=${join(data, "log")} ${container} koc-ceph health`.nothrow();
  console.log(`cephfs: ${(health.stdout + health.stderr).trim()}`);
  const s = await $`docker exec ${container} timeout 20 ceph --connect-timeout 10 -s`.nothrow();
  console.log(s.stdout.trim() || s.stderr.trim());
  return health.exitCode === 0;
}

/**
 * A ReadWriteMany claim of class cephfs binds; a pod on one node writes, a pod on another node reads
 * the same bytes, and a third node sees the file in its CephFS mount.
 * Sabotage: KOC_CEPHFS_SABOTAGE=1 stops the reader node's mount first: the reader must then fail
 * (kubelet cannot create the volume's directory in the immutable, unmounted mount point), and the
 * next `cluster:up` mounts it again.
 */
export async function cephVerify(
  images: Record<string, string>,
  ctx: Pick<CephContext, "cluster" | "cache" | "kubectl" | "log"> = testbedCeph(),
): Promise<void> {
  const busybox = images.busybox;
  if (!busybox) throw new Error("cephfs: no busybox image in the test bed's image list");
  const state = await ctx
    .kubectl("-n", "kube-public", "get", "cm", STATE_CONFIGMAP, "-o", "jsonpath={.data.state} {.data.reason}")
    .catch(() => "missing (run npm run cluster:up)");
  if (!state.startsWith("ready")) throw new Error(`cephfs: not ready: ${state}`);
  const nodes = await nodesOf(ctx.cluster);
  const [writerNode, readerNode, thirdNode] = nodes;
  if (!writerNode || !readerNode) throw new Error(`cephfs: two nodes needed, found ${nodes.join(", ")}`);
  if (process.env.KOC_CEPHFS_SABOTAGE === "1") {
    ctx.log(chalk.yellow(`cephfs: sabotage: stopping the CephFS mount of ${readerNode}`));
    await $`docker exec ${readerNode} systemctl stop koc-cephfs`;
  }
  const ns = "koc-testbed-cephfs";
  const token = randomBytes(8).toString("hex");
  const pod = (name: string, node: string, script: string) => `---
apiVersion: v1
kind: Pod
metadata: { name: ${name}, namespace: ${ns} }
spec:
  nodeName: ${node}
  restartPolicy: Never
  containers:
    - name: c
      image: ${busybox}
      command: [sh, -c, '${script}']
      volumeMounts: [{ name: d, mountPath: /data }]
  volumes: [{ name: d, persistentVolumeClaim: { claimName: shared } }]
`;
  const claim = `apiVersion: v1
kind: PersistentVolumeClaim
metadata: { name: shared, namespace: ${ns} }
spec:
  accessModes: [ReadWriteMany]
  storageClassName: ${STORAGE_CLASS}
  resources: { requests: { storage: 64Mi } }
`;
  const file = (name: string, text: string) => {
    const f = join(ctx.cache, `verify-cephfs-${name}.yaml`);
    writeFileSync(f, text);
    return f;
  };
  const phaseOf = (name: string) => ctx.kubectl("-n", ns, "get", "pod", name, "-o", "jsonpath={.status.phase}");
  const succeeded = (name: string, what: string) =>
    pollUntil(120_000, async () => {
      const p = await phaseOf(name);
      if (p === "Failed") throw new Error(`${name} failed: ${await ctx.kubectl("-n", ns, "logs", name)}`);
      if (p === "Succeeded") return true;
      const events = await ctx.kubectl(
        "-n",
        ns,
        "get",
        "events",
        "--field-selector",
        `involvedObject.name=${name}`,
        "-o",
        "jsonpath={.items[-1:].message}",
      );
      return `${name} ${p || "not created"}; last event: ${events}`;
    }).catch((e: Error) => {
      throw new Error(`cephfs: expected ${what}; ${e.message}`);
    });
  try {
    await ctx.kubectl("delete", "namespace", ns, "--ignore-not-found", "--wait=true", "--timeout=120s");
    await ctx.kubectl("create", "namespace", ns);
    await pollUntil(60_000, async () =>
      (await ctx.kubectl("-n", ns, "get", "sa", "default", "-o", "name").catch(() => "")).trim() ? true : "no SA",
    );
    await ctx.kubectl("apply", "-f", file("claim", claim));
    await pollUntil(120_000, async () => {
      const p = await ctx.kubectl("-n", ns, "get", "pvc", "shared", "-o", "jsonpath={.status.phase}");
      return p === "Bound" ? true : `claim ${p}`;
    }).catch((e: Error) => {
      throw new Error(`cephfs: expected the ReadWriteMany claim to bind; ${e.message}`);
    });
    await ctx.kubectl("apply", "-f", file("writer", pod("writer", writerNode, `echo ${token} >/data/token`)));
    await succeeded("writer", `a pod on ${writerNode} to write the claim`);
    await ctx.kubectl(
      "apply",
      "-f",
      file("reader", pod("reader", readerNode, `test "$(cat /data/token)" = ${token} && echo read-back >>/data/token`)),
    );
    await succeeded("reader", `a pod on ${readerNode} to read what ${writerNode} wrote`);
    if (thirdNode) {
      const path = await ctx.kubectl(
        "get",
        "pv",
        "-o",
        `jsonpath={.items[?(@.spec.claimRef.namespace=="${ns}")].spec.hostPath.path}`,
      );
      const seen = await $`docker exec ${thirdNode} cat ${`${path}/token`}`.timeout(FS_TIMEOUT).nothrow();
      if (seen.stdout !== `${token}\nread-back\n`)
        throw new Error(`cephfs: ${thirdNode} sees "${seen.stdout.trim()}" in ${path}/token, not what the pods wrote`);
    }
    ctx.log(
      `cephfs: ReadWriteMany claim bound, written on ${writerNode}, read on ${readerNode}${thirdNode ? `, seen on ${thirdNode}` : ""}`,
    );
  } catch (e) {
    // the daemons' own state says whether Ceph is the cause (a dead MDS or OSD blocks every volume)
    const { container, data } = cephLayout(ctx.cluster, ctx.cache);
    const health =
      await $`docker exec -e KOC_CEPH_LOG_HINT=${join(data, "log")} ${container} koc-ceph health`.nothrow();
    throw new Error(`${(e as Error).message}; Ceph: ${(health.stdout + health.stderr).trim()}`);
  } finally {
    await ctx.kubectl("delete", "namespace", ns, "--wait=true", "--timeout=120s").catch(() => undefined);
  }
}
