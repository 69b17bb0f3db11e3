/**
 * The suite image: this project, its node_modules and its pinned Node on a Debian root filesystem, built by
 * `npm run image` (image/build.sh) and run by `run --in-cluster` as a Job. Tagged `<version>-<commit>`.
 *
 * Which reference a run uses, strongest first (as for the workload images, helpers/framework/images.ts):
 *   1. KOC_IMAGE_SUITE
 *   2. KOC_IMAGE_REGISTRY: the default reference with its registry replaced
 *   3. the default, SUITE_IMAGE_REPOSITORY:<version>-<commit>, which `npm run image` loads into the test bed
 *
 * `node helpers/framework/suite-image.ts` prints the default reference (image/build.sh tags with it).
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { assertPinned, type ResolvedImage, withRegistry } from "./images.ts";

/** The repository of the suite image when nothing else names one: local, loaded into the test bed. */
export const SUITE_IMAGE_REPOSITORY = "koc.local/k8s-ops-conformance";
/** The file the image carries its commit in (it has no .git). */
export const COMMIT_FILE = ".suite-commit";

export interface SuiteVersion {
  version: string;
  /** 12 hex digits, or undefined outside a git checkout without COMMIT_FILE. */
  commit: string | undefined;
  /** The work tree has uncommitted changes: an image tagged with the commit would not be what runs. */
  dirty: boolean;
}

/** The project's version (package.json) and commit (git, else COMMIT_FILE). */
export function suiteVersion(root: string): SuiteVersion {
  const version = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version?: string }).version;
  try {
    const git = (args: string[]): string => execFileSync("git", args, { cwd: root, encoding: "utf8" }).trim();
    const commit = git(["rev-parse", "--short=12", "HEAD"]);
    return {
      version: version ?? "0.0.0",
      commit,
      dirty: git(["status", "--porcelain", "--untracked-files=no"]) !== "",
    };
  } catch {
    const file = join(root, COMMIT_FILE);
    const commit = existsSync(file) ? readFileSync(file, "utf8").trim() || undefined : undefined;
    return { version: version ?? "0.0.0", commit, dirty: false };
  }
}

/** `0.1.0-abc123def456`, or `0.1.0` without a commit. */
export function suiteImageTag(v: Pick<SuiteVersion, "version" | "commit">): string {
  return v.commit === undefined ? v.version : `${v.version}-${v.commit}`;
}

/** The suite image a run would use, and where its reference came from (pure). */
export function resolveSuiteImage(
  v: Pick<SuiteVersion, "version" | "commit">,
  sources: { registry?: string | undefined; overrides?: Readonly<Record<string, string>> | undefined },
): ResolvedImage {
  const override = sources.overrides?.SUITE;
  if (override !== undefined) return { ref: assertPinned(override, "KOC_IMAGE_SUITE"), source: "KOC_IMAGE_SUITE" };
  const ref = `${SUITE_IMAGE_REPOSITORY}:${suiteImageTag(v)}`;
  if (sources.registry !== undefined) return { ref: withRegistry(ref, sources.registry), source: "KOC_IMAGE_REGISTRY" };
  return { ref, source: "default" };
}

if (import.meta.main) {
  console.log(resolveSuiteImage(suiteVersion(resolve(import.meta.dirname, "..", "..")), {}).ref);
}
