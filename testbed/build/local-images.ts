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
import { MINORS } from "../versions.ts";

/**
 * A key over every input of the node image, so a changed script or pin rebuilds it; each minor has its own. The TypeScript
 * that drives the build, the docs, the acceptance checks, the hermetic settings applied to a running cluster and the host's own setup (host/, but for the
 * runtime wrapper the nodes use too) are not inputs.
 */
export function buildKey(v: Versions): string {
  // the selected minor's pins (versions.ts is TypeScript, so not hashed as a file below)
  const hash = createHash("sha256").update(JSON.stringify(v));
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

/** The node image of the selected minor and the current test bed files: koc.local/node:<version>-<key>. */
export function nodeImageTag(v: Versions): string {
  return `koc.local/node:${v.KUBERNETES_VERSION}-${buildKey(v)}`;
}

/** The workload image refs built with a node image (by its tag), published for the suites. */
export function workloadsFile(nodeImage: string): string {
  return join(CACHE, "images", `workloads-${nodeImage.slice(nodeImage.indexOf(":") + 1)}.json`);
}

export interface LocalImages {
  nodeImage: string;
  /** Workload image key -> ref, published for the suites. */
  workloads: Record<string, string>;
}

export async function buildLocalImages(v: Versions): Promise<LocalImages> {
  const key = buildKey(v);
  const tag = nodeImageTag(v);
  const workloadsJson = workloadsFile(tag);
  if ((await $`docker image inspect ${tag}`.nothrow()).exitCode === 0 && existsSync(workloadsJson)) {
    log(`node image ${tag} cached`);
    return { nodeImage: tag, workloads: JSON.parse(readFileSync(workloadsJson, "utf8")) };
  }
  const imagesTar = await buildImageArchive(v);
  await phase(
    `node image ${tag}`,
    () => $`bash ${join(TESTBED, "build", "node-image.sh")} ${CACHE} ${tag} ${imagesTar}`,
  );
  await pruneOtherBuilds(v.KUBERNETES_VERSION, key);
  return { nodeImage: tag, workloads: JSON.parse(readFileSync(workloadsJson, "utf8")) };
}

/** The Kubernetes binaries of a minor: kubeadm, kubelet, kubectl and the control plane's (built by buildImageArchive). */
export function kubernetesBin(v: Versions): string {
  return join(CACHE, `kubernetes-${v.KUBERNETES_VERSION}`, "bin");
}

/**
 * Everything up to the node image: the Kubernetes binaries, the components, the root filesystems and the
 * archive of every image (images-<version>-<key>.tar, named as kubeadm names them), each step skipped when
 * cached. The node image build preloads the archive; an in-place upgrade imports it into the running nodes.
 */
export async function buildImageArchive(v: Versions): Promise<string> {
  const key = buildKey(v);
  const imagesTar = join(CACHE, "images", `images-${v.KUBERNETES_VERSION}-${key}.tar`);
  const workloadsJson = workloadsFile(nodeImageTag(v));
  const build = join(TESTBED, "build");
  mkdirSync(join(CACHE, "images"), { recursive: true });
  await phase(`Kubernetes ${v.KUBERNETES_VERSION} binaries`, () =>
    $`bash ${join(build, "kubernetes.sh")} ${join(CACHE, `kubernetes-${v.KUBERNETES_VERSION}`)}`.quiet(false),
  );
  await phase(
    "etcd, CoreDNS, local-path-provisioner, crictl, kind",
    () => $`bash ${join(build, "components.sh")} ${join(CACHE, "components")}`,
  );
  if (existsSync(imagesTar) && existsSync(workloadsJson)) {
    log(`images ${imagesTar} cached`);
    return imagesTar;
  }
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
  return imagesTar;
}

/**
 * Drop node images and archives of the same Kubernetes version's other build keys: each is a couple of GB.
 * Other pinned versions' builds stay, so two minors coexist (`cluster:down` + `up --kubernetes` switches
 * without a rebuild); builds of versions no longer pinned go too.
 */
async function pruneOtherBuilds(version: string, key: string): Promise<void> {
  const dir = join(CACHE, "images");
  // builds a cluster still runs (another KOC_TESTBED_NAME) are kept with their image list
  const inUse = (await $`docker ps -a --format {{.Image}}`).stdout
    .split("\n")
    .filter((t) => t.startsWith("koc.local/node:"));
  const keep = (name: string) =>
    name.includes(key) || inUse.some((t) => name.includes(t.slice(t.lastIndexOf("-") + 1)));
  // this version's, and those of versions no longer in the table (or named before versions were)
  const pinned = Object.values(MINORS).map((pins) => `${pins.KUBERNETES_VERSION}-`);
  const ours = (name: string) => name.includes(`${version}-`) || !pinned.some((p) => name.includes(p));
  // an image made in the last hour may be another test bed's build about to start its cluster
  const images = (await $`docker images koc.local/node --format ${"{{.Repository}}:{{.Tag}}\t{{.CreatedAt}}"}`).stdout;
  for (const line of images.split("\n").filter(Boolean)) {
    const [tag = "", created = ""] = line.split("\t");
    const old = Date.now() - Date.parse(created.replace(/ \+0000 UTC$/, "Z").replace(" ", "T")) > 3_600_000;
    if (ours(tag) && !keep(tag) && old) await $`docker rmi ${tag}`.nothrow();
  }
  for (const f of readdirSync(dir).filter(ours)) {
    const p = join(dir, f);
    // ours is preloaded into the node image now; another key's may be a build in progress unless it is old
    const stale = f.includes(key) || Date.now() - statSync(p).mtimeMs > 3_600_000;
    if (f.startsWith("images-") && stale) await $`rm -f ${p}`;
    else if (f.startsWith("workloads-") && !keep(f)) await $`rm -f ${p}`;
  }
}
