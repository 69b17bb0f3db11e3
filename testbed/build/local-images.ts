/**
 * Local mode's builds (the shell scripts beside this file do the work): Kubernetes and its components
 * from Go modules, Debian root filesystems, the component and workload images, and the node image, all
 * cached in CACHE and keyed by a hash of their inputs; other keys' builds are pruned.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { $ } from "zx";
import { CACHE, log, phase, TESTBED, type Versions } from "../common.ts";

/**
 * A key over every input of the node image, so a changed script or version rebuilds it. The TypeScript
 * that drives the build, the docs, the acceptance checks, the hermetic settings applied to a running cluster and the host's own setup (host/, but for the
 * runtime wrapper the nodes use too) are not inputs.
 */
export function buildKey(): string {
  const hash = createHash("sha256");
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const rel = relative(TESTBED, p);
      // ceph/ builds its own image (keyed by its own files), nothing of it goes into the node image
      if (
        rel === "verify" ||
        rel === "hermetic" ||
        rel === "ceph" ||
        (rel.startsWith("host/") && rel !== "host/runc-capfilter")
      )
        continue;
      if (statSync(p).isDirectory()) walk(p);
      else if (!/\.(ts|md)$/.test(p)) hash.update(rel).update(readFileSync(p));
    }
  };
  walk(TESTBED);
  return hash.digest("hex").slice(0, 12);
}

export interface LocalImages {
  nodeImage: string;
  /** Workload image key -> ref, published for the suites. */
  workloads: Record<string, string>;
}

export async function buildLocalImages(v: Versions): Promise<LocalImages> {
  const key = buildKey();
  const tag = `koc.local/node:${v.KUBERNETES_VERSION}-${key}`;
  const imagesTar = join(CACHE, "images", `images-${key}.tar`);
  const workloadsJson = join(CACHE, "images", `workloads-${key}.json`);
  const build = join(TESTBED, "build");
  if ((await $`docker image inspect ${tag}`.nothrow()).exitCode === 0 && existsSync(workloadsJson)) {
    log(`node image ${tag} cached`);
    return { nodeImage: tag, workloads: JSON.parse(readFileSync(workloadsJson, "utf8")) };
  }
  mkdirSync(join(CACHE, "images"), { recursive: true });
  await phase(`Kubernetes ${v.KUBERNETES_VERSION} binaries`, () =>
    $`bash ${join(build, "kubernetes.sh")} ${join(CACHE, `kubernetes-${v.KUBERNETES_VERSION}`)}`.quiet(false),
  );
  await phase(
    "etcd, CoreDNS, local-path-provisioner, crictl, kind",
    () => $`bash ${join(build, "components.sh")} ${join(CACHE, "components")}`,
  );
  const sets = readFileSync(join(build, "rootfs-sets.env"), "utf8");
  for (const m of sets.matchAll(/^ROOTFS_([A-Z]+)=(.*)$/gm)) {
    const [, name = "", pkgs = ""] = m;
    const h = createHash("sha256").update(`${pkgs}\n`).digest("hex").slice(0, 12);
    const out = join(CACHE, "rootfs", `${name.toLowerCase()}-${h}.tar`);
    await phase(`Debian rootfs ${name.toLowerCase()}`, () => $`bash ${join(build, "rootfs.sh")} ${out} ${pkgs}`);
  }
  await phase(
    "component and workload images",
    () => $`bash ${join(build, "images.sh")} ${CACHE} ${key} ${imagesTar} ${workloadsJson}`,
  );
  await phase(`node image ${tag}`, () => $`bash ${join(build, "node-image.sh")} ${CACHE} ${tag} ${imagesTar}`);
  await pruneOtherBuilds(key);
  return { nodeImage: tag, workloads: JSON.parse(readFileSync(workloadsJson, "utf8")) };
}

/** Drop node images and archives of other build keys: each is a couple of GB. */
async function pruneOtherBuilds(key: string): Promise<void> {
  const dir = join(CACHE, "images");
  // builds a cluster still runs (another KOC_TESTBED_NAME) are kept with their image list
  const inUse = (await $`docker ps -a --format {{.Image}}`).stdout
    .split("\n")
    .filter((t) => t.startsWith("koc.local/node:"));
  const keep = (name: string) =>
    name.includes(key) || inUse.some((t) => name.includes(t.slice(t.lastIndexOf("-") + 1)));
  // an image made in the last hour may be another test bed's build about to start its cluster
  const images = (await $`docker images koc.local/node --format ${"{{.Repository}}:{{.Tag}}\t{{.CreatedAt}}"}`).stdout;
  for (const line of images.split("\n").filter(Boolean)) {
    const [tag = "", created = ""] = line.split("\t");
    const old = Date.now() - Date.parse(created.replace(/ \+0000 UTC$/, "Z").replace(" ", "T")) > 3_600_000;
    if (!keep(tag) && old) await $`docker rmi ${tag}`.nothrow();
  }
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    // ours is preloaded into the node image now; another key's may be a build in progress unless it is old
    const stale = f.includes(key) || Date.now() - statSync(p).mtimeMs > 3_600_000;
    if (f.startsWith("images-") && stale) await $`rm -f ${p}`;
    else if (f.startsWith("workloads-") && !keep(f)) await $`rm -f ${p}`;
  }
}
