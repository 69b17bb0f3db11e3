/**
 * apply(ns, "smoke/nginx-service"): loads YAML from manifests/, fills placeholders, puts namespaced objects
 * into the test's namespace, labels everything with the run id, learns Secret values for the redactor,
 * attaches the (redacted) manifests to the report and server-side applies each object in file order.
 *
 * Namespaced objects go away with the namespace. Cluster-scoped objects (PersistentVolume, StorageClass,
 * ...) get a delete registered on the namespace handle, run after the test; their names should include
 * `{{namespace}}` so parallel tests do not collide.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { type KubernetesObject, PatchStrategy, type V1PodSpec } from "@kubernetes/client-node";
import { stringify } from "yaml";
import { runLabels } from "../framework/config.ts";
import { isNotFound } from "../framework/kube.ts";
import type { TestNamespace } from "../framework/namespace.ts";
import { PodSecurityRefusedError, podSecurityRefusal } from "../framework/pod-security.ts";
import { redactor } from "../framework/redact.ts";
import { attach, step } from "../framework/report.ts";
import { refusedByPodSecurity } from "./prereq.ts";
import {
  isClusterScoped,
  ManifestError,
  parseManifests,
  podSpecOf,
  prepareObjects,
  renderTemplate,
} from "./template.ts";

/** The server-side apply field manager: `kubectl get -o yaml --show-managed-fields` shows who set what. */
export const FIELD_MANAGER = "k8s-ops-conformance";
export const MANIFESTS_DIR = resolve(import.meta.dirname, "..", "..", "manifests");

/** The YAML files of a manifest path (a file, or every *.yaml in a folder, sorted by name). */
export function manifestFiles(path: string, root: string = MANIFESTS_DIR): string[] {
  const full = resolve(root, path);
  let stats: ReturnType<typeof statSync>;
  try {
    stats = statSync(full);
  } catch {
    throw new ManifestError(`manifest path "${path}" does not exist under ${relative(process.cwd(), root) || root}/`);
  }
  if (!stats.isDirectory()) return [full];
  const files = readdirSync(full)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => join(full, f));
  if (files.length === 0) throw new ManifestError(`manifest folder "${path}" holds no .yaml files`);
  return files;
}

/** Renders and prepares the objects of a manifest path for `ns` without applying them. */
export function loadManifests(
  ns: TestNamespace,
  path: string,
  values: Record<string, string> = {},
): KubernetesObject[] {
  const templateValues = { namespace: ns.name, runId: ns.runId, ...values };
  return manifestFiles(path).flatMap((file) => {
    const source = relative(MANIFESTS_DIR, file);
    const text = renderTemplate(readFileSync(file, "utf8"), { images: ns.images, values: templateValues }, source);
    return prepareObjects(parseManifests(text, source), {
      namespace: ns.name,
      labels: runLabels(ns.runId),
      images: ns.images,
      source,
    });
  });
}

export interface ApplyOptions {
  /**
   * What a refusal by Pod Security admission does: "skip" (default) skips a privileged scenario with the
   * admission message and fails any other (prereq.ts refusedByPodSecurity); "throw" throws
   * PodSecurityRefusedError for the caller to handle (an undo step must never skip).
   */
  podSecurityRefusal?: "skip" | "throw";
}

/** Applies a manifest path (file or folder under manifests/) into `ns`; returns the objects as the server stored them. */
export async function apply(
  ns: TestNamespace,
  path: string,
  values: Record<string, string> = {},
  options: ApplyOptions = {},
): Promise<KubernetesObject[]> {
  const objects = loadManifests(ns, path, values);
  return step(`apply ${path} (${objects.map((o) => `${o.kind}/${o.metadata?.name}`).join(", ")})`, async () => {
    for (const object of objects) redactor.learnSecret(object);
    await learnReferencedSecrets(ns, objects);
    await attach(
      `manifest ${path}`,
      objects.map((o) => stringify(redactor.redactObject(o))).join("---\n"),
      "application/yaml",
    );
    const applied: KubernetesObject[] = [];
    for (const object of objects) {
      applied.push(await applyObject(ns, object, options));
    }
    return applied;
  });
}

/** Server-side applies one prepared object (force: the suite owns every field it sets). */
export async function applyObject(
  ns: TestNamespace,
  object: KubernetesObject,
  options: ApplyOptions = {},
): Promise<KubernetesObject> {
  const applied = await ns.kube.objects
    .patch(object, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply)
    .catch((error: unknown) => {
      const refusal = podSecurityRefusal(error);
      if (refusal === undefined) throw error;
      const what = `${object.kind} ${object.metadata?.name}`;
      if (options.podSecurityRefusal === "throw") throw new PodSecurityRefusedError(`${what}: ${refusal}`);
      return refusedByPodSecurity(ns, what, refusal);
    });
  if (isClusterScoped(object)) {
    ns.defer(`delete ${object.kind}/${object.metadata?.name}`, async () => {
      await ns.kube.objects.delete(object, undefined, undefined, undefined, undefined, "Background").catch((error) => {
        if (!isNotFound(error)) throw error;
      });
    });
  }
  return applied;
}

/** Secrets named by secretKeyRef / envFrom.secretRef in pod specs: their values must be scrubbed as well. */
export function referencedSecrets(objects: readonly KubernetesObject[]): string[] {
  const containers = objects.flatMap((object) => {
    const podSpec = podSpecOf<V1PodSpec>(object);
    return [...(podSpec?.containers ?? []), ...(podSpec?.initContainers ?? [])];
  });
  const fromEnv = containers.flatMap((c) => (c.env ?? []).map((e) => e.valueFrom?.secretKeyRef?.name));
  const fromEnvFrom = containers.flatMap((c) => (c.envFrom ?? []).map((e) => e.secretRef?.name));
  return [...new Set([...fromEnv, ...fromEnvFrom].filter((name): name is string => Boolean(name)))];
}

async function learnReferencedSecrets(ns: TestNamespace, objects: readonly KubernetesObject[]): Promise<void> {
  const applied = new Set(objects.filter((o) => o.kind === "Secret").map((o) => o.metadata?.name));
  for (const name of referencedSecrets(objects)) {
    if (applied.has(name)) continue;
    try {
      redactor.learnSecret({
        kind: "Secret",
        ...(await ns.kube.core.readNamespacedSecret({ name, namespace: ns.name })),
      });
    } catch (error) {
      if (!isNotFound(error)) throw error; // not created yet: when the suite creates it, apply() learns it
    }
  }
}
