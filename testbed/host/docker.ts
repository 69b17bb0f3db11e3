/**
 * The Docker engine the test bed runs on: gather the facts (does it answer, does a privileged container
 * start, which build tools are missing), let engine-decision.ts decide, and act on it. Nothing on the
 * host changes unless the decision says so, and then the changes are printed first.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { $ } from "zx";
import { log, type Mode, TESTBED } from "../common.ts";
import { decideEngine, type EngineFacts, missingPackages } from "./engine-decision.ts";

/** The engine refused to be changed: the one line says what would change and how to allow it. */
export class HostUnchangedError extends Error {
  override name = "HostUnchangedError";
}

const PROBE_IMAGE = "koc.local/engine-probe:1";
const DAEMON_JSON = "/etc/docker/daemon.json";

export async function dockerUp(): Promise<boolean> {
  return (await $`docker info`.nothrow()).exitCode === 0;
}

/** Packages the local build runs on the host (the engine, debootstrap, the pause image's catatonit, ...). */
async function hostPackagesMissing(): Promise<string[]> {
  const commands = ["dockerd", "jq", "debootstrap", "catatonit"];
  const found = new Set<string>();
  for (const cmd of commands) if ((await $`command -v ${cmd}`.nothrow()).exitCode === 0) found.add(cmd);
  const busybox = (await $`dpkg -s busybox-static`.nothrow()).exitCode === 0;
  return missingPackages({ onPath: (c) => found.has(c), installed: (p) => p === "busybox-static" && busybox });
}

/**
 * A tiny image made here from this host's own /bin/true and the libraries it links (no registry), run
 * privileged without a network: exactly what kind's nodes need from the engine.
 */
async function probePrivileged(): Promise<{ ok: true } | { ok: false; error: string }> {
  if ((await $`docker image inspect ${PROBE_IMAGE}`.nothrow()).exitCode !== 0) {
    const root = mkdtempSync(join(tmpdir(), "koc-probe-"));
    try {
      const libs = (await $`ldd /bin/true`).stdout.match(/\/[^\s]+/g) ?? [];
      for (const f of ["/bin/true", ...libs]) await $`install -D ${f} ${join(root, f)}`;
      await $`tar -C ${root} -c . | docker import - ${PROBE_IMAGE}`;
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }
  const r = await $`docker run --rm --privileged --network none ${PROBE_IMAGE} /bin/true`.nothrow();
  if (r.exitCode === 0) return { ok: true };
  const error = r.stderr
    .replace(/\s+/g, " ")
    .replace(/Run 'docker run --help'.*$/, "")
    .trim();
  return { ok: false, error: error.replace(/^docker: Error response from daemon: /, "") || `exit ${r.exitCode}` };
}

export async function engineFacts(mode: Mode): Promise<EngineFacts> {
  const answers = await dockerUp();
  let foreignDaemonJson = false;
  try {
    foreignDaemonJson = readFileSync(DAEMON_JSON, "utf8") !== readFileSync(join(TESTBED, "host/daemon.json"), "utf8");
  } catch {
    foreignDaemonJson = false; // no daemon.json
  }
  return {
    answers,
    dockerdRunning: (await $`pgrep -x dockerd`.nothrow()).exitCode === 0,
    ...(answers ? { privileged: await probePrivileged() } : {}),
    missingPackages: mode === "local" ? await hostPackagesMissing() : [],
    foreignDaemonJson,
  };
}

/** Uses the engine as it is, prepares the host when allowed (saying what changes), or throws one line. */
export async function ensureEngine(mode: Mode, prepareHost: boolean): Promise<void> {
  const facts = await engineFacts(mode);
  if (mode === "stock" && !facts.answers) {
    throw new HostUnchangedError("no Docker engine answers: start Docker, or use --images=local");
  }
  const action = decideEngine(facts, prepareHost);
  if (action.kind === "use") return;
  if (action.kind === "stop") throw new HostUnchangedError(action.line);
  log(`preparing this host: ${action.changes.join("; ")}`);
  if (action.packages.length > 0) {
    await $`apt-get update -q`;
    await $({ env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } })`apt-get install -y -q ${action.packages}`;
  }
  if (!(facts.answers && facts.privileged?.ok)) await $`bash ${join(TESTBED, "host/configure-docker.sh")}`.quiet(false);
  const after = await probePrivileged();
  if (!after.ok) throw new Error(`the prepared engine still cannot start a privileged container: ${after.error}`);
}
