/**
 * `cluster:upgrade --to MINOR`: the running test bed, one minor older, upgraded in place the way kubeadm
 * documents it (upgrade-plan.ts says which steps, in which order). The target's node image is not needed:
 * its binaries go into the running nodes with `docker cp` and its component images into each node's
 * containerd, both from the local build (build/local-images.ts buildImageArchive, cached by version).
 *
 * Each step is logged with its start and duration and appended to the steps file as a JSON line
 * ({step, node, startedAt, endedAt, ok}, and `retries` when a step ran its command again); `run --compare`
 * reads it to say in which step failed requests fell.
 * A failed step stops the upgrade naming the node, the command and the end of its output, and leaves the
 * cluster as it is: running it again resumes with the nodes still on the old version.
 *
 * Right after `kubeadm upgrade apply` restarted the API server, a worker's `kubeadm upgrade node` was
 * refused the `kubelet-config` ConfigMap (forbidden: the authorizer had not settled) and passed when run
 * again. So each attempt first waits until /readyz answers ok and the node's own credentials read what
 * `upgrade node` reads (apiSettledFor), and a failure whose output shows a known transient cause
 * (upgrade-plan.ts TRANSIENT_FAILURES) runs it again, at most UPGRADE_NODE_ATTEMPTS times in all, each
 * retry logged and kept in the step's record (`retries`); any other failure stops as before.
 * Likewise, after the control plane's new kubelet had reported Ready, it restarted the static pods and
 * `kubectl uncordon` hung until its deadline while the admin got 403 on pods: drain and uncordon wait until
 * /readyz is ok and the admin is authorized (apiSettled), and run again when they failed while that did not
 * hold (kubectlSettled).
 * On purpose: the patterns and the retry plan are judged in upgrade-plan.test.ts (the live failure's
 * output, other failures that must stop at once, the last attempt); the wait and the retry loop are
 * exercised live by `cluster:upgrade` only.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { $, chalk } from "zx";
import { formatDuration, T } from "../helpers/framework/timeouts.ts";
import { buildImageArchive, kubernetesBin, workloadsFile } from "./build/local-images.ts";
import { cephUp, STATE_CONFIGMAP } from "./ceph/ceph.ts";
import {
  CACHE,
  CLUSTER,
  CONTEXT,
  kubectl,
  kubectlPath,
  log,
  phase,
  TESTBED_CONFIGMAP,
  until,
  type Versions,
} from "./common.ts";
import { ensureCorefile } from "./hermetic/hermetic.ts";
import { dockerUp } from "./host/docker.ts";
import { clusterNodes, publishTestbedInfo, waitHealthy } from "./lifecycle.ts";
import { ensureKubeProxyRequests } from "./settle/settle.ts";
import {
  type PlanStep,
  parseNodes,
  planUpgrade,
  refusal,
  retryDecision,
  runningFrom,
  type StepKind,
  type StepRecord,
  type StepRetry,
  UpgradeRefusedError,
} from "./upgrade-plan.ts";
import { minorOf, selectVersions } from "./versions.ts";

/** Where the new binaries wait in each node (its /var volume, not the tmpfs /tmp) until they are installed. */
const STAGE_DIR = "/var/lib/koc-upgrade";

/**
 * Preflight errors kubeadm must not stop on here (kind itself runs `kubeadm init|join --skip-phases=preflight`):
 *  - SystemVerification: its kernel validator reads the kernel's config (/proc/config.gz, /boot/config-*),
 *    which a node container does not have, and on cgroup v1 hosts the cgroup validator reports v1 (the
 *    kubelet runs with failCgroupV1: false on purpose, see kindConfig).
 *  - CreateJob: the health check runs the pause image with `-v` and waits for it to exit 0; the test bed's
 *    pause is Debian's catatonit (build/images.sh), which has no -v and exits 1. Scheduling is proven by
 *    the drains instead: every evicted pod must start again elsewhere.
 */
const IGNORED_PREFLIGHT = "--ignore-preflight-errors=SystemVerification,CreateJob";

/** How many times `kubeadm upgrade node` runs at most, when every failure before the last is transient. */
const UPGRADE_NODE_ATTEMPTS = 3;

/** A command that failed, named with its node and the end of its output; `output`: all of it, if it exited. */
export class StepFailedError extends Error {
  readonly output: string;
  constructor(message: string, output = "") {
    super(message);
    this.output = output;
  }
}

interface Context {
  target: Versions;
  imagesTar: string;
  stepsFile: string;
}

/** The default steps file of this test bed. */
export function defaultStepsFile(): string {
  return join(CACHE, `upgrade-steps-${CLUSTER}.jsonl`);
}

/** Runs a command (argv, no shell on the host) within a deadline; fails naming it with the end of its output. */
async function run(where: string, argv: string[], timeoutMs: number): Promise<string> {
  const out = await $`${argv}`.timeout(timeoutMs).nothrow();
  if (out.exitCode === 0) return out.stdout;
  const output = `${out.stdout}\n${out.stderr}`.trim();
  const tail = output.split("\n").slice(-20).join("\n");
  const killed = out.exitCode === null;
  const why = killed ? `killed after ${formatDuration(timeoutMs)}` : `exit ${out.exitCode}`;
  // a command killed at its deadline is never judged transient by what it printed before
  throw new StepFailedError(`on ${where}: \`${argv.join(" ")}\` failed (${why}):\n${tail}`, killed ? "" : output);
}

/** A shell script in a node container. */
const onNode = (node: string, script: string, timeoutMs = T.exec): Promise<string> =>
  run(node, ["docker", "exec", node, "sh", "-c", script], timeoutMs);

const kubectlOn = async (where: string, args: string[], timeoutMs: number): Promise<string> =>
  run(where, [await kubectlPath(), "--context", CONTEXT, ...args], timeoutMs);

/** Installs staged binaries atomically (a rename: a running kubelet's file is never written over). */
const install = (names: string[]) =>
  names
    .map((b) => `install -m 0755 ${STAGE_DIR}/${b} /usr/bin/${b}.new && mv -f /usr/bin/${b}.new /usr/bin/${b}`)
    .join(" && ");

async function stage(node: string, ctx: Context): Promise<void> {
  await onNode(node, `mkdir -p ${STAGE_DIR}`);
  const bin = kubernetesBin(ctx.target);
  for (const b of ["kubeadm", "kubelet", "kubectl"])
    await run(node, ["docker", "cp", join(bin, b), `${node}:${STAGE_DIR}/${b}`], T.kubeadmUpgrade);
  // the same import the node image build does: names exactly as kubeadm lists them, found locally, never pulled
  await run(
    node,
    [
      "sh",
      "-c",
      'docker exec -i "$1" ctr -n k8s.io images import --all-platforms --no-unpack --digests - <"$2"',
      "sh",
      node,
      ctx.imagesTar,
    ],
    T.kubeadmUpgrade,
  );
  const want = [
    `registry.k8s.io/kube-apiserver:${ctx.target.KUBERNETES_VERSION}`,
    `registry.k8s.io/pause:${ctx.target.PAUSE_IMAGE_TAG}`,
  ];
  const have = await onNode(node, "ctr -n k8s.io images ls -q");
  const missing = want.filter((ref) => !have.split("\n").includes(ref));
  if (missing.length > 0)
    throw new StepFailedError(`on ${node}: images missing after the import: ${missing.join(", ")}`);
}

/** `kubeadm upgrade plan`: printed, then the plan must offer the target. */
async function upgradePlan(node: string, ctx: Context): Promise<void> {
  const v = ctx.target.KUBERNETES_VERSION;
  // the version is given so kubeadm does not ask dl.k8s.io for the latest release (the nodes reach nothing outside)
  const out = await onNode(node, `kubeadm upgrade plan ${v} ${IGNORED_PREFLIGHT}`, T.kubeadmUpgrade);
  for (const line of out.trim().split("\n")) log(chalk.gray(`  ${line}`));
  if (!out.includes(`kubeadm upgrade apply ${v}`))
    throw new StepFailedError(
      `on ${node}: \`kubeadm upgrade plan ${v}\` does not offer \`kubeadm upgrade apply ${v}\``,
    );
}

/**
 * containerd's sandbox image moved to the target's pause (preloaded by the stage step), containerd restarted
 * while the node is drained; running containers keep running under their shims.
 */
async function sandboxImage(node: string, ctx: Context): Promise<void> {
  const image = `registry.k8s.io/pause:${ctx.target.PAUSE_IMAGE_TAG}`;
  await onNode(
    node,
    `sed -i 's#^\\( *sandbox_image = \\).*#\\1"${image}"#' /etc/containerd/config.toml && systemctl restart containerd && ctr version >/dev/null`,
  );
}

async function waitReady(node: string, ctx: Context): Promise<void> {
  const v = ctx.target.KUBERNETES_VERSION;
  await until(`node ${node} reports kubelet ${v} and Ready`, T.nodeUpgrade, async () => {
    const out = await kubectl(
      "get",
      "node",
      node,
      "-o",
      'jsonpath={.status.nodeInfo.kubeletVersion} {.status.conditions[?(@.type=="Ready")].status}',
    );
    return out.trim() === `${v} True` ? true : `kubelet version and Ready: ${out.trim()}`;
  });
}

/** What is not settled about the API server for this tool's own requests, or true: /readyz, and RBAC. */
async function apiState(): Promise<string | true> {
  const requestTimeout = `--request-timeout=${Math.round(T.apiCall / 1000)}s`;
  const ready = await $`${await kubectlPath()} --context ${CONTEXT} get --raw /readyz ${requestTimeout}`
    .timeout(T.apiCall)
    .nothrow();
  if (ready.stdout.trim() !== "ok") return `/readyz: ${(ready.stdout + ready.stderr).trim() || "no answer"}`;
  // right after a restart the authorizer's caches may refuse even the cluster admin (403 on pods)
  const may = await $`${await kubectlPath()} --context ${CONTEXT} auth can-i list pods -A ${requestTimeout}`
    .timeout(T.apiCall)
    .nothrow();
  return may.stdout.trim() === "yes" ? true : `may the admin list pods: ${(may.stdout + may.stderr).trim()}`;
}

/**
 * Waits until the API server answers /readyz with ok and authorizes this tool's requests: after `upgrade
 * apply`, and again after the control plane's new kubelet restarts the static pods, both take a while.
 */
async function apiSettled(): Promise<void> {
  await until("the API server is ready and authorizes the cluster admin", T.apiSettled, apiState);
}

/**
 * A kubectl step that may be run again (drain, uncordon), once the API server has settled; run again, up to
 * UPGRADE_NODE_ATTEMPTS in all, after a failure whose cause was the API server: its output shows a transient
 * cause (retryDecision), or the API server was not settled right after it (a kubectl killed at its deadline
 * while the control plane's static pods restarted under their new kubelet).
 */
async function kubectlSettled(node: string, args: string[], timeoutMs: number, retries: StepRetry[]): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await apiSettled();
    try {
      await kubectlOn(node, args, timeoutMs);
      return;
    } catch (e) {
      if (!(e instanceof StepFailedError)) throw e;
      const state = await apiState();
      const cause = state === true ? retryDecision(e.output, attempt, UPGRADE_NODE_ATTEMPTS).reason : state;
      if (cause === undefined || attempt >= UPGRADE_NODE_ATTEMPTS) throw e;
      retries.push({ at: new Date().toISOString(), reason: cause });
      log(
        chalk.yellow(
          `${args[0]} ${node}: attempt ${attempt} of ${UPGRADE_NODE_ATTEMPTS} failed while the API server was unsettled (${cause}); again once it has settled`,
        ),
      );
    }
  }
}

/**
 * Waits until the API server answers /readyz with ok and the node's own credentials (its kubelet.conf, as
 * `kubeadm upgrade node` uses them) read the ConfigMaps `upgrade node` reads: right after `upgrade apply`
 * restarted the API server, its authorizer may refuse the node what kubeadm's Roles grant it.
 */
async function apiSettledFor(node: string): Promise<void> {
  await apiSettled();
  const asNode = ["kubectl", "--kubeconfig", "/etc/kubernetes/kubelet.conf", "-n", "kube-system", "get", "configmap"];
  const requestTimeout = `--request-timeout=${Math.round(T.apiCall / 1000)}s`;
  await until(
    `the API server is ready and node ${node}'s credentials read kube-system/kubeadm-config and kubelet-config`,
    T.apiSettled,
    async () => {
      const ready = (await kubectl("get", "--raw", "/readyz", requestTimeout)).trim();
      if (ready !== "ok") return `/readyz: ${ready}`;
      const argv = [...asNode, "kubeadm-config", "kubelet-config", "-o", "name", requestTimeout];
      const read = await $`docker exec ${node} ${argv}`.timeout(T.apiCall).nothrow();
      const names = read.stdout.trim().split("\n");
      if (
        read.exitCode === 0 &&
        names.includes("configmap/kubeadm-config") &&
        names.includes("configmap/kubelet-config")
      )
        return true;
      return `as node ${node}: ${`${read.stdout}\n${read.stderr}`.trim() || `exit ${read.exitCode}`}`;
    },
  );
}

/**
 * `kubeadm upgrade node`, once the API server has settled (apiSettledFor); run again, up to
 * UPGRADE_NODE_ATTEMPTS in all, only after a failure its output shows to be transient (retryDecision).
 */
async function upgradeNode(node: string, retries: StepRetry[]): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await apiSettledFor(node);
    try {
      await onNode(node, `kubeadm upgrade node ${IGNORED_PREFLIGHT}`, T.kubeadmUpgrade);
      return;
    } catch (e) {
      if (!(e instanceof StepFailedError)) throw e;
      const decision = retryDecision(e.output, attempt, UPGRADE_NODE_ATTEMPTS);
      if (!decision.retry) {
        if (decision.reason === undefined) throw e;
        throw new StepFailedError(
          `${e.message}\n(attempt ${attempt} of ${UPGRADE_NODE_ATTEMPTS}, transient again: ${decision.reason})`,
        );
      }
      retries.push({ at: new Date().toISOString(), reason: decision.reason });
      log(
        chalk.yellow(
          `upgrade-node ${node}: attempt ${attempt} of ${UPGRADE_NODE_ATTEMPTS} failed, transient: ${decision.reason}; again once the API server has settled`,
        ),
      );
    }
  }
}

/** kubeadm overwrote the test bed's own settings (CoreDNS's Corefile when it migrated it, kube-proxy's requests); Ceph checked. */
async function settle(): Promise<void> {
  await waitHealthy(T.nodeUpgrade);
  await ensureCorefile();
  await ensureKubeProxyRequests();
  const [node] = await clusterNodes();
  const image = (await run("host", ["docker", "inspect", "-f", "{{.Config.Image}}", node ?? ""], T.exec)).trim();
  // the workload images the suites use are still the node image's (same names in the target's archive)
  const workloads = workloadsFile(image);
  await publishTestbedInfo("local", existsSync(workloads) ? JSON.parse(readFileSync(workloads, "utf8")) : undefined);
  // ceph-fuse runs in a node unit (koc-cephfs.service), not under the kubelet: a kubelet restart or a drain
  // leaves the mount alone. cephUp checks every daemon and mount (repairing a lost one) and a cross-node read.
  await cephUp("local");
  const state = await kubectl(
    "-n",
    "kube-public",
    "get",
    "cm",
    STATE_CONFIGMAP,
    "-o",
    "jsonpath={.data.state} {.data.reason}",
  );
  if (!state.startsWith("ready"))
    throw new StepFailedError(`on the cluster: CephFS after the upgrade: ${state.trim()}`);
  for (const n of await clusterNodes()) await onNode(n, `rm -rf ${STAGE_DIR}`);
}

/** `retries`: where an action that runs its command again records each retry (the step's record keeps them). */
const ACTIONS: Record<StepKind, (node: string, ctx: Context, retries: StepRetry[]) => Promise<unknown>> = {
  stage,
  kubeadm: (node) => onNode(node, install(["kubeadm"])),
  "upgrade-plan": upgradePlan,
  "upgrade-apply": (node, ctx) =>
    onNode(node, `kubeadm upgrade apply ${ctx.target.KUBERNETES_VERSION} --yes ${IGNORED_PREFLIGHT}`, T.kubeadmUpgrade),
  "upgrade-node": (node, _ctx, retries) => upgradeNode(node, retries),
  drain: (node, _ctx, retries) =>
    kubectlSettled(
      node,
      ["drain", node, "--ignore-daemonsets", "--delete-emptydir-data", `--timeout=${Math.round(T.nodeDrain / 1000)}s`],
      T.nodeDrain + T.apiCall,
      retries,
    ),
  "sandbox-image": sandboxImage,
  // /kind/version is what the node runs by kind's contract; cluster:up reads it to refuse another minor
  kubelet: (node, ctx) =>
    onNode(
      node,
      `${install(["kubelet", "kubectl"])} && printf %s ${ctx.target.KUBERNETES_VERSION} >/kind/version && systemctl daemon-reload && systemctl restart kubelet`,
    ),
  ready: waitReady,
  uncordon: (node, _ctx, retries) => kubectlSettled(node, ["uncordon", node], T.apiCall, retries),
  settle: () => settle(),
};

async function runStep(step: PlanStep, ctx: Context): Promise<void> {
  const label = step.node === "cluster" ? step.kind : `${step.kind} ${step.node}`;
  const started = new Date();
  log(`${label}: started ${started.toISOString().slice(11, 19)}Z`);
  let ok = false;
  const retries: StepRetry[] = [];
  try {
    await phase(label, () => ACTIONS[step.kind](step.node, ctx, retries));
    ok = true;
  } catch (e) {
    const why = e instanceof StepFailedError ? e.message : `on ${step.node}: ${(e as Error).message ?? String(e)}`;
    throw new StepFailedError(
      `step ${label} failed ${why}\nthe cluster is left as it is; run cluster:upgrade again to resume`,
    );
  } finally {
    const record: StepRecord = {
      step: step.kind,
      node: step.node,
      startedAt: started.toISOString(),
      endedAt: new Date().toISOString(),
      ok,
      ...(retries.length > 0 ? { retries } : {}),
    };
    appendFileSync(ctx.stepsFile, `${JSON.stringify(record)}\n`);
  }
}

/** The test bed's images mode, as `up` published it (an upgrade needs the local builds). */
async function publishedMode(): Promise<string> {
  return kubectl("-n", "kube-public", "get", "cm", TESTBED_CONFIGMAP, "-o", "jsonpath={.data.images}").catch(() => "");
}

export async function upgrade(to: string, stepsFile = defaultStepsFile()): Promise<void> {
  const target = selectVersions(to);
  Object.assign(process.env, target, { KOC_KUBERNETES: target.KUBERNETES_MINOR });
  if (!(await dockerUp()) || (await clusterNodes()).length === 0)
    throw new UpgradeRefusedError(
      `no test bed ${CLUSTER} runs: npm run cluster:up -- --kubernetes <previous minor> first`,
    );
  const nodes = parseNodes(await kubectl("get", "nodes", "-o", "json"));
  const why = refusal(nodes, target);
  if (why !== undefined) throw new UpgradeRefusedError(why);
  if ((await publishedMode()).trim() === "stock")
    throw new UpgradeRefusedError("the test bed runs kind's stock node image: an upgrade needs --images=local");
  const from = runningFrom(nodes);
  const steps = planUpgrade(nodes, selectVersions(minorOf(from) ?? ""), target);
  if (steps.length === 0) {
    log(`${CLUSTER} already runs ${target.KUBERNETES_VERSION} on every node: nothing to upgrade`);
    return;
  }
  log(
    `upgrading ${CLUSTER} from ${from} to ${target.KUBERNETES_VERSION}: ${steps.length} steps, recorded in ${stepsFile}`,
  );
  const resumed = nodes.some((n) => n.kubeletVersion === target.KUBERNETES_VERSION);
  mkdirSync(dirname(stepsFile), { recursive: true });
  if (!resumed) writeFileSync(stepsFile, ""); // a fresh upgrade starts a fresh file; a resumed one goes on
  const imagesTar = await buildImageArchive(target);
  const ctx: Context = { target, imagesTar, stepsFile };
  for (const step of steps) await runStep(step, ctx);
  log(`${chalk.green("upgraded")}: every node runs ${target.KUBERNETES_VERSION}`);
}
