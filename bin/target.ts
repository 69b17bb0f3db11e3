/**
 * Which cluster a command talks to, and whether it answers: the part of the CLI that decides between
 * exit code 2 (fix your configuration) and 3 (the cluster is not there or does not accept you).
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { ApiException, CoreV1Api, type KubeConfig, VersionApi } from "@kubernetes/client-node";
import { execa } from "execa";
import { type Config, TESTBED_CONTEXT } from "../helpers/framework/config.ts";
import { describeApiError, type Target } from "../helpers/framework/kube.ts";
import { formatDuration, T } from "../helpers/framework/timeouts.ts";
import { DeadlineError, withDeadline } from "../helpers/framework/wait.ts";
import { UsageError } from "./args.ts";

/** The cluster is unreachable or rejects the credentials; exit code 3. */
export class UnreachableError extends Error {
  override name = "UnreachableError";
}

export const PROJECT_ROOT = resolve(import.meta.dirname, "..");
export const TESTBED_SCRIPT = resolve(PROJECT_ROOT, "testbed", "cluster.ts");

/**
 * The target of a run. An explicit --context/--kubeconfig (or KOC_*) wins; a kubeconfig given alone
 * means its current-context; with neither, the test bed context — never the ambient current context.
 */
export function chooseTarget(cfg: Config): Target & { explicit: boolean } {
  if (cfg.inCluster) return { inCluster: true, explicit: true };
  if (cfg.contextExplicit) return { kubeconfig: cfg.kubeconfig, context: cfg.context, explicit: true };
  if (cfg.kubeconfig !== undefined) return { kubeconfig: cfg.kubeconfig, context: undefined, explicit: true };
  return { kubeconfig: undefined, context: TESTBED_CONTEXT, explicit: false };
}

/** `node testbed/cluster.ts up [--kubernetes MINOR]`: brings up (or reuses) the local kind test bed. */
export async function bringUpTestbed(kubernetes?: string): Promise<void> {
  if (!existsSync(TESTBED_SCRIPT)) {
    throw new UsageError(
      `no target given and the local test bed script ${TESTBED_SCRIPT} does not exist; pass --context NAME or --kubeconfig FILE`,
    );
  }
  console.error(
    `no --context/--kubeconfig given: starting the local test bed (node testbed/cluster.ts up; skip with --no-cluster-up)`,
  );
  const args = kubernetes === undefined ? [] : ["--kubernetes", kubernetes];
  const result = await execa(process.execPath, [TESTBED_SCRIPT, "up", ...args], {
    stdio: "inherit",
    reject: false,
    cwd: PROJECT_ROOT,
  });
  if (result.exitCode !== 0) {
    throw new UnreachableError(
      `the local test bed did not come up (node testbed/cluster.ts up exited ${result.exitCode}); see its output above`,
    );
  }
}

function unreachable(kc: KubeConfig, error: unknown): UnreachableError {
  const context = kc.getCurrentContext();
  const server = kc.getCurrentCluster()?.server ?? "?";
  const code = error instanceof ApiException ? error.code : undefined;
  if (code === 401) {
    return new UnreachableError(
      `unauthorised: ${server} rejected the credentials of context "${context}" (401); refresh the kubeconfig credentials`,
    );
  }
  const hint =
    context === TESTBED_CONTEXT
      ? "start it with npm run cluster:up"
      : "is the cluster running and the server address right?";
  return new UnreachableError(
    `cannot reach the API server ${server} of context "${context}": ${describeApiError(error)}; ${hint}`,
  );
}

/** One version call and one authorised list, within T.clusterCheck, without transport retries. */
export async function checkReachable(kc: KubeConfig): Promise<string> {
  try {
    const work = (async () => {
      const version = await kc.makeApiClient(VersionApi).getCode();
      // 403 is an answer from a server that knows us: the permission preflight then names what is missing.
      await kc
        .makeApiClient(CoreV1Api)
        .listNamespace({ limit: 1 })
        .catch((error: unknown) => {
          if (!(error instanceof ApiException && error.code === 403)) throw error;
        });
      return version.gitVersion;
    })();
    return await withDeadline(`the API server's answer`, T.clusterCheck, work);
  } catch (error) {
    const cause =
      error instanceof DeadlineError ? new Error(`no answer within ${formatDuration(T.clusterCheck)}`) : error;
    throw unreachable(kc, cause);
  }
}
