import type { V1EndpointSlice } from "@kubernetes/client-node";
import { describe, expect, test } from "vitest";
import { fakeNamespace } from "../framework/testing.ts";
import { endpointSet, readyEndpoints, sameAddresses, serviceEndpoints, showEndpointSet } from "./endpointslices.ts";

function slice(endpoints: Array<[string, boolean | undefined, string | undefined]>): V1EndpointSlice {
  return {
    addressType: "IPv4",
    endpoints: endpoints.map(([address, ready, pod]) => ({
      addresses: [address],
      conditions: ready === undefined ? {} : { ready },
      ...(pod === undefined ? {} : { targetRef: { kind: "Pod", name: pod, uid: `uid-${pod}` } }),
    })),
  };
}

function listing(slices: V1EndpointSlice[]) {
  return fakeNamespace({ discovery: { listNamespacedEndpointSlice: async () => ({ items: slices }) } as never });
}

describe("endpointSet", () => {
  test("should split ready from listed-but-not-ready addresses across slices", () => {
    const set = endpointSet([
      slice([
        ["10.0.0.3", false, "web-c"],
        ["10.0.0.1", true, "web-a"],
      ]),
      slice([["10.0.0.2", undefined, "web-b"]]),
    ]);
    expect(set.ready).toEqual(["10.0.0.1"]);
    expect(set.notReady).toEqual(["10.0.0.2", "10.0.0.3"]);
    expect(showEndpointSet(set)).toBe("ready [10.0.0.1 (web-a)]; not ready [10.0.0.2 (web-b), 10.0.0.3 (web-c)]");
  });

  test("should count an address ready when any slice says so", () => {
    const set = endpointSet([slice([["10.0.0.1", false, "web-a"]]), slice([["10.0.0.1", true, "web-a"]])]);
    expect(set).toMatchObject({ ready: ["10.0.0.1"], notReady: [] });
  });

  test("should count one pod listed in two slices once", () => {
    const set = endpointSet([slice([["10.0.0.1", true, "web-a"]]), slice([["10.0.0.1", true, "web-a"]])]);
    expect(set.readyPods).toEqual(["web-a"]);
    expect(set.ready).toEqual(["10.0.0.1"]);
  });

  test("should count one pod with two addresses once, and endpoints without a pod by address", () => {
    const set = endpointSet([
      slice([["10.0.0.1", true, "web-a"]]),
      slice([["10.0.0.9", true, "web-a"]]),
      slice([
        ["10.0.0.5", true, undefined],
        ["10.0.0.6", false, undefined],
      ]),
    ]);
    expect(set.readyPods).toEqual(["10.0.0.5", "web-a"]);
    expect(set.listedPods).toEqual(["10.0.0.5", "10.0.0.6", "web-a"]);
  });

  test("should compare address sets regardless of order", () => {
    expect(sameAddresses(["b", "a"], ["a", "b"])).toBe(true);
    expect(sameAddresses(["a"], ["a", "b"])).toBe(false);
    expect(sameAddresses([], [])).toBe(true);
  });

  test("should read slices by service-name label and name the service in what it shows", async () => {
    let selector = "";
    const ns = fakeNamespace({
      discovery: {
        listNamespacedEndpointSlice: async (request: { labelSelector?: string }) => {
          selector = request.labelSelector ?? "";
          return { items: [slice([["10.0.0.1", false, "web-a"]])] };
        },
      } as never,
    });
    const check = serviceEndpoints(ns, "web", (s) => s.ready.length === 0);
    const set = await check.observe();
    expect(selector).toBe("kubernetes.io/service-name=web");
    expect(check.ok(set)).toBe(true);
    expect(check.show?.(set)).toBe("service koc-unit-abcde/web: ready []; not ready [10.0.0.1 (web-a)]");
  });

  test("should want exactly the number of distinct ready pods, duplicates counted once", async () => {
    const duplicated = [slice([["10.0.0.1", true, "web-a"]]), slice([["10.0.0.1", true, "web-a"]])];
    const check = readyEndpoints(listing(duplicated), "web", 2);
    const set = await check.observe();
    expect(check.ok(set)).toBe(false);
    expect(check.show?.(set)).toBe(
      "service koc-unit-abcde/web: ready [10.0.0.1 (web-a)]; not ready []; 1 distinct ready pod(s) [web-a], wanted 2",
    );
    const two = [slice([["10.0.0.1", true, "web-a"]]), slice([["10.0.0.2", true, "web-b"]])];
    const distinct = readyEndpoints(listing(two), "web", 2);
    expect(distinct.ok(await distinct.observe())).toBe(true);
  });
});
