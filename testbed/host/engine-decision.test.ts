// Made to fail on purpose: "use" for any engine that answers failed three of these tests, preparing
// a stopped engine that has its own daemon.json without being asked failed the fourth, and the old
// "docker or dockerd on PATH" rule failed the client-only case (docker.io not installed).
import { describe, expect, test } from "vitest";
import { decideEngine, type EngineFacts, missingPackages } from "./engine-decision.ts";

const working: EngineFacts = {
  answers: true,
  dockerdRunning: true,
  privileged: { ok: true },
  missingPackages: [],
  foreignDaemonJson: true,
};
const noPrivileged: EngineFacts = {
  ...working,
  privileged: { ok: false, error: "unable to apply caps: operation not permitted" },
};
const absent: EngineFacts = {
  answers: false,
  dockerdRunning: false,
  missingPackages: ["docker.io", "debootstrap"],
  foreignDaemonJson: false,
};

describe("what cluster:up does with the Docker engine it finds", () => {
  test("an engine that starts privileged containers is used as it is, whatever its configuration", () => {
    expect(decideEngine(working, false)).toEqual({ kind: "use" });
    // --prepare-host allows changes, it does not ask for them
    expect(decideEngine(working, true)).toEqual({ kind: "use" });
  });

  test("an engine configured differently that cannot run privileged containers: one line, nothing changed", () => {
    const action = decideEngine(noPrivileged, false);
    expect(action.kind).toBe("stop");
    if (action.kind !== "stop") return;
    expect(action.line).not.toContain("\n");
    expect(action.line).toMatch(/cannot start a privileged container \(unable to apply caps/);
    expect(action.line).toMatch(/not changing this host/);
    expect(action.line).toMatch(/npm run cluster:up -- --prepare-host` would .*daemon\.json.*restart dockerd/);
    expect(action.line).toMatch(/replacing the existing \/etc\/docker\/daemon.json/);
  });

  test("with --prepare-host the same engine is reconfigured and restarted, and says so", () => {
    const action = decideEngine(noPrivileged, true);
    expect(action).toMatchObject({ kind: "prepare", restartsDocker: true, packages: [] });
    if (action.kind === "prepare") expect(action.changes.join("; ")).toMatch(/default runtime.*restart dockerd/);
  });

  test("a dockerd that runs but does not answer is never restarted unasked", () => {
    const stuck = { ...absent, dockerdRunning: true, missingPackages: [] };
    expect(decideEngine(stuck, false)).toMatchObject({ kind: "stop" });
    expect(decideEngine(stuck, true)).toMatchObject({ kind: "prepare", restartsDocker: true });
  });

  test("no engine at all: the host is prepared, saying what changes", () => {
    const action = decideEngine(absent, false);
    expect(action).toMatchObject({ kind: "prepare", restartsDocker: false, packages: ["docker.io", "debootstrap"] });
    if (action.kind === "prepare") expect(action.changes).toContain("start dockerd");
  });

  test("no engine running but a daemon.json of someone else's: stop unless allowed", () => {
    const stopped = { ...absent, foreignDaemonJson: true };
    const action = decideEngine(stopped, false);
    expect(action.kind).toBe("stop");
    if (action.kind === "stop") expect(action.line).toMatch(/no Docker engine runs.*replacing the existing/);
    expect(decideEngine(stopped, true).kind).toBe("prepare");
  });

  test("a working engine but missing build tools: packages only, and only when allowed", () => {
    const tools = { ...working, missingPackages: ["jq", "catatonit"] };
    const stop = decideEngine(tools, false);
    expect(stop.kind).toBe("stop");
    if (stop.kind === "stop") {
      expect(stop.line).toMatch(/needs jq, catatonit.*would install Debian packages jq, catatonit;/);
      expect(stop.line).not.toMatch(/dockerd|daemon\.json/);
    }
    expect(decideEngine(tools, true)).toEqual({
      kind: "prepare",
      changes: ["install Debian packages jq, catatonit"],
      restartsDocker: false,
      packages: ["jq", "catatonit"],
    });
  });

  test("a docker client alone is no engine: docker.io is installed when dockerd is missing", () => {
    const path = (cmds: string[]) => ({ onPath: (c: string) => cmds.includes(c), installed: () => true });
    // a fresh machine: a docker client on PATH, every build tool there, no dockerd
    expect(missingPackages(path(["docker", "jq", "debootstrap", "catatonit"]))).toEqual(["docker.io"]);
    expect(missingPackages(path(["docker", "dockerd", "jq", "debootstrap", "catatonit"]))).toEqual([]);
    expect(missingPackages({ onPath: () => false, installed: () => false })).toEqual([
      "docker.io",
      "jq",
      "debootstrap",
      "busybox-static",
      "catatonit",
    ]);
  });
});
