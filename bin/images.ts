/**
 * `images`: every image a run will use. A workload image is used when a manifest the selected suites' code
 * applies names it (`{{image:nginx}}`, found through the manifests bin/permission-scan.ts sees the code
 * name, manifests/shared/ included) or a suite's code names it (`ns.images.nginxNext`); the canaries' when
 * --baseline or --compare deploys them; the suite image itself with --in-cluster.
 *
 * With KOC_IMAGE_REGISTRY set every one of them must come from that mirror: `run` and `images` refuse to start
 * otherwise (one line, exit 2), before anything is pulled.
 *
 * On the local test bed every one of them must be an image the test bed built and loaded into its nodes
 * (its ConfigMap's references; the suite image under koc.local/, which `npm run image` loads): its nodes reach
 * no registry, and a pull of anything else would look up a name on the host's resolver. So a mirror or an
 * override pointing elsewhere is refused there the same way, before any pod names it.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  fromRegistry,
  IMAGE_KEYS,
  type ImageKey,
  type ImageSources,
  isImageKey,
  type ResolvedImage,
  resolveImageSources,
} from "../helpers/framework/images.ts";
import { resolveSuiteImage, suiteVersion } from "../helpers/framework/suite-image.ts";
import { UsageError } from "./args.ts";
import { scanApiCalls } from "./permission-scan.ts";

/** `{{image:key}}` in manifest text. */
export function imageKeysInManifest(text: string): ImageKey[] {
  return [...text.matchAll(/\{\{\s*image:(\w+)\s*\}\}/g)].map((m) => m[1] ?? "").filter(isImageKey);
}

/** `images.nginxNext` (as `ns.images.nginxNext`) in code; comments are code too here, which errs on the safe side. */
export function imageKeysInCode(text: string): ImageKey[] {
  return [...text.matchAll(/\bimages\.(\w+)\b/g)].map((m) => m[1] ?? "").filter(isImageKey);
}

function yamlFiles(dir: string, path: string): string[] {
  const full = join(dir, path);
  if (!statSync(full).isDirectory()) return [full];
  return readdirSync(full, { recursive: true, encoding: "utf8" })
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => join(full, f));
}

/** The scenario files of the suites (relative to root) and the image keys their code names. */
function suiteCode(root: string, suites: readonly string[]): { entries: string[]; keys: ImageKey[] } {
  const entries: string[] = [];
  const keys: ImageKey[] = [];
  for (const suite of suites) {
    const dir = join(root, "suites", suite);
    for (const file of readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts"))) {
      if (file.endsWith(".e2e.test.ts")) entries.push(join("suites", suite, file));
      keys.push(...imageKeysInCode(readFileSync(join(dir, file), "utf8")));
    }
  }
  return { entries, keys };
}

/** The image keys the selected suites (all when empty) and, with `canaries`, the canaries use, in table order. */
export function imageKeysUsed(
  root: string,
  suites: readonly string[],
  available: readonly string[],
  canaries: boolean,
): ImageKey[] {
  const code = suiteCode(root, suites.length > 0 ? suites : available);
  const keys = new Set<ImageKey>(code.keys);
  const manifests = code.entries.length > 0 ? scanApiCalls(root, code.entries).manifests : [];
  if (canaries) manifests.push("canary");
  for (const file of manifests.flatMap((path) => yamlFiles(join(root, "manifests"), path))) {
    for (const key of imageKeysInManifest(readFileSync(file, "utf8"))) keys.add(key);
  }
  return IMAGE_KEYS.filter((key) => keys.has(key));
}

export interface ImageLine extends ResolvedImage {
  /** A workload image key, or `suite` for the suite image. */
  key: string;
}

/** `nginx  koc.local/nginx:1.22.1-r1  (test bed ConfigMap)`: one line per image, columns aligned. */
export function showImages(lines: readonly ImageLine[]): string[] {
  const keyWidth = Math.max(...lines.map((l) => l.key.length));
  const refWidth = Math.max(...lines.map((l) => l.ref.length));
  return lines.map((l) => `${l.key.padEnd(keyWidth)}  ${l.ref.padEnd(refWidth)}  (${l.source})`);
}

/** With a mirror registry: refuses (UsageError, exit 2) the first image that would come from elsewhere. */
export function assertFromRegistry(lines: readonly ImageLine[], registry: string | undefined): void {
  if (registry === undefined) return;
  const outside = lines.find((l) => !fromRegistry(l.ref, registry));
  if (outside === undefined) return;
  throw new UsageError(
    `KOC_IMAGE_REGISTRY is ${registry}, but image ${outside.key} would come from elsewhere: ${outside.ref} (set by ${outside.source}); point it at the mirror or unset it`,
  );
}

/** The suite image's repository on the test bed (helpers/framework/suite-image.ts), loaded by `npm run image`. */
const LOCAL_SUITE_IMAGE = /^koc\.local\/k8s-ops-conformance:/;

/** On the local test bed: refuses (UsageError, exit 2) the first image the test bed did not build. */
export function assertBuiltByTestbed(lines: readonly ImageLine[], testbed: Readonly<Record<string, string>>): void {
  const built = new Set(Object.values(testbed));
  const foreign = lines.find((l) => !built.has(l.ref) && !(l.key === "suite" && LOCAL_SUITE_IMAGE.test(l.ref)));
  if (foreign === undefined) return;
  const own = testbed[foreign.key] ?? (foreign.key === "suite" ? "koc.local/k8s-ops-conformance (npm run image)" : "");
  throw new UsageError(
    `the local test bed reaches no registry, and image ${foreign.key} would be pulled: ${foreign.ref} (set by ${foreign.source}) is not one it built${own ? `; unset it to use ${own}` : ""}`,
  );
}

/** The lines `images` prints: the used workload images as resolved, and the suite image with --in-cluster. */
export function usedImages(
  root: string,
  selection: { suites: readonly string[]; available: readonly string[]; canaries: boolean; inCluster: boolean },
  sources: ImageSources,
): ImageLine[] {
  const resolved = resolveImageSources(sources);
  const keys = imageKeysUsed(root, selection.suites, selection.available, selection.canaries);
  const lines: ImageLine[] = keys.map((key) => ({ key, ...resolved[key] }));
  if (selection.inCluster) lines.push({ key: "suite", ...resolveSuiteImage(suiteVersion(root), sources) });
  return lines;
}
