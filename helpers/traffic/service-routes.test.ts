import { describe, expect, test } from "vitest";
import type { HttpResult } from "./exec.ts";
import { assertEveryRoute, clusterDomain, serviceRoutes } from "./service-routes.ts";

const RESOLV =
  "search koc-a.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n";
const ok: HttpResult = { status: 200, body: "hello", error: "" };

describe("service routes", () => {
  test("should read the cluster domain from the namespace's search entry", () => {
    expect(clusterDomain(RESOLV, "koc-a")).toBe("cluster.local");
    expect(clusterDomain("search koc-a.svc.corp.example. svc.corp.example.\n", "koc-a")).toBe("corp.example");
    expect(clusterDomain("nameserver 127.0.0.1\n", "koc-a")).toBeUndefined();
    expect(clusterDomain(RESOLV, "koc-b")).toBeUndefined();
  });

  test("should reach a Service by short name, FQDN and ClusterIP", () => {
    expect(serviceRoutes("web", "koc-a", "cluster.local", "10.96.1.2", "/ready").map((r) => r.url)).toEqual([
      "http://web/ready",
      "http://web.koc-a.svc.cluster.local/ready",
      "http://10.96.1.2/ready",
    ]);
    expect(serviceRoutes("web", "koc-a", "cluster.local", "10.96.1.2", "/", 8080)[0]?.url).toBe("http://web:8080/");
  });

  test("should name each way that failed and the ones that answered", () => {
    const routes = serviceRoutes("web", "koc-a", "cluster.local", "10.96.1.2");
    const dnsDown = new Error(
      "Timed out after 1m waiting for: GET http://web/\n  last seen: curl exit 6: Could not resolve host",
    );
    const outcomes = routes.map((route) => ({
      route,
      result:
        route.via === "ClusterIP"
          ? ({ status: "fulfilled", value: ok } as const)
          : ({ status: "rejected", reason: dnsDown } as const),
    }));
    expect(() => assertEveryRoute("koc-a/web", outcomes)).toThrowError(
      "service koc-a/web not reached by short name and FQDN (answered by ClusterIP):\n  by short name (http://web/): Timed out",
    );
    const all = routes.map((route) => ({ route, result: { status: "fulfilled", value: ok } as const }));
    expect(assertEveryRoute("koc-a/web", all)).toEqual([ok, ok, ok]);
  });
});
