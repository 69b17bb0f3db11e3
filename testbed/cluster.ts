#!/usr/bin/env node
// The local test bed: a 3-node kind cluster named k8s-ops-conformance (one schedulable control plane,
// two workers), context kind-k8s-ops-conformance.
//
//   node testbed/cluster.ts up       create it (idempotent: an existing healthy cluster returns at once)
//        [--prepare-host]            allow changes to this host's Docker setup (packages, daemon.json, a
//                                    dockerd restart) when its engine cannot run the nodes as it is
//   node testbed/cluster.ts down     delete it, its containers, volumes and the kind network it made
//   node testbed/cluster.ts status   what runs now
//   node testbed/cluster.ts verify   prove it works: DNS, ClusterIP from every node, NodePort from the host,
//                                    a PVC binding, a worker surviving `docker restart`
//
// Images (KOC_TESTBED_IMAGES or --images):
//   local  (default) build everything here from Debian packages and Go modules: no container registry.
//   stock  (default when GITHUB_ACTIONS=true) kind's published node image and public workload images.
// Build outputs are cached in KOC_CACHE_DIR (default ~/.cache/k8s-ops-conformance), keyed by version.
//
// This file is the story of each command; the jobs are in common.ts, lifecycle.ts, build/, host/, settle/, verify/.
import { $, chalk } from "zx";
import { buildLocalImages } from "./build/local-images.ts";
import { cephDown, cephStatus, cephUp } from "./ceph/ceph.ts";
import { CLUSTER, CONTEXT, elapsed, kubectlPath, log, type Mode, phase, readVersions } from "./common.ts";
import { ensureCorefile, ensureHostRule, removeHostRule } from "./hermetic/hermetic.ts";
import { dockerUp, ensureEngine, HostUnchangedError } from "./host/docker.ts";
import { prepareSysctls, writeSysctls } from "./host/sysctls.ts";
import {
  clusterNodes,
  createCluster,
  deleteCluster,
  ensureNetwork,
  kindBinary,
  networkExists,
  publishTestbedInfo,
  reuseExisting,
  waitHealthy,
} from "./lifecycle.ts";
import { ensureKubeProxyRequests } from "./settle/settle.ts";
import { verify } from "./verify/verify.ts";

async function up(mode: Mode, prepareHost: boolean): Promise<void> {
  const v = readVersions();
  log(`test bed ${CLUSTER}: Kubernetes ${v.KUBERNETES_VERSION}, kind ${v.KIND_VERSION}, ${mode} images`);
  await phase("docker engine", () => ensureEngine(mode, prepareHost));
  const kind = await kindBinary(v);
  // local mode is hermetic: the host drops what the kind network sends elsewhere (a host reboot forgets it)
  if (mode === "local") await ensureNetwork().then(ensureHostRule);
  if (await reuseExisting(mode, v)) {
    if (mode === "local") await ensureCorefile();
    await ensureKubeProxyRequests();
    await cephUp(mode);
    log(`${chalk.green("ready")}: context ${CONTEXT} (${elapsed()})`);
    return;
  }
  // stock: kind's own default node image for its version; local: the one built here
  const built = mode === "local" ? await buildLocalImages(v) : undefined;
  const saved = await prepareSysctls();
  await ensureNetwork();
  try {
    await createCluster(kind, built ? ["--image", built.nodeImage] : []);
  } finally {
    await writeSysctls(saved);
  }
  await phase("nodes Ready, CoreDNS and storage available", () => waitHealthy());
  if (mode === "local") await phase("CoreDNS forwards nothing", ensureCorefile);
  await phase("kube-proxy Burstable", ensureKubeProxyRequests);
  await writeSysctls(saved); // kubelet rewrote them on start
  await publishTestbedInfo(mode, built?.workloads);
  await cephUp(mode);
  log(`${chalk.green("ready")}: context ${CONTEXT} (${elapsed()})`);
}

async function down(): Promise<void> {
  await cephDown();
  await deleteCluster(readVersions());
  if (!(await networkExists())) await removeHostRule();
  log(`${chalk.green("down")}: nothing of ${CLUSTER} is left running`);
}

async function status(): Promise<number> {
  if (!(await dockerUp())) {
    console.log("docker: not running (no test bed)");
    return 1;
  }
  if ((await clusterNodes()).length === 0) {
    console.log(`${CLUSTER}: not created (run npm run cluster:up)`);
    return 1;
  }
  const ps =
    await $`docker ps -a --filter label=io.x-k8s.kind.cluster=${CLUSTER} --format ${"{{.Names}}\t{{.Status}}\t{{.Image}}"}`;
  console.log(ps.stdout.trim());
  const k = await $`${await kubectlPath()} --context ${CONTEXT} get nodes -o wide`.nothrow();
  console.log(k.exitCode === 0 ? k.stdout.trim() : `API server not answering: ${k.stderr.trim()}`);
  const cephOk = await cephStatus();
  return k.exitCode === 0 && cephOk ? 0 : 1;
}

function parseUp(args: string[]): [Mode, boolean] {
  const unknown = args.filter((a) => a !== "--prepare-host" && !a.startsWith("--images="));
  if (unknown.length > 0)
    throw new Error(`unknown argument ${unknown[0]}: up takes --images=local|stock and --prepare-host`);
  return [parseMode(args), args.includes("--prepare-host")];
}

function parseMode(args: string[]): Mode {
  const flag = args.find((a) => a.startsWith("--images="))?.slice("--images=".length);
  const mode = flag ?? process.env.KOC_TESTBED_IMAGES ?? (process.env.GITHUB_ACTIONS === "true" ? "stock" : "local");
  if (mode !== "local" && mode !== "stock") throw new Error(`--images must be local or stock, not ${mode}`);
  return mode;
}

async function main(): Promise<number> {
  const [cmd, ...rest] = process.argv.slice(2);
  if (cmd === "up") await up(...parseUp(rest));
  else if (cmd === "down") await down();
  else if (cmd === "status") return status();
  else if (cmd === "verify") await verify();
  else {
    console.error("usage: node testbed/cluster.ts up [--images=local|stock] [--prepare-host] | down | status | verify");
    return 2;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof HostUnchangedError) {
      console.error(chalk.red(`cluster:up: ${err.message}`));
      process.exit(2);
    }
    // a failed build step: show the tail of what it printed, not zx's stack
    const e = err as { stderr?: string; stdout?: string; exitCode?: number; message?: string };
    const out = [e.stdout, e.stderr].filter(Boolean).join("\n").trim().split("\n").slice(-25).join("\n");
    console.error(chalk.red(`cluster: ${out || e.message || String(err)}${e.exitCode ? ` (exit ${e.exitCode})` : ""}`));
    process.exit(1);
  },
);
