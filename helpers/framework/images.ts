/**
 * Every container image the suites use, pinned, in one table. Manifests refer to them by key: `{{image:nginx}}`.
 *
 * Which reference wins, strongest first:
 *   1. KOC_IMAGE_<KEY> (e.g. KOC_IMAGE_NGINX_NEXT=registry.local/nginx:1.28.0)
 *   2. KOC_IMAGE_REGISTRY: the default references with their registry replaced (air-gapped mirrors)
 *   3. the test bed's ConfigMap kube-public/k8s-ops-conformance-images (images it built locally)
 *   4. the public defaults below
 * A reference must carry a tag or a digest and never `:latest`.
 */

export const DEFAULT_IMAGES = {
  /** Web server for workload and Service scenarios. */
  nginx: "docker.io/library/nginx:1.27.5",
  /** A different nginx, the target of set-image rollouts. */
  nginxNext: "docker.io/library/nginx:1.28.0",
  /** Shell and coreutils for probes, volumes and file checks. */
  busybox: "docker.io/library/busybox:1.37.0",
  /** HTTP client with a shell (sh, sleep), for requests from inside the cluster. */
  curl: "docker.io/curlimages/curl:8.14.1",
  /** Node.js with a shell, for the in-cluster prober (helpers/traffic/probe-loop.mjs runs on Node 18 and later). */
  nodejs: "docker.io/library/node:24.11.1-bookworm-slim",
} as const;

export type ImageKey = keyof typeof DEFAULT_IMAGES;
export type ImageTable = Readonly<Record<ImageKey, string>>;

export const IMAGE_KEYS = Object.keys(DEFAULT_IMAGES) as ImageKey[];

/** Where the test bed publishes the references of the images it built locally (data: key → reference). */
export const TESTBED_IMAGES_CONFIGMAP = { namespace: "kube-public", name: "k8s-ops-conformance-images" } as const;

export class ImageError extends Error {
  override name = "ImageError";
}

/** `nginxNext` → `NGINX_NEXT`: the suffix of its KOC_IMAGE_ override variable. */
export function envSuffix(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();
}

/** Throws unless `ref` is pinned: a tag other than `latest`, or a digest. */
export function assertPinned(ref: string, source: string): string {
  const withoutDigest = ref.split("@")[0] ?? ref;
  const hasDigest = ref.includes("@sha256:");
  const lastSegment = withoutDigest.slice(withoutDigest.lastIndexOf("/") + 1);
  const tag = lastSegment.includes(":") ? lastSegment.slice(lastSegment.indexOf(":") + 1) : undefined;
  if (/\s/.test(ref) || ref === "") throw new ImageError(`${source}: "${ref}" is not an image reference`);
  if (tag === "latest") throw new ImageError(`${source}: "${ref}" uses :latest; pin a version tag or a digest`);
  if (tag === undefined && !hasDigest) {
    throw new ImageError(`${source}: "${ref}" has no tag; pin a version tag or a digest`);
  }
  return ref;
}

/**
 * Replaces the registry of `ref` with `registry` (which may carry a path prefix).
 * `docker.io/library/nginx:1.27.5` + `mirror.local:5000` → `mirror.local:5000/library/nginx:1.27.5`.
 */
export function withRegistry(ref: string, registry: string): string {
  const [first, ...rest] = ref.split("/");
  const firstIsRegistry = rest.length > 0 && first !== undefined && /[.:]|^localhost$/.test(first);
  const repository = firstIsRegistry ? rest.join("/") : ref;
  return `${registry}/${repository}`;
}

export interface ImageSources {
  /** data of the test bed's ConfigMap, when it exists. */
  testbed?: Readonly<Record<string, string>> | undefined;
  registry?: string | undefined;
  /** KOC_IMAGE_<SUFFIX> values keyed by SUFFIX (see config.imageOverrides). */
  overrides?: Readonly<Record<string, string>> | undefined;
}

/** Where a reference of the table came from, as `images` prints it. */
export type ImageSource = `KOC_IMAGE_${string}` | "KOC_IMAGE_REGISTRY" | "test bed ConfigMap" | "default";

export interface ResolvedImage {
  ref: string;
  source: ImageSource;
}

/** Suffixes of KOC_IMAGE_<SUFFIX> read elsewhere than this table (the suite image, helpers/framework/suite-image.ts). */
export const OTHER_IMAGE_SUFFIXES: readonly string[] = ["SUITE"];

/** Every key's reference and where it came from (pure; see the precedence at the top of this file). */
export function resolveImageSources(sources: ImageSources): Readonly<Record<ImageKey, ResolvedImage>> {
  const known = new Set(IMAGE_KEYS.map(envSuffix));
  for (const suffix of Object.keys(sources.overrides ?? {})) {
    if (!known.has(suffix) && !OTHER_IMAGE_SUFFIXES.includes(suffix)) {
      const names = [...known, ...OTHER_IMAGE_SUFFIXES].map((s) => `KOC_IMAGE_${s}`);
      throw new ImageError(`KOC_IMAGE_${suffix} names no image; known: ${names.join(", ")}`);
    }
  }
  const table = {} as Record<ImageKey, ResolvedImage>;
  for (const key of IMAGE_KEYS) {
    const variable = `KOC_IMAGE_${envSuffix(key)}` as const;
    const override = sources.overrides?.[envSuffix(key)];
    const fromTestbed = sources.testbed?.[key];
    if (override !== undefined) table[key] = { ref: assertPinned(override, variable), source: variable };
    else if (sources.registry !== undefined)
      table[key] = { ref: withRegistry(DEFAULT_IMAGES[key], sources.registry), source: "KOC_IMAGE_REGISTRY" };
    else if (fromTestbed !== undefined)
      table[key] = {
        ref: assertPinned(fromTestbed, `ConfigMap ${TESTBED_IMAGES_CONFIGMAP.name} key ${key}`),
        source: "test bed ConfigMap",
      };
    else table[key] = { ref: DEFAULT_IMAGES[key], source: "default" };
  }
  return Object.freeze(table);
}

/** Resolves the table from its sources (pure; see the precedence at the top of this file). */
export function resolveImages(sources: ImageSources): ImageTable {
  const resolved = resolveImageSources(sources);
  return Object.freeze(
    Object.fromEntries(IMAGE_KEYS.map((key) => [key, resolved[key].ref])) as Record<ImageKey, string>,
  );
}

/** Whether `ref` is served by `registry` (which may carry a path prefix): the mirror of an air-gapped cluster. */
export function fromRegistry(ref: string, registry: string): boolean {
  return ref.startsWith(`${registry.replace(/\/+$/, "")}/`);
}

export function isImageKey(key: string): key is ImageKey {
  return Object.hasOwn(DEFAULT_IMAGES, key);
}
