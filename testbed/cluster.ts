#!/usr/bin/env node
// The local test bed: a 3-node kind cluster named k8s-ops-conformance (one schedulable control plane,
// two workers), context kind-k8s-ops-conformance.
//
//   node testbed/cluster.ts up       create it (idempotent: an existing healthy cluster returns at once)
//        [--kubernetes MINOR]        which Kubernetes (KOC_KUBERNETES; default: the newest minor of
//                                    versions.ts); a running test bed of another minor is refused (exit 2)
//        [--prepare-host]            allow changes to this host's Docker setup (packages, daemon.json, a
//                                    dockerd restart) when its engine cannot run the nodes as it is
//   node testbed/cluster.ts down     delete it, its containers, volumes and the kind network it made
//   node testbed/cluster.ts status   what runs now
//   node testbed/cluster.ts upgrade --to MINOR [--steps-file FILE]
//                                    upgrade the running test bed, one minor older, in place with kubeadm
//                                    (upgrade.ts); each step appended to FILE as a JSON line (default
//                                    $KOC_CACHE_DIR/upgrade-steps-<name>.jsonl) for `run --compare`
//   node testbed/cluster.ts verify   prove it works: DNS, ClusterIP from every node, NodePort from the host,
//                                    a PVC binding, a worker surviving `docker restart`
//
// Images (KOC_TESTBED_IMAGES or --images):
//   local  (default) build everything here from Debian packages and Go modules: no container registry.
//   stock  (default when GITHUB_ACTIONS=true) kind's published node image and public workload images.
// Build outputs are cached in KOC_CACHE_DIR (default ~/.cache/k8s-ops-conformance), keyed by version, so
// the builds of two minors coexist.
//
// This file is the story of each command; the jobs are in common.ts, lifecycle.ts, build/, host/, settle/, verify/.
import { $, chalk } from "zx";
import { buildLocalImages } from "./build/local-images.ts";
import { cephDown, cephStatus, cephUp } from "./ceph/ceph.ts";
import {
  CLUSTER,
  CONTEXT,
  elapsed,
  kubectlPath,
  log,
  type Mode,
  phase,
  readVersions,
  type Versions,
} from "./common.ts";
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
  runningVersion,
  VersionMismatchError,
  waitHealthy,
} from "./lifecycle.ts";
import { ensureKubeProxyRequests } from "./settle/settle.ts";
import { upgrade } from "./upgrade.ts";
import { UpgradeRefusedError } from "./upgrade-plan.ts";
import { verify } from "./verify/verify.ts";
import { DEFAULT_MINOR, UnsupportedVersionError } from "./versions.ts";

async function up(mode: Mode, prepareHost: boolean): Promise<void> {
  const v = selected();
  if (mode === "stock" && v.KUBERNETES_MINOR !== DEFAULT_MINOR)
    throw new UnsupportedVersionError(
      `stock images are kind ${v.KIND_VERSION}'s own node image (Kubernetes ${DEFAULT_MINOR}); ${v.KUBERNETES_MINOR} needs --images=local`,
    );
  log(
    `test bed ${CLUSTER}: Kubernetes ${mode === "local" ? v.KUBERNETES_VERSION : `${DEFAULT_MINOR} (kind's node image)`}, kind ${v.KIND_VERSION}, ${mode} images`,
  );
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

/** The selected minor's pins (KOC_KUBERNETES, set from --kubernetes), exported to the build scripts. */
function selected(): Versions {
  const v = readVersions();
  Object.assign(process.env, v);
  return v;
}

async function down(): Promise<void> {
  await cephDown();
  await deleteCluster(selected());
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
  const version = await runningVersion().catch(() => "unknown (API server not answering)");
  console.log(`Kubernetes ${version} (the nodes' kubelets)`);
  const k = await $`${await kubectlPath()} --context ${CONTEXT} get nodes -o wide`.nothrow();
  console.log(k.exitCode === 0 ? k.stdout.trim() : `API server not answering: ${k.stderr.trim()}`);
  const cephOk = await cephStatus();
  return k.exitCode === 0 && cephOk ? 0 : 1;
}

/**
 * up's arguments. `--kubernetes MINOR` (or `--kubernetes=MINOR`, a full pinned version too) sets
 * KOC_KUBERNETES, which selects the row of versions.ts for everything after it.
 */
function parseUp(args: string[]): [Mode, boolean] {
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? "";
    if (a === "--kubernetes" || a.startsWith("--kubernetes=")) {
      const value = a === "--kubernetes" ? args[++i] : a.slice("--kubernetes=".length);
      if (!value) throw new UnsupportedVersionError("--kubernetes needs a minor, e.g. --kubernetes 1.36");
      process.env.KOC_KUBERNETES = value;
    } else rest.push(a);
  }
  const unknown = rest.filter((a) => a !== "--prepare-host" && !a.startsWith("--images="));
  if (unknown.length > 0)
    throw new Error(
      `unknown argument ${unknown[0]}: up takes --kubernetes MINOR, --images=local|stock and --prepare-host`,
    );
  return [parseMode(rest), rest.includes("--prepare-host")];
}

/** upgrade's arguments: `--to MINOR` (required) and `--steps-file FILE`, each also as `--flag=value`. */
function parseUpgrade(args: string[]): [string, string | undefined] {
  const values: Record<string, string | undefined> = {};
  for (let i = 0; i < args.length; i++) {
    const [flag = "", inline] = (args[i] ?? "").split(/=(.*)/s, 2);
    if (flag !== "--to" && flag !== "--steps-file")
      throw new UpgradeRefusedError(`unknown argument ${args[i]}: upgrade takes --to MINOR and --steps-file FILE`);
    values[flag] = inline ?? args[++i];
  }
  const to = values["--to"];
  if (!to) throw new UpgradeRefusedError("upgrade needs the target minor: cluster:upgrade -- --to 1.37");
  return [to, values["--steps-file"]];
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
  else if (cmd === "upgrade") await upgrade(...parseUpgrade(rest));
  else {
    console.error(
      "usage: node testbed/cluster.ts up [--kubernetes MINOR] [--images=local|stock] [--prepare-host] | down | status | verify | upgrade --to MINOR [--steps-file FILE]",
    );
    return 2;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (
      err instanceof HostUnchangedError ||
      err instanceof UnsupportedVersionError ||
      err instanceof VersionMismatchError ||
      err instanceof UpgradeRefusedError
    ) {
      console.error(chalk.red(`cluster:${process.argv[2] ?? "up"}: ${err.message}`));
      process.exit(2);
    }
    // a failed build step: show the tail of what it printed, not zx's stack
    const e = err as { stderr?: string; stdout?: string; exitCode?: number; message?: string };
    const out = [e.stdout, e.stderr].filter(Boolean).join("\n").trim().split("\n").slice(-25).join("\n");
    console.error(chalk.red(`cluster: ${out || e.message || String(err)}${e.exitCode ? ` (exit ${e.exitCode})` : ""}`));
    process.exit(1);
  },
);
