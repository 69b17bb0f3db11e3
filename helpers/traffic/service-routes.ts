/**
 * A Service reached the three ways a workload reaches it: by its short name from a pod of the same
 * namespace (`http://web/`, resolved through the pod's DNS search path), by its fully qualified name
 * (`http://web.<namespace>.svc.<cluster domain>/`) and by its ClusterIP. A cluster whose Service names do
 * not resolve fails the first two while the third answers; the error names each way that failed.
 *
 *   const answers = await reachService(ns, client, "web", (r) => r.body.includes("Welcome"));
 *
 * The cluster domain is read from the client pod's /etc/resolv.conf (its `<namespace>.svc.<domain>` search
 * entry), not assumed to be cluster.local.
 */
import type { TestNamespace } from "../framework/namespace.ts";
import { T } from "../framework/timeouts.ts";
import { waitFor } from "../framework/wait.ts";
import { exec, type HttpResult, httpAnswers } from "./exec.ts";

export type RouteKind = "short name" | "FQDN" | "ClusterIP";

export interface ServiceRoute {
  via: RouteKind;
  url: string;
}

/** The cluster domain from a pod's resolv.conf: the `<namespace>.svc.<domain>` search entry; undefined without one. */
export function clusterDomain(resolvConf: string, namespace: string): string | undefined {
  const prefix = `${namespace}.svc.`;
  const searches = resolvConf
    .split("\n")
    .filter((line) => line.trim().startsWith("search "))
    .flatMap((line) => line.trim().split(/\s+/).slice(1));
  const entry = searches.find((s) => s.startsWith(prefix) && s.length > prefix.length);
  return entry?.slice(prefix.length).replace(/\.$/, "");
}

/** The three URLs of `service` on `port`, short name first. */
export function serviceRoutes(
  service: string,
  namespace: string,
  domain: string,
  clusterIP: string,
  path = "/",
  port = 80,
): ServiceRoute[] {
  const suffix = `${port === 80 ? "" : `:${port}`}${path}`;
  return [
    { via: "short name", url: `http://${service}${suffix}` },
    { via: "FQDN", url: `http://${service}.${namespace}.svc.${domain}${suffix}` },
    { via: "ClusterIP", url: `http://${clusterIP}${suffix}` },
  ];
}

export class ServiceUnreachableError extends Error {
  override name = "ServiceUnreachableError";
}

/** Throws naming every route that failed and the ones that answered; returns the answers otherwise. */
export function assertEveryRoute(
  service: string,
  outcomes: ReadonlyArray<{ route: ServiceRoute; result: PromiseSettledResult<HttpResult> }>,
): HttpResult[] {
  const failed = outcomes.filter((o) => o.result.status === "rejected");
  if (failed.length === 0) return outcomes.map((o) => (o.result as PromiseFulfilledResult<HttpResult>).value);
  const answered = outcomes.filter((o) => o.result.status === "fulfilled").map((o) => o.route.via);
  const lines = failed.map((o) => {
    const reason = (o.result as PromiseRejectedResult).reason;
    return `  by ${o.route.via} (${o.route.url}): ${reason instanceof Error ? reason.message : String(reason)}`;
  });
  throw new ServiceUnreachableError(
    `service ${service} not reached by ${failed.map((o) => o.route.via).join(" and ")}` +
      ` (answered by ${answered.join(", ") || "none"}):\n${lines.join("\n")}`,
  );
}

/**
 * GETs `path` of `service` from `client` (a pod in the Service's namespace) by short name, FQDN and
 * ClusterIP, each waited for up to T.serviceReachable until `ok`; throws naming each way that did not answer.
 */
export async function reachService(
  ns: TestNamespace,
  client: string,
  service: string,
  ok: (answer: HttpResult) => boolean = () => true,
  path = "/",
): Promise<HttpResult[]> {
  const found = await ns.kube.core.readNamespacedService({ name: service, namespace: ns.name });
  const resolvConf = (await exec(ns, client, ["cat", "/etc/resolv.conf"])).stdout;
  const domain = clusterDomain(resolvConf, ns.name);
  if (domain === undefined) {
    throw new ServiceUnreachableError(
      `pod ${ns.name}/${client} has no "${ns.name}.svc.<domain>" DNS search entry, so short Service names cannot resolve; /etc/resolv.conf: ${resolvConf.trim().replace(/\n/g, " | ")}`,
    );
  }
  const routes = serviceRoutes(service, ns.name, domain, found.spec?.clusterIP ?? "", path);
  const results = await Promise.allSettled(
    routes.map((route) => {
      const check = httpAnswers(ns, client, route.url);
      return waitFor(
        `GET ${route.url} (${route.via}) from pod ${client} answers 200 as expected`,
        { ...check, ok: (r) => check.ok(r) && ok(r) },
        T.serviceReachable,
        { signal: ns.signal },
      );
    }),
  );
  return assertEveryRoute(
    `${ns.name}/${service}`,
    routes.map((route, i) => ({ route, result: results[i] as PromiseSettledResult<HttpResult> })),
  );
}
