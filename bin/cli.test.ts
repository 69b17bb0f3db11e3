/**
 * The CLI end to end, without a cluster: the exit codes and one-line messages of everything that can go
 * wrong before a test runs.
 *
 * Each test starts one CLI process (asynchronously: the worker stays responsive) and has CLI_TEST_TIMEOUT:
 * loading the CLI takes about 1 s on an idle 2-core machine and several times that while an e2e run keeps
 * both cores busy; the reachability check adds up to 6 s (T.clusterCheck). The tests that promise a quick
 * answer therefore bound the time beyond what `help` takes in the same moment (loading only), not the
 * wall time: an answer that waited for a connection timeout exceeds it on any load.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";

const CLI = join(import.meta.dirname, "k8s-ops-conformance.ts");
const dir = mkdtempSync(join(tmpdir(), "koc-cli-"));
const CLI_TEST_TIMEOUT = 60_000;
/** What a quick answer may take beyond loading the CLI: the reachability check (6 s) and some slack. */
const BEYOND_LOADING = 10_000;

/** How long the CLI takes to load and print its usage now, on this machine's current load. */
async function loading(): Promise<number> {
  return (await cli(["help"])).ms;
}

function kubeconfig(name: string, server: string): string {
  const file = join(dir, name);
  writeFileSync(
    file,
    `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "${server}", insecure-skip-tls-verify: true}}]
contexts: [{name: only, context: {cluster: c, user: u}}]
current-context: only
users: [{name: u, user: {token: t}}]
`,
  );
  return file;
}

/** A local port nothing listens on: bind, note the port, close. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface CliResult {
  code: number | null;
  stderr: string;
  stdout: string;
  /** From the CLI process's start to its exit. */
  ms: number;
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [CLI, ...args],
      {
        encoding: "utf8",
        timeout: CLI_TEST_TIMEOUT - 5_000,
        env: { PATH: process.env.PATH, HOME: dir, KUBECONFIG: kubeconfig("default", "https://127.0.0.1:1"), ...env },
      },
      (_error, stdout, stderr) =>
        resolve({ code: child.exitCode, stderr: stderr.trim(), stdout, ms: Date.now() - started }),
    );
  });
}

describe("CLI exit codes", { timeout: CLI_TEST_TIMEOUT }, () => {
  test("should exit 2 with one line for an unknown context", async () => {
    const load = await loading();
    const { code, stderr, ms } = await cli(["run", "--context", "does-not-exist"]);
    expect(code).toBe(2);
    expect(stderr).toBe(
      `k8s-ops-conformance: error: context "does-not-exist" not found in ${join(dir, "default")}; pass --context with one of: only`,
    );
    expect(ms).toBeLessThan(load + BEYOND_LOADING);
  });

  test("should exit 2 when the test bed context is missing and cluster-up is off", async () => {
    const { code, stderr } = await cli(["run", "--no-cluster-up"]);
    expect(code).toBe(2);
    expect(stderr).toContain('context "kind-k8s-ops-conformance" not found');
  });

  test("should exit 2 with one line for a usage error", async () => {
    const { code, stderr } = await cli(["run", "--bogus"]);
    expect(code).toBe(2);
    expect(stderr).toBe(
      "k8s-ops-conformance: error: Unknown option '--bogus'. To specify a positional argument starting with a '-', place it at the end of the command after '--', as in '-- \"--bogus\"; see --help",
    );
  });

  test("should exit 2 with one line for a bad --timeout-scale", async () => {
    const { code, stderr } = await cli(["run", "--context", "only", "--timeout-scale", "0"]);
    expect(code).toBe(2);
    expect(stderr).toBe(
      'k8s-ops-conformance: error: KOC_TIMEOUT_SCALE must be a number > 0 and <= 20 (e.g. 2.5), got "0"',
    );
  });

  test("should exit 2 with one line, no stack trace, for KOC_TIMEOUT_SCALE=abc", async () => {
    const { code, stderr } = await cli(["run", "--context", "only", "--no-cluster-up"], { KOC_TIMEOUT_SCALE: "abc" });
    expect(code).toBe(2);
    expect(stderr).toBe(
      'k8s-ops-conformance: error: KOC_TIMEOUT_SCALE must be a number > 0 and <= 20 (e.g. 2.5), got "abc"',
    );
  });

  test("should exit 2 with one line for a misspelt KOC_* variable", async () => {
    const { code, stderr } = await cli(["cleanup", "--context", "only"], { KOC_TIMEOUT_SCAL: "3" });
    expect(code).toBe(2);
    expect(stderr.split("\n")).toHaveLength(1);
    expect(stderr).toContain("KOC_TIMEOUT_SCAL is not a variable of k8s-ops-conformance (misspelt?)");
  });

  test("should exit 2 with one line for an image that is not pinned", async () => {
    const { code, stderr } = await cli(["run", "--context", "only"], { KOC_IMAGE_NGINX: "nginx:latest" });
    expect(code).toBe(2);
    expect(stderr).toContain("uses :latest");
  });

  test("should exit 2 with one line for a missing kubeconfig", async () => {
    const missing = await cli(["run", "--kubeconfig", join(dir, "missing")]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("kubeconfig not found");
  });

  test("should exit 3 soon after loading, with one line when the API server does not answer", async () => {
    const port = await closedPort();
    const load = await loading();
    const { code, stderr, ms } = await cli(["run", "--kubeconfig", kubeconfig("closed", `https://127.0.0.1:${port}`)]);
    expect(code).toBe(3);
    expect(stderr).toBe(
      `k8s-ops-conformance: error: cannot reach the API server https://127.0.0.1:${port} of context "only": ` +
        `fetch failed: connect ECONNREFUSED 127.0.0.1:${port}; is the cluster running and the server address right?`,
    );
    expect(ms).toBeLessThan(load + BEYOND_LOADING);
  });

  test("should print the usage for help and exit 0", async () => {
    const { code, stdout } = await cli(["help"]);
    expect(code).toBe(0);
    expect(stdout).toContain("Exit codes: 0 passed");
  });

  test("should refuse to report without results", async () => {
    const { code, stderr } = await cli(["report", "--reports-dir", join(dir, "none")]);
    expect(code).toBe(2);
    expect(stderr).toContain("run the suites first");
  });
});
