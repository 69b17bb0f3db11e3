/**
 * What the report says about the cluster it judged (Allure's environment, the console banner): each node's
 * kubelet, OS image, kernel and container runtime, the pod network, the storage classes (default and those
 * known to offer ReadWriteMany), and which suite version and commit ran.
 */
import type { V1DaemonSet, V1Node, V1StorageClass } from "@kubernetes/client-node";
import type { Kube } from "./kube.ts";
import { suiteVersion } from "./suite-image.ts";

/** Pod networks recognised by the name of their DaemonSet in kube-system. */
const CNI_NAMES = ["calico", "cilium", "flannel", "kindnet", "weave", "antrea", "canal", "kube-router", "netd", "ovn"];
/** Provisioners known to offer ReadWriteMany volumes. */
const RWX_PROVISIONERS = /nfs|cephfs|efs\.csi|azurefile|file\.csi|filestore|glusterfs|longhorn|juicefs|smb/i;

const DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class";

export function nodeFacts(nodes: readonly V1Node[]): Record<string, string> {
  return Object.fromEntries(
    nodes.map((n) => {
      const info = n.status?.nodeInfo;
      const value = info
        ? `kubelet ${info.kubeletVersion}, ${info.osImage}, kernel ${info.kernelVersion}, ${info.containerRuntimeVersion}`
        : "no nodeInfo";
      return [`node.${n.metadata?.name ?? "?"}`, value];
    }),
  );
}

/** `kindnet (DaemonSet kube-system/kindnet)`, or what kube-system runs when no known name matches. */
export function cniFact(daemonSets: readonly V1DaemonSet[]): string {
  const names = daemonSets.map((d) => d.metadata?.name ?? "").filter((n) => n !== "" && n !== "kube-proxy");
  const known = names.filter((n) => CNI_NAMES.some((cni) => n.toLowerCase().includes(cni)));
  if (known.length > 0) return known.map((n) => `${n} (DaemonSet kube-system/${n})`).join(", ");
  return `not recognised (kube-system DaemonSets: ${names.join(", ") || "none"})`;
}

export function storageFacts(classes: readonly V1StorageClass[]): Record<string, string> {
  const show = (c: V1StorageClass): string => `${c.metadata?.name} (${c.provisioner})`;
  const defaults = classes.filter((c) => c.metadata?.annotations?.[DEFAULT_CLASS] === "true");
  const rwx = classes.filter((c) => RWX_PROVISIONERS.test(c.provisioner));
  return {
    "storage.classes": classes.map(show).join(", ") || "none",
    "storage.default": defaults.map(show).join(", ") || "none",
    "storage.rwx": rwx.map(show).join(", ") || "none known (by provisioner name)",
  };
}

/** `0.1.0` and `abc1234` (`+ uncommitted changes` when the tree is dirty), or `unknown` without git. */
export function suiteFacts(root: string): Record<string, string> {
  const { version, commit, dirty } = suiteVersion(root);
  const shown = commit === undefined ? "unknown (no git)" : `${commit}${dirty ? " + uncommitted changes" : ""}`;
  return { "suite.version": version, "suite.commit": shown };
}

/** Every fact above; a part that cannot be read says why instead of failing the run. */
export async function clusterFacts(
  kube: Kube,
  nodes: readonly V1Node[],
  root: string,
): Promise<Record<string, string>> {
  const because = (error: unknown): string => `unknown (${(error as Error).message.split("\n")[0]})`;
  const cni = await kube.apps
    .listNamespacedDaemonSet({ namespace: "kube-system" })
    .then((l) => cniFact(l.items), because);
  const storage = await kube.storage.listStorageClass().then(
    (l) => storageFacts(l.items),
    (error) => ({ "storage.classes": because(error) }),
  );
  return { ...nodeFacts(nodes), cni, ...storage, ...suiteFacts(root) };
}
