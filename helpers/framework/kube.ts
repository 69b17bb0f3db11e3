/**
 * Connection to the cluster: kubeconfig and context selection, typed API clients, and the transport retry.
 *
 * Every method of the clients in `Kube` retries transport errors (429, 5xx, connection reset, timeouts,
 * "etcdserver: leader changed") a few times with backoff; any other error (404, 403, 409, 422, ...) is
 * an answer and is thrown at once. Tests never retry verdicts: that is what waits are for.
 */
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  DiscoveryV1Api,
  Exec,
  KubeConfig,
  KubernetesObjectApi,
  StorageV1Api,
  VersionApi,
} from "@kubernetes/client-node";
import pRetry, { AbortError } from "p-retry";
import { ConfigError } from "./config.ts";
import { T } from "./timeouts.ts";

export interface Kube {
  readonly kubeConfig: KubeConfig;
  readonly context: string;
  /** API server URL of the context's cluster. */
  readonly server: string;
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly storage: StorageV1Api;
  readonly discovery: DiscoveryV1Api;
  readonly version: VersionApi;
  /** Generic client for any kind (server-side apply, delete, list by apiVersion/kind). */
  readonly objects: KubernetesObjectApi;
  readonly exec: Exec;
}

export interface Target {
  /** Explicit kubeconfig file; otherwise KUBECONFIG (may list several files) or ~/.kube/config. */
  kubeconfig?: string | undefined;
  /** When omitted, the kubeconfig's current-context (used only for an explicitly given file). */
  context?: string | undefined;
  /** The runner is a pod of the target cluster (`run --in-cluster`): its ServiceAccount, no kubeconfig. */
  inCluster?: boolean | undefined;
}

/** The kubeconfig files that would be read, and whether any exists. */
export function kubeconfigFiles(kubeconfig: string | undefined, env: NodeJS.ProcessEnv = process.env): string[] {
  if (kubeconfig !== undefined) return [kubeconfig];
  const fromEnv = (env.KUBECONFIG ?? "").split(delimiter).filter((p) => p !== "");
  return fromEnv.length > 0 ? fromEnv : [join(homedir(), ".kube", "config")];
}

/** Loads the kubeconfig and selects the context; throws ConfigError naming what is missing. */
export function loadKubeConfig(target: Target): KubeConfig {
  if (target.inCluster) {
    const kc = new KubeConfig();
    kc.loadFromCluster(); // the pod's ServiceAccount token, re-read as the kubelet rotates it
    return kc;
  }
  const files = kubeconfigFiles(target.kubeconfig);
  const existing = files.filter((file) => existsSync(file));
  if (existing.length === 0) {
    throw new ConfigError(`kubeconfig not found (${files.join(", ")}); pass --kubeconfig FILE or set KOC_KUBECONFIG`);
  }
  const kc = new KubeConfig();
  try {
    if (target.kubeconfig !== undefined) kc.loadFromFile(target.kubeconfig);
    else kc.loadFromDefault({}, true); // reads KUBECONFIG's files merged, or ~/.kube/config
  } catch (error) {
    throw new ConfigError(`kubeconfig ${existing.join(", ")} cannot be read: ${(error as Error).message}`);
  }
  const context = target.context ?? kc.getCurrentContext();
  if (!context || kc.getContextObject(context) === null) {
    const available = kc.getContexts().map((c) => c.name);
    throw new ConfigError(
      `context "${context || "(none)"}" not found in ${existing.join(", ")}; pass --context with one of: ${available.join(", ") || "(no contexts)"}`,
    );
  }
  kc.setCurrentContext(context);
  if (kc.getCurrentCluster() === null) {
    throw new ConfigError(`context "${context}" names a cluster that is not in ${existing.join(", ")}`);
  }
  return kc;
}

/** Clients for a target; every API method retries transport errors. */
export function connect(target: Target): Kube {
  const kc = loadKubeConfig(target);
  return {
    kubeConfig: kc,
    context: kc.getCurrentContext(),
    server: kc.getCurrentCluster()?.server ?? "(unknown)",
    core: withTransportRetry(kc.makeApiClient(CoreV1Api)),
    apps: withTransportRetry(kc.makeApiClient(AppsV1Api)),
    storage: withTransportRetry(kc.makeApiClient(StorageV1Api)),
    discovery: withTransportRetry(kc.makeApiClient(DiscoveryV1Api)),
    version: withTransportRetry(kc.makeApiClient(VersionApi)),
    objects: withTransportRetry(KubernetesObjectApi.makeApiClient(kc)),
    exec: new Exec(kc),
  };
}

const TRANSPORT_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ETIMEDOUT",
  "EPIPE",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
]);

/** The HTTP status of an API error, if the server answered. */
export function statusCode(error: unknown): number | undefined {
  return error instanceof ApiException ? error.code : undefined;
}

export function isNotFound(error: unknown): boolean {
  return statusCode(error) === 404;
}

/** True for errors worth retrying: the request may not have reached a healthy server. */
export function isTransportError(error: unknown): boolean {
  const code = statusCode(error);
  if (code !== undefined) {
    // A server-side apply of an object the server cannot type is answered 500 too, and never succeeds.
    if (code === 500 && /failed to create typed patch object/.test(String((error as ApiException<unknown>).body))) {
      return false;
    }
    if (code === 429 || code >= 500) return true;
    return /etcdserver: (leader changed|request timed out)/.test(String((error as ApiException<unknown>).body));
  }
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    const errno = (e as { code?: unknown }).code;
    if (typeof errno === "string" && TRANSPORT_CODES.has(errno)) return true;
    if (/etcdserver: leader changed|socket hang up|fetch failed/.test(e.message)) return true;
  }
  return false;
}

/** The `reason: message` of a Kubernetes Status body, whether the client parsed it or not. */
function statusText(body: unknown): string | undefined {
  const status =
    typeof body === "string" ? safeJson(body) : (body as { reason?: string; message?: string } | undefined);
  if (status === undefined || status === null || typeof status !== "object") return undefined;
  if (status.reason === undefined && status.message === undefined) return undefined;
  return `${status.reason ?? ""}: ${status.message ?? ""}`;
}

/** Short text for an API error: "404 NotFound: pods "web" not found" rather than a 2 kB body dump. */
export function describeApiError(error: unknown): string {
  if (error instanceof ApiException) {
    const text = statusText(error.body) ?? String(error.body ?? error.message).slice(0, 300);
    return `${error.code} ${text}`;
  }
  const causes: string[] = [];
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    const errno = (e as { code?: unknown }).code;
    causes.push(typeof errno === "string" && !e.message.includes(errno) ? `${e.message} (${errno})` : e.message);
  }
  return causes.length > 0 ? causes.join(": ") : String(error);
}

function safeJson(text: string): { reason?: string; message?: string } | undefined {
  try {
    return JSON.parse(text) as { reason?: string; message?: string };
  } catch {
    return undefined;
  }
}

export interface RetryOptions {
  retries?: number;
  signal?: AbortSignal | undefined;
}

/** Runs one API call, retrying transport errors with backoff (250 ms, 500 ms, 1 s, ...) within T.apiCall. */
export async function retryTransport<R>(what: string, call: () => Promise<R>, options: RetryOptions = {}): Promise<R> {
  let attempts = 0;
  try {
    return await pRetry(
      async () => {
        attempts++;
        try {
          return await call();
        } catch (error) {
          if (!isTransportError(error)) throw new AbortError(error as Error);
          throw error;
        }
      },
      { retries: options.retries ?? 5, minTimeout: 250, factor: 2, maxRetryTime: T.apiCall, signal: options.signal },
    );
  } catch (error) {
    if (attempts > 1 && isTransportError(error)) {
      throw new Error(`${what}: failed ${attempts} times, last: ${describeApiError(error)}`, { cause: error });
    }
    throw error;
  }
}

/** Wraps every method of an API client in retryTransport. */
export function withTransportRetry<C extends object>(client: C): C {
  return new Proxy(client, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function" || typeof property !== "string") return value;
      return (...args: unknown[]) =>
        retryTransport(`${target.constructor.name}.${property}`, () => value.apply(target, args) as Promise<unknown>);
    },
  });
}
