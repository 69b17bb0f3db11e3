/**
 * What every part of the test bed shares: its names, the build cache, logging, kubectl, and waiting.
 * The jobs live beside it: lifecycle.ts (create, reuse, delete), build/local-images.ts (the local
 * builds and their cache), host/ (the Docker engine, host sysctls, the hermetic network rules) and
 * verify/ (the acceptance checks).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { $, chalk, ProcessOutput } from "zx";
import { waitFor } from "../helpers/framework/wait.ts";
import { selectVersions, type Versions } from "./versions.ts";

$.verbose = false;
$.quiet = true;

export const TESTBED = dirname(fileURLToPath(import.meta.url));
// KOC_TESTBED_NAME: a second test bed beside the default one (e.g. to try test bed changes while suites run)
export const CLUSTER = process.env.KOC_TESTBED_NAME || "k8s-ops-conformance";
export const CONTEXT = `kind-${CLUSTER}`;
export const NETWORK = "kind";
export const MANAGED = "app.kubernetes.io/managed-by=k8s-ops-conformance";
export const CACHE = process.env.KOC_CACHE_DIR ?? join(homedir(), ".cache", "k8s-ops-conformance");
export const IMAGES_CONFIGMAP = "k8s-ops-conformance-images";
export const TESTBED_CONFIGMAP = "k8s-ops-conformance-testbed";

export type { Versions };
/** local: everything built on this machine, hermetic; stock: kind's published images (GitHub runners). */
export type Mode = "local" | "stock";

/**
 * The pins of the Kubernetes minor this test bed runs (versions.ts): KOC_KUBERNETES (set by
 * `cluster:up --kubernetes`), else the newest supported minor. Throws UnsupportedVersionError otherwise.
 */
export function readVersions(): Versions {
  return selectVersions(process.env.KOC_KUBERNETES);
}

const started = Date.now();
export function elapsed(): string {
  return `${((Date.now() - started) / 1000).toFixed(0)}s`;
}

export function log(msg: string): void {
  const s = ((Date.now() - started) / 1000).toFixed(0).padStart(4);
  console.log(`${chalk.gray(`[cluster ${s}s]`)} ${msg}`);
}

/** How long each phase took the last time it ran on this machine (build keys stripped from the names). */
const PHASE_TIMES = join(CACHE, "phase-times.json");
const phaseKey = (name: string) => name.replace(/-[0-9a-f]{12}\b/g, "");

function lastTimes(): Record<string, number> {
  try {
    return JSON.parse(readFileSync(PHASE_TIMES, "utf8")) as Record<string, number>;
  } catch {
    return {}; // never ran here
  }
}

/**
 * Runs one step of the test bed and logs its duration. A step that took over 20 s last time says so
 * when it starts, and any step says where it is once a minute, so a cold build (minutes of module
 * downloads) is never a long silence.
 */
export async function phase<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  const last = lastTimes()[phaseKey(name)];
  const estimate = last ? `last time ${last}s on this machine` : "no earlier time on this machine";
  if (last === undefined || last > 20) log(`${name} ... ${chalk.gray(`(${estimate})`)}`);
  const heartbeat = setInterval(
    () => log(chalk.gray(`  still ${name}: ${((Date.now() - t0) / 1000).toFixed(0)}s so far (${estimate})`)),
    60_000,
  );
  let result: T;
  try {
    result = await fn();
  } finally {
    clearInterval(heartbeat);
  }
  const seconds = Math.round((Date.now() - t0) / 1000);
  log(`${name} ${chalk.gray(`(${((Date.now() - t0) / 1000).toFixed(1)}s)`)}`);
  try {
    mkdirSync(CACHE, { recursive: true });
    writeFileSync(PHASE_TIMES, JSON.stringify({ ...lastTimes(), [phaseKey(name)]: seconds }, null, 1));
  } catch {
    // the estimate is a courtesy: a read-only cache only loses it
  }
  return result;
}

export async function kubectlPath(): Promise<string> {
  if (process.env.KOC_KUBECTL) return process.env.KOC_KUBECTL;
  if ((await $`command -v kubectl`.nothrow()).exitCode === 0) return "kubectl";
  // the selected minor's, else any minor's built here (kubectl talks to a minor either side of its own)
  const own = `kubernetes-${readVersions().KUBERNETES_VERSION}`;
  const dirs = existsSync(CACHE) ? readdirSync(CACHE).filter((d) => /^kubernetes-v\d/.test(d)) : [];
  for (const dir of [own, ...dirs.sort().reverse()]) {
    const built = join(CACHE, dir, "bin", "kubectl");
    if (existsSync(built)) return built;
  }
  throw new Error("kubectl not found: install it or run `npm run cluster:up` once to build it");
}

export async function kubectl(...args: string[]): Promise<string> {
  return (await $`${await kubectlPath()} --context ${CONTEXT} ${args}`).stdout;
}

/** The kind network's IPv4 subnet, e.g. 172.18.0.0/16. */
export async function kindSubnet(): Promise<string> {
  return (await $`docker network inspect ${NETWORK} -f ${"{{(index .IPAM.Config 0).Subnet}}"}`).stdout.trim();
}

/**
 * Waits (the project's waitFor, 1 s apart) until `probe` returns true; whatever else it returns is shown
 * as the last state seen. A failed command (kubectl, docker) is a state too (the object may not exist
 * yet); any other error ends the wait at once.
 */
export async function until(what: string, timeoutMs: number, probe: () => Promise<string | true>): Promise<void> {
  const observe = () =>
    probe().catch((e: unknown) => (e instanceof ProcessOutput ? e.stderr.trim() || e.message : Promise.reject(e)));
  await waitFor(what, { observe, ok: (r) => r === true, show: (r) => String(r) }, timeoutMs, { interval: 1000 });
}
