/**
 * hostPath directories a test writes on nodes: one per test, `/var/lib/k8s-ops-conformance/hostpath/<namespace>`,
 * removed after the test (also when it failed) by a pod on each node that was given
 * (manifests/shared/host-dir-cleanup.yaml), before the namespace goes.
 *
 *   const dir = hostDirRemovedAfterTest(ns, nodes);   // dir.path is what manifests mount
 */
import type { V1Pod } from "@kubernetes/client-node";
import type { TestNamespace } from "../framework/namespace.ts";
import { PodSecurityRefusedError } from "../framework/pod-security.ts";
import { log } from "../framework/report.ts";
import { T } from "../framework/timeouts.ts";
import { waitFor } from "../framework/wait.ts";
import { apply } from "./apply.ts";

/** Where the suite keeps hostPath data on nodes; a test uses only `<root>/<its namespace>`. */
export const HOST_ROOT = "/var/lib/k8s-ops-conformance/hostpath";

export interface HostDir {
  /** The parent directory on every node, shared by all tests. */
  root: string;
  /** The test's own directory name under root (its namespace). */
  name: string;
  /** root/name: the hostPath a test's manifests mount. */
  path: string;
}

/** The test's directory under `root` (HOST_ROOT unless a test needs another, e.g. a sabotage). */
export function hostDirOf(namespace: string, root: string = HOST_ROOT): HostDir {
  return { root, name: namespace, path: `${root}/${namespace}` };
}

/** The cleanup pod's name for a node: `host-dir-cleanup-<node>`, cut to a valid name. */
export function cleanupPodName(node: string): string {
  return `host-dir-cleanup-${node}`.slice(0, 253).replace(/[-.]+$/, "");
}

/**
 * Runs the cleanup pod on `node` and waits for it to succeed; throws with its state when it does not. When
 * Pod Security refuses the cleanup pod (hostPath), it refused every hostPath pod of this namespace as well
 * (the test was skipped for that): nothing was written, so there is nothing to remove, and it says so.
 */
async function removeOnNode(ns: TestNamespace, dir: HostDir, node: string): Promise<void> {
  const pod = cleanupPodName(node);
  try {
    await apply(
      ns,
      "shared/host-dir-cleanup.yaml",
      { pod, node, root: dir.root, dir: dir.name },
      { podSecurityRefusal: "throw" },
    );
  } catch (error) {
    if (!(error instanceof PodSecurityRefusedError)) throw error;
    log(`${dir.path} on node ${node} not removed: no pod of ${ns.name} may mount it (${error.message})`);
    return;
  }
  const done = await waitFor(
    `pod ${ns.name}/${pod} removed ${dir.path} on node ${node}`,
    {
      observe: () => ns.kube.core.readNamespacedPod({ name: pod, namespace: ns.name }),
      ok: (p: V1Pod) => p.status?.phase === "Succeeded" || p.status?.phase === "Failed",
      show: (p: V1Pod) => `phase ${p.status?.phase}: ${JSON.stringify(p.status?.containerStatuses?.[0]?.state)}`,
    },
    T.podStart,
  );
  if (done.status?.phase !== "Succeeded") {
    const state = done.status?.containerStatuses?.[0]?.state?.terminated;
    throw new Error(`could not remove ${dir.path} on node ${node}: ${state?.reason} exit ${state?.exitCode}`);
  }
}

/**
 * The test's hostPath directory, with its removal on each of `nodes` registered to run after the test,
 * pass or fail. Register it before anything writes there.
 */
export function hostDirRemovedAfterTest(
  ns: TestNamespace,
  nodes: readonly string[],
  root: string = HOST_ROOT,
): HostDir {
  const dir = hostDirOf(ns.name, root);
  ns.defer(`remove hostPath ${dir.path} on ${nodes.join(", ")}`, async () => {
    const results = await Promise.allSettled(nodes.map((node) => removeOnNode(ns, dir, node)));
    const failed = results.flatMap((r) => (r.status === "rejected" ? [(r.reason as Error).message] : []));
    if (failed.length > 0) throw new Error(failed.join("; "));
  });
  return dir;
}
