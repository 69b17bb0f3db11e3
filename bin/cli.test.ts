/**
 * The CLI end to end, without a cluster: the exit codes and one-line messages of everything that can go
 * wrong before a test runs.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";

const CLI = join(import.meta.dirname, "k8s-ops-conformance.ts");
const dir = mkdtempSync(join(tmpdir(), "koc-cli-"));

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

function cli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): { code: number | null; stderr: string; stdout: string; ms: number } {
  const started = Date.now();
  const result = spawnSync(process.execPath, [CLI, ...args], {
    encoding: "utf8",
    timeout: 20_000,
    env: { PATH: process.env.PATH, HOME: dir, KUBECONFIG: kubeconfig("default", "https://127.0.0.1:1"), ...env },
  });
  return { code: result.status, stderr: result.stderr.trim(), stdout: result.stdout, ms: Date.now() - started };
}

describe("CLI exit codes", () => {
  test("should exit 2 with one line for an unknown context", () => {
    const { code, stderr, ms } = cli(["run", "--context", "does-not-exist"]);
    expect(code).toBe(2);
    expect(stderr).toBe(
      `k8s-ops-conformance: error: context "does-not-exist" not found in ${join(dir, "default")}; pass --context with one of: only`,
    );
    expect(ms).toBeLessThan(15_000);
  });

  test("should exit 2 when the test bed context is missing and cluster-up is off", () => {
    const { code, stderr } = cli(["run", "--no-cluster-up"]);
    expect(code).toBe(2);
    expect(stderr).toContain('context "kind-k8s-ops-conformance" not found');
  });

  test("should exit 2 for a usage error, a bad environment value and a missing kubeconfig", () => {
    expect(cli(["run", "--bogus"]).code).toBe(2);
    expect(cli(["run", "--context", "only", "--timeout-scale", "0"]).stderr).toContain(
      "KOC_TIMEOUT_SCALE must be a number",
    );
    expect(cli(["run", "--context", "only"], { KOC_IMAGE_NGINX: "nginx:latest" }).stderr).toContain("uses :latest");
    const missing = cli(["run", "--kubeconfig", join(dir, "missing")]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("kubeconfig not found");
  });

  test("should exit 3 within 15 s with one line when the API server does not answer", async () => {
    const port = await closedPort();
    const { code, stderr, ms } = cli(["run", "--kubeconfig", kubeconfig("closed", `https://127.0.0.1:${port}`)]);
    expect(code).toBe(3);
    expect(stderr).toBe(
      `k8s-ops-conformance: error: cannot reach the API server https://127.0.0.1:${port} of context "only": ` +
        `fetch failed: connect ECONNREFUSED 127.0.0.1:${port}; is the cluster running and the server address right?`,
    );
    expect(ms).toBeLessThan(15_000);
  });

  test("should print the usage for help and exit 0", () => {
    const { code, stdout } = cli(["help"]);
    expect(code).toBe(0);
    expect(stdout).toContain("Exit codes: 0 passed");
  });

  test("should refuse to report without results", () => {
    const { code, stderr } = cli(["report", "--reports-dir", join(dir, "none")]);
    expect(code).toBe(2);
    expect(stderr).toContain("run the suites first");
  });
});
