/**
 * `cluster:verify`: the test bed's acceptance checks, on the running cluster. DNS and a ClusterIP from a
 * pod on every node, NodePort from this host (node addresses inside the kind network only), a PVC bound
 * and written, a worker back to Ready after `docker restart`, and (local mode) the hermetic settings, by
 * inspection only (hermetic/hermetic.ts). The workloads are in the YAML files beside
 * this one.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { $, chalk } from "zx";
import { DEFAULT_IMAGES, type ImageTable } from "../../helpers/framework/images.ts";
import { renderTemplate } from "../../helpers/manifests/template.ts";
import { ipInCidr } from "../../helpers/traffic/cidr.ts";
import { cephVerify } from "../ceph/ceph.ts";
import {
  CACHE,
  CLUSTER,
  IMAGES_CONFIGMAP,
  kindSubnet,
  kubectl,
  log,
  MANAGED,
  phase,
  TESTBED,
  TESTBED_CONFIGMAP,
  until,
} from "../common.ts";
import { checkHermetic } from "../hermetic/hermetic.ts";

const VERIFY_NS = "koc-testbed-verify";

/** The images the suites would use on this test bed: built here (local) or the public defaults (stock). */
async function testbedImages(mode: string): Promise<ImageTable> {
  const cm = await kubectl("-n", "kube-public", "get", "cm", IMAGES_CONFIGMAP, "-o", "jsonpath={.data}").catch(
    () => "",
  );
  if (mode === "local" && !cm)
    throw new Error(`no kube-public/${IMAGES_CONFIGMAP} on a local-image test bed: run npm run cluster:up`);
  return { ...DEFAULT_IMAGES, ...(cm ? JSON.parse(cm) : {}) };
}

/** Renders a manifest of this folder into the cache and applies it. */
async function applyManifest(file: string, images: ImageTable, values: Record<string, string>): Promise<void> {
  const source = join(TESTBED, "verify", file);
  const text = renderTemplate(
    readFileSync(source, "utf8"),
    { images, values: { namespace: VERIFY_NS, ...values } },
    source,
  );
  const out = join(CACHE, `verify-${CLUSTER}-${values.name ?? file}`);
  writeFileSync(out, text);
  await kubectl("apply", "-f", out);
}

async function podPhase(name: string): Promise<string> {
  return kubectl("-n", VERIFY_NS, "get", "pod", name, "-o", "jsonpath={.status.phase}");
}

/** A fresh namespace: pods are refused until the controller made its default ServiceAccount. */
async function freshNamespace(): Promise<void> {
  await kubectl("delete", "namespace", VERIFY_NS, "--ignore-not-found", "--wait=true", "--timeout=120s");
  await kubectl("create", "namespace", VERIFY_NS);
  await kubectl("label", "namespace", VERIFY_NS, MANAGED);
  await until(`ServiceAccount ${VERIFY_NS}/default`, 60_000, async () =>
    (await kubectl("-n", VERIFY_NS, "get", "sa", "default", "-o", "name")).trim() !== "" ? true : "not created yet",
  );
}

async function pvcWritten(): Promise<void> {
  await until("pod writer to succeed with its PVC bound", 120_000, async () => {
    const p = await podPhase("writer");
    return p === "Succeeded"
      ? true
      : `writer ${p}, pvc ${await kubectl("-n", VERIFY_NS, "get", "pvc", "data", "-o", "jsonpath={.status.phase}")}`;
  });
}

async function clusterIpFromEveryNode(nodes: string[], images: ImageTable): Promise<void> {
  await kubectl("-n", VERIFY_NS, "rollout", "status", "deploy/web", "--timeout=120s");
  for (const [i, node] of nodes.entries()) await applyManifest("client.yaml", images, { name: `client-${i}`, node });
  for (const [i, node] of nodes.entries()) {
    await until(`client-${i} on ${node} to resolve and reach the Service`, 120_000, async () => {
      const p = await podPhase(`client-${i}`);
      if (p === "Failed") throw new Error(`client-${i}: ${await kubectl("-n", VERIFY_NS, "logs", `client-${i}`)}`);
      return p === "Succeeded" ? true : `client-${i} ${p}`;
    });
  }
}

async function nodePortFromHost(): Promise<void> {
  const port = await kubectl("-n", VERIFY_NS, "get", "svc", "web", "-o", "jsonpath={.spec.ports[0].nodePort}");
  const subnet = await kindSubnet();
  const ips = (
    await kubectl("get", "nodes", "-o", 'jsonpath={.items[*].status.addresses[?(@.type=="InternalIP")].address}')
  ).split(" ");
  for (const ip of ips) {
    // only the kind network's own addresses: traffic never leaves this machine
    if (!ipInCidr(ip, subnet)) throw new Error(`node address ${ip} is outside the kind network ${subnet}`);
    await until(`http://${ip}:${port} to answer 200`, 30_000, async () => {
      const r = await fetch(`http://${ip}:${port}/`, { signal: AbortSignal.timeout(3000) }).catch(
        (e: Error) => e.message,
      );
      return typeof r !== "string" && r.status === 200 ? true : typeof r === "string" ? r : `HTTP ${r.status}`;
    });
  }
}

async function workerSurvivesRestart(worker: string): Promise<void> {
  await $`docker restart ${worker}`;
  const restarted = Date.parse((await $`docker inspect -f ${"{{.State.StartedAt}}"} ${worker}`).stdout.trim());
  // Ready alone could be stale: the kubelet must have renewed its lease since the restart, and the
  // node's own pods (kube-proxy, netd) must be running again
  await until(`${worker} Ready, its lease renewed and its pods ready after the restart`, 180_000, async () => {
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
    return ok || `Ready=${ready}, lease renewed ${renew > restarted ? "after" : "before"} restart, pods ${pods.trim()}`;
  });
}

export async function verify(): Promise<void> {
  const mode = await kubectl("-n", "kube-public", "get", "cm", TESTBED_CONFIGMAP, "-o", "jsonpath={.data.images}");
  const images = await testbedImages(mode);
  const nodes = (await kubectl("get", "nodes", "-o", "jsonpath={.items[*].metadata.name}")).split(" ").filter(Boolean);
  if (nodes.length !== 3) throw new Error(`expected 3 nodes, found ${nodes.join(", ")}`);
  try {
    await freshNamespace();
    await applyManifest("workloads.yaml", images, {});
    await phase("PVC bound and written by a pod", pvcWritten);
    await phase(`DNS and ClusterIP from a pod on each of ${nodes.length} nodes`, () =>
      clusterIpFromEveryNode(nodes, images),
    );
    await phase("NodePort answers from the host on every node", nodePortFromHost);
    const worker = nodes.find((n) => n.endsWith("-worker")) ?? nodes[1] ?? "";
    await phase(`${worker} back to Ready after docker restart`, () => workerSurvivesRestart(worker));
    // after the restart: a node that comes back must set up its routes and DNS again
    if (mode === "local") {
      await phase(
        "hermetic (inspected): host drop rule, Service CIDR unreachable on every node, DNS forwards nothing",
        () => checkHermetic(nodes),
      );
      await phase("CephFS: a ReadWriteMany claim written on one node, read on another", () => cephVerify(images));
    } else log("hermetic checks skipped: stock mode pulls public images");
  } finally {
    await kubectl("delete", "namespace", VERIFY_NS, "--wait=true", "--timeout=120s").catch(() => undefined);
  }
  log(`${chalk.green("verified")}: ${CLUSTER} passes its acceptance checks`);
}
