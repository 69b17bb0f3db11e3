/**
 * The log stream against a local HTTP server standing in for the API's log endpoint (no cluster): whole
 * lines only, the end of the stream, an error status, an abort and a silent stream.
 * On purpose: with the abort signal left out of the request, "should reject, not crash, when aborted" failed
 * (the stream ran on until its idle timeout); with the partial last line handed over instead of kept,
 * "should hand over whole lines only" failed.
 */
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { KubeConfig } from "@kubernetes/client-node";
import { afterEach, describe, expect, test } from "vitest";
import { LogStreamError, streamContainerLog } from "./log-stream.ts";

const source = { namespace: "ns", pod: "p", container: "c" };
let server: Server | undefined;

afterEach(() => {
  server?.closeAllConnections();
  server?.close();
  server = undefined;
});

/** A server answering every request with `answer`; the kube the stream needs, pointed at it. */
async function serve(answer: (res: ServerResponse, url: URL) => void) {
  server = createServer((req, res) => answer(res, new URL(req.url ?? "/", "http://x")));
  await new Promise<void>((done) => server?.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  const kubeConfig = { applyToHTTPSOptions: async () => undefined } as unknown as KubeConfig;
  return { server: `http://127.0.0.1:${port}`, kubeConfig };
}

const options = (signal = new AbortController().signal, idleMs = 5_000) => ({
  sinceTime: "2026-01-01T00:00:00Z",
  idleMs,
  signal,
});

describe("container log stream", () => {
  test("should ask for the container's log from sinceTime and hand over whole lines only", async () => {
    let asked: URL | undefined;
    const kube = await serve((res, url) => {
      asked = url;
      res.write("one\ntw");
      setTimeout(() => res.end("o\nthree-partial"), 20);
    });
    const got: string[] = [];
    await streamContainerLog(kube, source, options(), (lines) => got.push(...lines));
    expect(got).toEqual(["one", "two"]);
    expect(asked?.pathname).toBe("/api/v1/namespaces/ns/pods/p/log");
    expect(Object.fromEntries(asked?.searchParams ?? [])).toEqual({
      container: "c",
      follow: "true",
      timestamps: "true",
      sinceTime: "2026-01-01T00:00:00Z",
    });
  });

  test("should reject with the HTTP status when the API answers an error", async () => {
    const kube = await serve((res) => {
      res.statusCode = 404;
      res.end('{"message":"pods \\"p\\" not found"}');
    });
    const failure = streamContainerLog(kube, source, options(), () => undefined);
    await expect(failure).rejects.toBeInstanceOf(LogStreamError);
    await expect(failure).rejects.toMatchObject({ status: 404 });
  });

  test("should reject, not crash, when aborted", async () => {
    const kube = await serve((res) => res.write("first\n"));
    const stop = new AbortController();
    const failure = streamContainerLog(kube, source, options(stop.signal), () => stop.abort());
    await expect(failure).rejects.toThrow(/abort/i);
  });

  test("should reject a stream that stays silent for idleMs", async () => {
    const kube = await serve((res) => res.write("first\n"));
    const failure = streamContainerLog(kube, source, options(undefined, 200), () => undefined);
    await expect(failure).rejects.toThrow("no log line for 0.2s");
  });
});
