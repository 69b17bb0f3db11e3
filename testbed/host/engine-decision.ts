/**
 * Whether `cluster:up` may use the Docker engine it finds, must prepare the host, or must stop and say
 * what it would change. Pure: the facts are gathered in docker.ts, so every case has a unit test.
 *
 * The rule: an engine that starts a privileged container is used as it is, whatever its configuration.
 * The host is changed (packages, /etc/docker/daemon.json, dockerd started or restarted) only when no
 * engine exists at all, or when the user allowed it with --prepare-host. Otherwise one line says what
 * would change and how to allow it.
 */

export interface EngineFacts {
  /** `docker info` answered. */
  answers: boolean;
  /** A dockerd process runs on this host (it may be the one answering, or a stuck one). */
  dockerdRunning: boolean;
  /** A privileged container from a locally built image started and exited 0 (undefined: not probed). */
  privileged?: { ok: true } | { ok: false; error: string };
  /** Host packages the local build needs and that are missing (docker.io included when no dockerd). */
  missingPackages: string[];
  /** /etc/docker/daemon.json exists with content other than the test bed's. */
  foreignDaemonJson: boolean;
}

/** What the local build finds on this host: commands on PATH and installed Debian packages. */
export interface HostTools {
  onPath: (cmd: string) => boolean;
  installed: (debianPackage: string) => boolean;
}

/**
 * The Debian packages the local build still needs. The engine is `dockerd`: a `docker` client on PATH
 * (a CI image or a workstation often ships one alone) is no engine, so docker.io is installed whenever
 * dockerd is missing, whatever client is there.
 */
export function missingPackages(host: HostTools): string[] {
  const missing: string[] = [];
  if (!host.onPath("dockerd")) missing.push("docker.io");
  if (!host.onPath("jq")) missing.push("jq");
  if (!host.onPath("debootstrap")) missing.push("debootstrap");
  if (!host.installed("busybox-static")) missing.push("busybox-static");
  if (!host.onPath("catatonit")) missing.push("catatonit");
  return missing;
}

export type EngineAction =
  | { kind: "use" }
  | { kind: "prepare"; changes: string[]; restartsDocker: boolean; packages: string[] }
  | { kind: "stop"; line: string };

export const ALLOW = "npm run cluster:up -- --prepare-host";
const RUNTIME =
  "install /usr/local/sbin/runc-capfilter as dockerd's default runtime in /etc/docker/daemon.json, " +
  "give the containers' CPU cgroup the weight of 8 host threads when no systemd manages it";

function describe(packages: string[], docker: string | undefined): string[] {
  const changes = packages.length > 0 ? [`install Debian packages ${packages.join(", ")}`] : [];
  if (docker) changes.push(RUNTIME, docker);
  return changes;
}

/** What is wrong with the engine, what to do to Docker about it, and whether there is no engine at all. */
function diagnose(facts: EngineFacts): { problem: string; docker?: string; absent?: boolean } {
  const restart = "restart dockerd (its running containers stop)";
  if (facts.answers && facts.privileged?.ok)
    return { problem: `the local build needs ${facts.missingPackages.join(", ")}` };
  if (facts.answers) {
    const error = facts.privileged && !facts.privileged.ok ? facts.privileged.error : "not probed";
    return { problem: `this Docker engine cannot start a privileged container (${error})`, docker: restart };
  }
  if (facts.dockerdRunning)
    return { problem: "a dockerd process runs but does not answer `docker info`", docker: restart };
  return { problem: "no Docker engine runs on this host", docker: "start dockerd", absent: true };
}

export function decideEngine(facts: EngineFacts, prepareHost: boolean): EngineAction {
  const packages = facts.missingPackages;
  if (facts.answers && facts.privileged?.ok && packages.length === 0) return { kind: "use" };
  const { problem, docker, absent } = diagnose(facts);
  const changes = describe(packages, docker);
  // a stopped dockerd with its own configuration is someone's setup too: replaced only when allowed
  if (prepareHost || (absent && !facts.foreignDaemonJson)) {
    return { kind: "prepare", changes, restartsDocker: docker?.startsWith("restart") ?? false, packages };
  }
  const replacing = facts.foreignDaemonJson && docker ? " (replacing the existing /etc/docker/daemon.json)" : "";
  return {
    kind: "stop",
    line: `${problem}; not changing this host. \`${ALLOW}\` would ${changes.join(", ")}${replacing}; or run the suites against another cluster with --context NAME`,
  };
}
