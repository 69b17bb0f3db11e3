/**
 * What the storage scenarios share: a unique marker, writing it from a container, reading what a container
 * sees of it, and pods placed on a given node. Reads go through exec, never through the API.
 */
import { randomBytes } from "node:crypto";
import type { V1Pod } from "@kubernetes/client-node";
import { parseBoolean } from "../../helpers/framework/config.ts";
import { expect, type TestNamespace } from "../../helpers/framework/fixtures.ts";
import { T } from "../../helpers/framework/timeouts.ts";
import { waitFor } from "../../helpers/framework/wait.ts";
import { apply } from "../../helpers/manifests/apply.ts";
import { diagnosePodClaims } from "../../helpers/observe/claim-diagnosis.ts";
import { podGone, podReady } from "../../helpers/observe/conditions.ts";
import { claimGone } from "../../helpers/observe/volumes.ts";
import { exec } from "../../helpers/traffic/exec.ts";

/** KOC_STORAGE_SABOTAGE=1: every storage scenario is set up to fail (each file's header says how). */
export function storageSabotage(env: NodeJS.ProcessEnv = process.env): boolean {
  return parseBoolean("KOC_STORAGE_SABOTAGE", env.KOC_STORAGE_SABOTAGE);
}

/** A value no other test and no earlier run wrote: the namespace plus 64 random bits. */
export function newMarker(ns: TestNamespace): string {
  return `${ns.name}-${randomBytes(8).toString("hex")}`;
}

/** What a container sees of a file: the directory's entries and the file's content, if any. */
export interface FileView {
  pod: string;
  node: string;
  /** `ls -A` of the file's directory, space-separated ("" when empty). */
  listing: string;
  /** The file's content, or undefined when the container finds no such file. */
  content: string | undefined;
}

const VIEW_SCRIPT = `f="$1"; echo "$(ls -A "$(dirname "$f")" | tr '\\n' ' ')"; if [ -f "$f" ]; then cat "$f"; else echo "<absent>"; fi`;

/** Reads `file` as the container of `pod` sees it. */
export async function viewFile(ns: TestNamespace, pod: string, node: string, file: string): Promise<FileView> {
  const result = await exec(ns, pod, ["sh", "-c", VIEW_SCRIPT, "sh", file]);
  expect(result.exitCode, `reading ${file} in ${ns.name}/${pod}: ${result.stderr}`).toBe(0);
  const [listing = "", ...rest] = result.stdout.split("\n");
  const content = rest.join("\n").trim();
  return { pod, node, listing: listing.trim(), content: content === "<absent>" ? undefined : content };
}

export function showView(view: FileView): string {
  const content = view.content === undefined ? "no such file" : `content "${view.content}"`;
  return `pod ${view.pod} on node ${view.node}: ${content}; directory holds [${view.listing}]`;
}

/** Writes `text` to `file` from the container of `pod` (sync'ed) and checks the container reads it back. */
export async function writeFile(ns: TestNamespace, pod: string, file: string, text: string): Promise<void> {
  const script = `printf '%s' "$2" > "$1" && sync && cat "$1"`;
  const result = await exec(ns, pod, ["sh", "-c", script, "sh", file, text]);
  expect(result.exitCode, `writing ${file} in ${ns.name}/${pod}: ${result.stderr}`).toBe(0);
  expect(result.stdout, `${file} read back right after writing it in ${ns.name}/${pod}`).toBe(text);
}

/** Applies a pod manifest placed on `node`, waits until it is Ready, checks it runs there. */
export async function startPodOn(
  ns: TestNamespace,
  manifest: string,
  values: { pod: string; node: string } & Record<string, string>,
): Promise<V1Pod> {
  await apply(ns, manifest, values);
  const pod = await waitFor(`pod ${ns.name}/${values.pod} is Ready`, podReady(ns, values.pod), T.podStart, {
    signal: ns.signal,
    diagnose: () => diagnosePodClaims(ns, values.pod),
  });
  expect(pod.spec?.nodeName, `node of pod ${ns.name}/${values.pod}`).toBe(values.node);
  return pod;
}

/** Deletes the pod and waits until it is gone, so its volume is unmounted. */
export async function deletePod(ns: TestNamespace, name: string): Promise<void> {
  await ns.kube.core.deleteNamespacedPod({ name, namespace: ns.name });
  await waitFor(`pod ${ns.name}/${name} is gone`, podGone(ns, name), T.delete, { signal: ns.signal });
}

/** Deletes the pod (waiting until it is gone), then the claim it used (waiting likewise). */
export async function deletePodThenClaim(ns: TestNamespace, pod: string, claim: string): Promise<void> {
  await deletePod(ns, pod);
  await ns.kube.core.deleteNamespacedPersistentVolumeClaim({ name: claim, namespace: ns.name });
  await waitFor(`claim ${ns.name}/${claim} is gone`, claimGone(ns, claim), T.delete, { signal: ns.signal });
}
