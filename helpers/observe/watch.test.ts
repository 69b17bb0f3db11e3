import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { afterEach, describe, expect, test, vi } from "vitest";
import type { Kube } from "../framework/kube.ts";
import { type ListResult, ObjectCache, type WatchEvent, watchObjects } from "./watch.ts";

const pod = (name: string, rv: string): V1Pod => ({ metadata: { name, uid: name, resourceVersion: rv } });

describe("watch cache", () => {
  test("tracks current objects and remembers deleted ones", () => {
    const cache = new ObjectCache<V1Pod>();
    cache.reset([pod("a", "1"), pod("b", "1")]);
    cache.apply({ type: "MODIFIED", object: pod("a", "2") });
    cache.apply({ type: "DELETED", object: pod("b", "3") });
    expect(cache.current().map((p) => `${p.metadata?.name}@${p.metadata?.resourceVersion}`)).toEqual(["a@2"]);
    expect(cache.everSeen().map((p) => p.metadata?.name)).toEqual(["a", "b"]);
    cache.reset([pod("c", "4")]);
    expect(cache.current().map((p) => p.metadata?.name)).toEqual(["c"]);
  });
});

/**
 * A local stand-in for the API server's watch endpoint: each watch request gets the next scripted stream
 * (lines of watch events), which is then closed, or left open when `hold` is set.
 */
interface Stream {
  events: Array<{ type: string; object: unknown }>;
  hold?: boolean;
}

const PATH = "/api/v1/namespaces/koc-unit/pods";
let server: Server | undefined;
const open: ServerResponse[] = [];

afterEach(async () => {
  for (const response of open.splice(0)) response.end();
  const closing = server;
  server = undefined;
  if (closing) await new Promise((resolve) => closing.close(resolve));
});

/** Serves `streams` in order; returns the kube stand-in and the resourceVersion each watch asked for. */
async function apiServer(streams: Stream[]): Promise<{ kube: Kube; asked: Array<string | null> }> {
  const asked: Array<string | null> = [];
  server = createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://localhost");
    if (url.pathname !== PATH || url.searchParams.get("watch") !== "true") {
      response.writeHead(404).end();
      return;
    }
    asked.push(url.searchParams.get("resourceVersion"));
    const stream = streams.shift() ?? { events: [], hold: true };
    response.writeHead(200, { "content-type": "application/json" });
    for (const event of stream.events) response.write(`${JSON.stringify(event)}\n`);
    if (stream.hold) open.push(response);
    else response.end();
  });
  await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: "local", server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: "nobody" }],
    contexts: [{ name: "local", cluster: "local", user: "nobody" }],
    currentContext: "local",
  });
  return { kube: { kubeConfig } as Kube, asked };
}

/** A list callback returning `lists` in order, counting its calls. */
function lister(lists: Array<ListResult<V1Pod>>): { list: () => Promise<ListResult<V1Pod>>; calls: () => number } {
  let calls = 0;
  return {
    list: async () => lists[Math.min(calls++, lists.length - 1)] as ListResult<V1Pod>,
    calls: () => calls,
  };
}

/** Resolves once `seen` holds `count` events (within 20 s: a local server answers in milliseconds when idle). */
async function eventsSeen(seen: unknown[], count: number): Promise<void> {
  await vi.waitFor(() => expect(seen.length, "watch events seen").toBeGreaterThanOrEqual(count), {
    timeout: 20_000,
    interval: 10,
  });
  expect(seen.length, "watch events seen").toBe(count);
}

// Real HTTP on loopback: the timeout leaves room for a machine busy with e2e runs.
describe("watchObjects", { timeout: 30_000 }, () => {
  test("should watch again from the last resourceVersion it saw when the server closes the stream", async () => {
    const { kube, asked } = await apiServer([
      { events: [{ type: "ADDED", object: pod("b", "11") }] },
      { events: [{ type: "MODIFIED", object: pod("b", "12") }], hold: true },
    ]);
    const { list, calls } = lister([{ items: [pod("a", "9")], metadata: { resourceVersion: "10" } }]);
    const seen: string[] = [];
    const watch = watchObjects(kube, PATH, {}, list, (event: WatchEvent<V1Pod>) =>
      seen.push(`${event.type} ${event.object.metadata?.name}@${event.object.metadata?.resourceVersion}`),
    );
    await watch.connected;
    await eventsSeen(seen, 2);
    await watch.stop();
    expect(seen).toEqual(["ADDED b@11", "MODIFIED b@12"]);
    expect(asked, "resourceVersion of each watch request").toEqual(["10", "11"]);
    expect(calls(), "lists").toBe(1);
    expect(watch.cache.current().map((p) => p.metadata?.name)).toEqual(["a", "b"]);
  });

  test("should list again after 410 Gone and watch from the new list's resourceVersion", async () => {
    const { kube, asked } = await apiServer([
      { events: [{ type: "ERROR", object: { kind: "Status", code: 410, message: "too old resource version" } }] },
      { events: [{ type: "ADDED", object: pod("d", "21") }], hold: true },
    ]);
    const { list, calls } = lister([
      { items: [pod("a", "9")], metadata: { resourceVersion: "10" } },
      { items: [pod("c", "19")], metadata: { resourceVersion: "20" } },
    ]);
    const seen: string[] = [];
    const watch = watchObjects(kube, PATH, {}, list, (event: WatchEvent<V1Pod>) =>
      seen.push(`${event.type} ${event.object.metadata?.name}`),
    );
    await eventsSeen(seen, 1);
    await watch.stop();
    expect(calls(), "lists").toBe(2);
    expect(asked, "resourceVersion of each watch request").toEqual(["10", "20"]);
    expect(
      watch.cache.current().map((p) => p.metadata?.name),
      "the relisted objects, then d",
    ).toEqual(["c", "d"]);
    expect(
      watch.cache.everSeen().map((p) => p.metadata?.name),
      "a was seen before the relist",
    ).toEqual(["a", "c", "d"]);
  });

  test("should end with the error of any other ERROR event, thrown by stop()", async () => {
    const { kube } = await apiServer([
      { events: [{ type: "ERROR", object: { kind: "Status", code: 500, message: "etcd is gone" } }], hold: true },
    ]);
    const { list } = lister([{ items: [], metadata: { resourceVersion: "10" } }]);
    const watch = watchObjects(kube, PATH, {}, list, () => undefined);
    await expect(watch.ended).rejects.toThrow(`watch ${PATH}: 500 etcd is gone`);
    await expect(watch.stop()).rejects.toThrow(`watch ${PATH}: 500 etcd is gone`);
  });
});
