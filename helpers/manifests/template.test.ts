import type { KubernetesObject } from "@kubernetes/client-node";
import { describe, expect, test } from "vitest";
import { DEFAULT_IMAGES } from "../framework/images.ts";
import { containerImages, ManifestError, parseManifests, prepareObjects, renderTemplate } from "./template.ts";

const vars = { images: DEFAULT_IMAGES, values: { namespace: "koc-x-abcde", runId: "r1" } };
const options = { namespace: "koc-x-abcde", labels: { team: "koc" }, images: DEFAULT_IMAGES, source: "x/y.yaml" };

describe("manifest templates", () => {
  test("should fill image keys and values", () => {
    expect(renderTemplate("image: {{image:nginx}} # {{ namespace }} {{runId}}", vars, "s")).toBe(
      `image: ${DEFAULT_IMAGES.nginx} # koc-x-abcde r1`,
    );
  });

  test("should name the file and the known keys for an unknown placeholder", () => {
    expect(() => renderTemplate("{{nmespace}}", vars, "smoke/a.yaml")).toThrowError(
      "smoke/a.yaml: unknown placeholder {{nmespace}}; known: namespace, runId, image:<key>",
    );
    expect(() => renderTemplate("{{image:ngnix}}", vars, "smoke/a.yaml")).toThrowError(
      "smoke/a.yaml: unknown image key in {{image:ngnix}}; known: nginx, nginxNext, busybox, curl",
    );
    expect(() => renderTemplate("{{ oops", vars, "a.yaml")).not.toThrow(); // no closing braces: not a placeholder
    expect(() => renderTemplate("{{ bad value }}", vars, "a.yaml")).toThrowError(
      'a.yaml: malformed placeholder "{{ bad value }}"',
    );
  });

  test("should parse multi-document YAML and skip empty documents", () => {
    const objects = parseManifests("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n---\n", "f.yaml");
    expect(objects).toEqual([{ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a" } }]);
  });

  test("should reject invalid YAML and documents without a name", () => {
    expect(() => parseManifests("a: [", "f.yaml")).toThrowError(/^f\.yaml: invalid YAML/);
    expect(() => parseManifests("apiVersion: v1\nkind: Pod\n", "f.yaml")).toThrowError(
      "f.yaml: every document needs apiVersion, kind and metadata.name",
    );
  });

  test("should put namespaced objects in the test namespace and label everything, pod templates too", () => {
    const [deployment, pv] = prepareObjects(
      [
        {
          apiVersion: "apps/v1",
          kind: "Deployment",
          metadata: { name: "web", labels: { app: "web" } },
          spec: { template: { metadata: { labels: { app: "web" } } } },
        } as KubernetesObject,
        { apiVersion: "v1", kind: "PersistentVolume", metadata: { name: "pv-koc-x-abcde" } },
      ],
      options,
    );
    expect(deployment?.metadata).toEqual({
      name: "web",
      namespace: "koc-x-abcde",
      labels: { app: "web", team: "koc" },
    });
    expect((deployment as { spec: { template: { metadata: unknown } } }).spec.template.metadata).toEqual({
      labels: { app: "web", team: "koc" },
    });
    expect(pv?.metadata).toEqual({ name: "pv-koc-x-abcde", labels: { team: "koc" } });
  });

  test("should refuse namespaces in manifests, Namespace objects and images not from the table", () => {
    const cm = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", namespace: "default" } };
    expect(() => prepareObjects([cm], options)).toThrowError("x/y.yaml: ConfigMap c: remove metadata.namespace");
    const ns = { apiVersion: "v1", kind: "Namespace", metadata: { name: "n" } };
    expect(() => prepareObjects([ns], options)).toThrowError(ManifestError);
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "p" },
      spec: { containers: [{ name: "c", image: "nginx:latest" }] },
    };
    expect(() => prepareObjects([pod as KubernetesObject], options)).toThrowError(
      'x/y.yaml: Pod p: image "nginx:latest" is not from helpers/framework/images.ts; write {{image:<key>}}',
    );
  });

  test("should find container images in pods, pod templates and CronJob job templates", () => {
    const spec = { containers: [{ image: "a:1" }], initContainers: [{ image: "b:1" }] };
    expect(containerImages({ kind: "Pod", spec } as KubernetesObject)).toEqual(["a:1", "b:1"]);
    expect(containerImages({ kind: "Deployment", spec: { template: { spec } } } as KubernetesObject)).toEqual([
      "a:1",
      "b:1",
    ]);
    const cronJob = { kind: "CronJob", spec: { jobTemplate: { spec: { template: { spec } } } } };
    expect(containerImages(cronJob as KubernetesObject)).toEqual(["a:1", "b:1"]);
    expect(containerImages({ kind: "ConfigMap" } as KubernetesObject)).toEqual([]);
  });
});
