import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ApiException } from "@kubernetes/client-node";
import { describe, expect, test } from "vitest";
import { ConfigError } from "./config.ts";
import {
  describeApiError,
  isTransportError,
  kubeconfigFiles,
  loadKubeConfig,
  retryTransport,
  withTransportRetry,
} from "./kube.ts";

const api = (code: number, body: unknown = {}): ApiException<unknown> =>
  new ApiException(code, `HTTP ${code}`, body, {});
const errno = (code: string): Error => Object.assign(new Error(`connect ${code} 127.0.0.1:6443`), { code });

const KUBECONFIG = `apiVersion: v1
kind: Config
clusters:
- name: c1
  cluster: {server: "https://127.0.0.1:6443"}
contexts:
- name: one
  context: {cluster: c1, user: u}
- name: two
  context: {cluster: c1, user: u}
current-context: two
users:
- name: u
  user: {token: t}
`;

describe("transport errors", () => {
  test.each([
    ["429", api(429), true],
    ["500", api(500), true],
    ["503", api(503), true],
    [
      "500 of an apply the server cannot type",
      api(500, "failed to create typed patch object (x): .spec: unknown"),
      false,
    ],
    ["404", api(404), false],
    ["409", api(409), false],
    ["403", api(403), false],
    ["422", api(422), false],
    ["etcd leader changed", api(400, "etcdserver: leader changed"), true],
    ["ECONNRESET in a cause", new TypeError("fetch failed", { cause: errno("ECONNRESET") }), true],
    ["ETIMEDOUT", errno("ETIMEDOUT"), true],
    ["an assertion", new Error("expected 1 to be 2"), false],
  ])("should classify %s", (_name, error, retried) => {
    expect(isTransportError(error)).toBe(retried);
  });

  test("should describe API errors by status, reason and message", () => {
    expect(describeApiError(api(404, { reason: "NotFound", message: 'pods "x" not found' }))).toBe(
      '404 NotFound: pods "x" not found',
    );
    expect(describeApiError(api(409, '{"reason":"AlreadyExists","message":"exists"}'))).toBe(
      "409 AlreadyExists: exists",
    );
    expect(describeApiError(new TypeError("fetch failed", { cause: errno("ECONNREFUSED") }))).toBe(
      "fetch failed: connect ECONNREFUSED 127.0.0.1:6443",
    );
  });

  test("should retry transport errors and return the eventual answer", async () => {
    let calls = 0;
    const value = await retryTransport("read pod", async () => {
      calls++;
      if (calls < 3) throw api(503);
      return "ok";
    });
    expect(value).toBe("ok");
    expect(calls).toBe(3);
  });

  test("should never retry an answer (a verdict)", async () => {
    let calls = 0;
    const conflict = api(409);
    await expect(
      retryTransport("create", async () => {
        calls++;
        throw conflict;
      }),
    ).rejects.toBe(conflict);
    expect(calls).toBe(1);
  });

  test("should say how often it tried when transport errors persist", async () => {
    await expect(retryTransport("list pods", async () => Promise.reject(api(503)), { retries: 1 })).rejects.toThrow(
      /^list pods: failed 2 times, last: 503/,
    );
  });

  test("should wrap every method of a client", async () => {
    let calls = 0;
    class FakeApi {
      async readThing(): Promise<string> {
        calls++;
        if (calls === 1) throw api(502);
        return "thing";
      }
    }
    await expect(withTransportRetry(new FakeApi()).readThing()).resolves.toBe("thing");
  });
});

describe("kubeconfig", () => {
  const dir = mkdtempSync(join(tmpdir(), "koc-kube-"));
  const file = join(dir, "config");
  writeFileSync(file, KUBECONFIG);

  test("should select the named context", () => {
    expect(loadKubeConfig({ kubeconfig: file, context: "one" }).getCurrentContext()).toBe("one");
  });

  test("should use the file's current-context only when a file is given without a context", () => {
    expect(loadKubeConfig({ kubeconfig: file }).getCurrentContext()).toBe("two");
  });

  test("should list the available contexts when the context does not exist", () => {
    expect(() => loadKubeConfig({ kubeconfig: file, context: "does-not-exist" })).toThrowError(
      `context "does-not-exist" not found in ${file}; pass --context with one of: one, two`,
    );
  });

  test("should say which file is missing", () => {
    expect(() => loadKubeConfig({ kubeconfig: join(dir, "nope") })).toThrowError(ConfigError);
    expect(() => loadKubeConfig({ kubeconfig: join(dir, "nope") })).toThrowError(
      `kubeconfig not found (${join(dir, "nope")})`,
    );
  });

  test("should read KUBECONFIG as a list of files, else ~/.kube/config", () => {
    expect(kubeconfigFiles(undefined, { KUBECONFIG: "/a:/b" })).toEqual(["/a", "/b"]);
    expect(kubeconfigFiles(undefined, {})[0]).toMatch(/\.kube\/config$/);
    expect(kubeconfigFiles("/x", { KUBECONFIG: "/a" })).toEqual(["/x"]);
  });
});
