/**
 * On purpose: with applyObject passing every refusal on untouched (the Pod Security recognition taken out), the
 * three Pod Security tests failed: the ApiException came through instead of a skip, a PodSecurityRefusedError
 * naming the declared level, or the error an undo step handles.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { ApiException } from "@kubernetes/client-node";
import { describe, expect, test } from "vitest";
import type { TestNamespace } from "../framework/namespace.ts";
import { PodSecurityRefusedError } from "../framework/pod-security.ts";
import { fakeNamespace } from "../framework/testing.ts";
import { applyObject, loadManifests, MANIFESTS_DIR, manifestFiles, referencedSecrets } from "./apply.ts";

/** Every folder under manifests/ that holds YAML files (rbac/ and runner/ are applied by an administrator, not by apply()). */
function manifestFolders(dir: string = MANIFESTS_DIR): string[] {
  const entries = readdirSync(dir, { withFileTypes: true }).filter(
    (e) => !(dir === MANIFESTS_DIR && (e.name === "rbac" || e.name === "runner")),
  );
  const here = entries.some((e) => e.isFile() && /\.ya?ml$/.test(e.name)) ? [relative(MANIFESTS_DIR, dir)] : [];
  return [...here, ...entries.filter((e) => e.isDirectory()).flatMap((e) => manifestFolders(join(dir, e.name)))];
}

/**
 * A sample value ("1": a number, a word and a path segment alike) for every `{{name}}` a folder's manifests
 * take from the test through apply(ns, folder, values), so folders that need values are rendered too.
 */
function sampleValues(folder: string): Record<string, string> {
  const builtIn = new Set(["namespace", "runId", "image"]);
  const names = manifestFiles(folder).flatMap((file) =>
    [...readFileSync(file, "utf8").matchAll(/\{\{\s*([A-Za-z][\w.-]*)\s*\}\}/g)].map((m) => m[1] ?? ""),
  );
  return Object.fromEntries(names.filter((n) => !builtIn.has(n)).map((n) => [n, "1"]));
}

describe("apply", () => {
  test.each(manifestFolders())("should render every shipped manifest in %s", (folder) => {
    const objects = loadManifests(fakeNamespace(), folder, { extra: "x", ...sampleValues(folder) });
    for (const object of objects) expect(object.metadata?.labels?.["k8s-ops-conformance/run-id"]).toBe("unit");
  });

  test("should load the smoke manifests into the test namespace with pinned images", () => {
    const [deployment, service] = loadManifests(fakeNamespace(), "smoke/nginx-service");
    expect(deployment).toMatchObject({ kind: "Deployment", metadata: { name: "web", namespace: "koc-unit-abcde" } });
    expect(JSON.stringify(deployment)).toContain("docker.io/library/nginx:1.27.5");
    expect(service?.kind).toBe("Service");
  });

  test("should say when a manifest path does not exist", () => {
    expect(() => manifestFiles("smoke/nope")).toThrowError(
      'manifest path "smoke/nope" does not exist under manifests/',
    );
  });

  test("should find Secrets referenced by env and envFrom", () => {
    const deployment = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "app" },
      spec: {
        template: {
          spec: {
            containers: [
              {
                name: "c",
                env: [
                  { name: "A", valueFrom: { secretKeyRef: { name: "db", key: "password" } } },
                  { name: "B", valueFrom: { configMapKeyRef: { name: "cm", key: "k" } } },
                ],
                envFrom: [{ secretRef: { name: "api" } }, { configMapRef: { name: "cm" } }],
              },
            ],
          },
        },
      },
    };
    expect(referencedSecrets([deployment])).toEqual(["db", "api"]);
  });

  test("should register a delete for cluster-scoped objects only", async () => {
    const ns = fakeNamespace({ objects: { patch: async (o: unknown) => o } as never });
    await applyObject(ns, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", namespace: ns.name } });
    await applyObject(ns, { apiVersion: "storage.k8s.io/v1", kind: "StorageClass", metadata: { name: "sc-x" } });
    expect(ns.undo).toEqual(["delete StorageClass/sc-x"]);
  });
});

describe("a pod refused by Pod Security admission", () => {
  const PSA = 'pods "writer" is forbidden: violates PodSecurity "baseline:latest": hostPath volumes (volume "data")';
  const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "writer" } };
  /** A namespace whose API refuses every object as Pod Security does, labelled `level`, with the test's skip. */
  const refusing = (level: "privileged" | "baseline", skipped: string[]): TestNamespace => ({
    ...fakeNamespace({
      objects: {
        patch: async () => {
          throw new ApiException(403, "HTTP 403", JSON.stringify({ message: PSA, reason: "Forbidden", code: 403 }), {});
        },
      } as never,
    }),
    podSecurity: level,
    skip: (reason: string): never => {
      skipped.push(reason);
      throw new Error("skipped");
    },
  });

  test("skips a privileged scenario with the admission message", async () => {
    const skipped: string[] = [];
    await expect(applyObject(refusing("privileged", skipped), pod)).rejects.toThrowError("skipped");
    expect(skipped).toEqual([
      `Pod Security forbids what this scenario needs (level privileged, for host access) on this cluster: Pod writer refused: ${PSA}`,
    ]);
  });

  test("fails a scenario declared at a lower level: its own manifests break the declaration", async () => {
    const skipped: string[] = [];
    await expect(applyObject(refusing("baseline", skipped), pod)).rejects.toThrowError(PodSecurityRefusedError);
    await expect(applyObject(refusing("baseline", skipped), pod)).rejects.toThrowError(
      /^Pod writer refused by Pod Security admission in namespace koc-unit-abcde, labelled baseline by the scenario's podSecurity\(\): pods "writer" is forbidden/,
    );
    expect(skipped).toEqual([]);
  });

  test("throws for the caller to handle when asked (an undo step), never skips", async () => {
    const skipped: string[] = [];
    await expect(
      applyObject(refusing("privileged", skipped), pod, { podSecurityRefusal: "throw" }),
    ).rejects.toThrowError(PodSecurityRefusedError);
    expect(skipped).toEqual([]);
  });

  test("passes any other refusal on as it is", async () => {
    const ns = fakeNamespace({
      objects: {
        patch: async () => {
          throw new ApiException(
            403,
            "HTTP 403",
            JSON.stringify({ message: "pods is forbidden: User cannot create" }),
            {},
          );
        },
      } as never,
    });
    await expect(applyObject({ ...ns, podSecurity: "privileged" }, pod)).rejects.toThrowError(ApiException);
  });
});
