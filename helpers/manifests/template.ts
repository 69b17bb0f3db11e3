/**
 * Manifests are data: YAML under manifests/ with `{{placeholders}}`, turned into objects ready to apply.
 *
 *   {{image:<key>}}   an image from helpers/framework/images.ts (the only way a manifest may name an image)
 *   {{namespace}}     the test's namespace (for names of cluster-scoped objects, URLs, DNS names)
 *   {{runId}}         the run id
 *   {{<name>}}        any value the test passes to apply()
 *
 * An unknown placeholder, a manifest that sets its own namespace, or an image not from the table is an
 * error that names the file, so a typo never turns into a confusing cluster-side failure.
 */
import type { KubernetesObject } from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { type ImageTable, isImageKey } from "../framework/images.ts";

export class ManifestError extends Error {
  override name = "ManifestError";
}

export interface TemplateValues {
  images: ImageTable;
  /** Plain values: namespace, runId and whatever the test adds. */
  values: Readonly<Record<string, string>>;
}

const PLACEHOLDER = /\{\{\s*([A-Za-z][\w.-]*)(?::([A-Za-z][\w-]*))?\s*\}\}/g;

/** Replaces every placeholder in `text`; throws on unknown ones, naming `source`. */
export function renderTemplate(text: string, vars: TemplateValues, source: string): string {
  const rendered = text.replace(PLACEHOLDER, (match, name: string, arg: string | undefined) => {
    if (name === "image" && arg !== undefined) {
      if (isImageKey(arg)) return vars.images[arg];
      throw new ManifestError(
        `${source}: unknown image key in ${match}; known: ${Object.keys(vars.images).join(", ")}`,
      );
    }
    const value = arg === undefined ? vars.values[name] : undefined;
    if (value === undefined) {
      const known = [...Object.keys(vars.values), "image:<key>"].join(", ");
      throw new ManifestError(`${source}: unknown placeholder ${match}; known: ${known}`);
    }
    return value;
  });
  const leftover = rendered.match(/\{\{[^}]*\}\}?/);
  if (leftover) throw new ManifestError(`${source}: malformed placeholder "${leftover[0]}"`);
  return rendered;
}

/** Parses a multi-document YAML text into objects; every document must have apiVersion, kind and a name. */
export function parseManifests(text: string, source: string): KubernetesObject[] {
  const objects: KubernetesObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new ManifestError(`${source}: invalid YAML: ${doc.errors[0]?.message}`);
    const object = doc.toJS() as KubernetesObject | null;
    if (object === null) continue; // an empty document (e.g. a trailing ---)
    if (!object.apiVersion || !object.kind || !object.metadata?.name) {
      throw new ManifestError(`${source}: every document needs apiVersion, kind and metadata.name`);
    }
    objects.push(object);
  }
  return objects;
}

/** Kinds without a namespace that the suite may create; the cleanup sweep lists exactly these. */
export const CLUSTER_SCOPED_KINDS: ReadonlyArray<{ apiVersion: string; kind: string }> = [
  { apiVersion: "v1", kind: "PersistentVolume" },
  { apiVersion: "storage.k8s.io/v1", kind: "StorageClass" },
  { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole" },
  { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding" },
  { apiVersion: "scheduling.k8s.io/v1", kind: "PriorityClass" },
  { apiVersion: "node.k8s.io/v1", kind: "RuntimeClass" },
  { apiVersion: "networking.k8s.io/v1", kind: "IngressClass" },
  { apiVersion: "admissionregistration.k8s.io/v1", kind: "ValidatingWebhookConfiguration" },
  { apiVersion: "admissionregistration.k8s.io/v1", kind: "MutatingWebhookConfiguration" },
  { apiVersion: "apiextensions.k8s.io/v1", kind: "CustomResourceDefinition" },
];

export function isClusterScoped(object: KubernetesObject): boolean {
  return object.kind === "Namespace" || CLUSTER_SCOPED_KINDS.some((k) => k.kind === object.kind);
}

export interface PrepareOptions {
  namespace: string;
  labels: Readonly<Record<string, string>>;
  images: ImageTable;
  source: string;
}

/** Adds `labels` to the object and to its pod template, so `kubectl get pods -l <run-id>` finds the pods too. */
function addLabels(object: KubernetesObject, labels: Readonly<Record<string, string>>): void {
  const metadata = object.metadata ?? {};
  metadata.labels = { ...metadata.labels, ...labels };
  object.metadata = metadata;
  type WithTemplate = { spec?: { template?: { metadata?: { labels?: Record<string, string> } } } };
  const template = (object as WithTemplate).spec?.template;
  if (template?.metadata !== undefined) template.metadata.labels = { ...template.metadata.labels, ...labels };
}

/**
 * Puts namespaced objects into `namespace`, adds `labels` to every object and checks that each container
 * image comes from the image table. Returns new objects; the inputs are not modified.
 */
export function prepareObjects(objects: readonly KubernetesObject[], options: PrepareOptions): KubernetesObject[] {
  const allowedImages = new Set(Object.values(options.images));
  return objects.map((original) => {
    const object = structuredClone(original);
    const where = `${options.source}: ${object.kind} ${object.metadata?.name}`;
    if (object.kind === "Namespace") throw new ManifestError(`${where}: manifests must not create namespaces`);
    if (!isClusterScoped(object)) {
      const namespace = object.metadata?.namespace;
      if (namespace !== undefined && namespace !== options.namespace) {
        throw new ManifestError(
          `${where}: remove metadata.namespace; the harness puts every object in the test's namespace`,
        );
      }
      object.metadata = { ...object.metadata, namespace: options.namespace };
    }
    addLabels(object, options.labels);
    const foreign = containerImages(object).find((image) => !allowedImages.has(image));
    if (foreign !== undefined) {
      throw new ManifestError(
        `${where}: image "${foreign}" is not from helpers/framework/images.ts; write {{image:<key>}}`,
      );
    }
    return object;
  });
}

/** The container lists of a pod spec, as far as the checks here need them. */
export interface PodSpecLike {
  containers?: Array<{ image?: string }>;
  initContainers?: Array<{ image?: string }>;
  ephemeralContainers?: Array<{ image?: string }>;
}

/** The pod spec of a Pod, or of a workload's pod template (Deployment, StatefulSet, Job, CronJob, ...). */
export function podSpecOf<S extends object = PodSpecLike>(object: KubernetesObject): S | undefined {
  const spec = (object as { spec?: Record<string, unknown> }).spec;
  if (spec === undefined) return undefined;
  if (object.kind === "Pod") return spec as S;
  const template = spec.template as { spec?: S } | undefined;
  const jobTemplate = spec.jobTemplate as { spec?: { template?: { spec?: S } } } | undefined;
  return template?.spec ?? jobTemplate?.spec?.template?.spec;
}

/** The images of every container in a Pod or in a workload's pod template. */
export function containerImages(object: KubernetesObject): string[] {
  const podSpec = podSpecOf(object);
  return [...(podSpec?.containers ?? []), ...(podSpec?.initContainers ?? []), ...(podSpec?.ephemeralContainers ?? [])]
    .map((c) => c.image)
    .filter((image): image is string => image !== undefined);
}
