import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { UsageError } from "./args.ts";
import { scanSuites } from "./catalog.ts";
import {
  assertBuiltByTestbed,
  assertFromRegistry,
  type ImageLine,
  imageKeysInCode,
  imageKeysInManifest,
  imageKeysUsed,
  showImages,
} from "./images.ts";

const ROOT = join(import.meta.dirname, "..");
const ALL = scanSuites(join(ROOT, "suites")).suites;

describe("images a run uses", () => {
  test("should find image keys in manifests and in code, and nothing else", () => {
    expect(imageKeysInManifest("image: {{image:nginx}}\n  image: {{ image:busybox }}\n image: {{image:nope}}")).toEqual(
      ["nginx", "busybox"],
    );
    expect(imageKeysInCode("setImage(ns, 'web', 'nginx', ns.images.nginxNext); ns.images.other")).toEqual([
      "nginxNext",
    ]);
  });

  test("should follow a suite's code to the manifests it applies, the shared ones included", () => {
    // smoke: nginx in its Deployment, curl in manifests/shared/http-client.yaml (helpers/traffic/exec.ts)
    expect(imageKeysUsed(ROOT, ["smoke"], ALL, false)).toEqual(["nginx", "curl"]);
    // rollouts: the set-image target is named in the scenario's code, the prober pod (nodejs) is shared
    expect(imageKeysUsed(ROOT, ["rollouts"], ALL, false)).toEqual(
      expect.arrayContaining(["nginx", "nginxNext", "nodejs"]),
    );
  });

  test("should add the canaries' images when asked", () => {
    expect(imageKeysUsed(ROOT, ["harness"], ALL, true).length).toBeGreaterThan(
      imageKeysUsed(ROOT, ["harness"], ALL, false).length,
    );
  });
});

describe("images: output and the mirror check", () => {
  const lines: ImageLine[] = [
    { key: "nginx", ref: "mirror.local/library/nginx:1.27.5", source: "KOC_IMAGE_REGISTRY" },
    { key: "suite", ref: "reg.example/koc:1", source: "KOC_IMAGE_SUITE" },
  ];

  test("should print one aligned line per image with its source", () => {
    expect(showImages(lines)).toEqual([
      "nginx  mirror.local/library/nginx:1.27.5  (KOC_IMAGE_REGISTRY)",
      "suite  reg.example/koc:1                  (KOC_IMAGE_SUITE)",
    ]);
  });

  test("should refuse, naming it, the first image from outside the mirror", () => {
    expect(() => assertFromRegistry(lines, undefined)).not.toThrow();
    expect(() => assertFromRegistry(lines.slice(0, 1), "mirror.local")).not.toThrow();
    expect(() => assertFromRegistry(lines, "mirror.local")).toThrowError(UsageError);
    expect(() => assertFromRegistry(lines, "mirror.local")).toThrowError(
      "image suite would come from elsewhere: reg.example/koc:1 (set by KOC_IMAGE_SUITE)",
    );
  });
});

describe("images: the local test bed runs only what it built", () => {
  const testbed = { nginx: "koc.local/nginx:1.22.1-r1", curl: "koc.local/curl:8.14.1-r1" };
  const built: ImageLine[] = [
    { key: "nginx", ref: "koc.local/nginx:1.22.1-r1", source: "test bed ConfigMap" },
    { key: "curl", ref: "koc.local/curl:8.14.1-r1", source: "KOC_IMAGE_CURL" },
    { key: "suite", ref: "koc.local/k8s-ops-conformance:0.1.0-abc", source: "default" },
  ];

  test("should accept the test bed's own images, whoever named them, and its suite image", () => {
    expect(() => assertBuiltByTestbed(built, testbed)).not.toThrow();
  });

  test("should refuse, naming it and the way back, an image a node would have to pull", () => {
    const mirrored: ImageLine = {
      key: "nginx",
      ref: "mirror.invalid/library/nginx:1.27.5",
      source: "KOC_IMAGE_REGISTRY",
    };
    expect(() => assertBuiltByTestbed([mirrored, ...built.slice(1)], testbed)).toThrowError(UsageError);
    expect(() => assertBuiltByTestbed([mirrored], testbed)).toThrowError(
      "the local test bed reaches no registry, and image nginx would be pulled: mirror.invalid/library/nginx:1.27.5 (set by KOC_IMAGE_REGISTRY) is not one it built; unset it to use koc.local/nginx:1.22.1-r1",
    );
    const suite: ImageLine = { key: "suite", ref: "reg.example/koc:1", source: "KOC_IMAGE_SUITE" };
    expect(() => assertBuiltByTestbed([suite], testbed)).toThrowError("reg.example/koc:1 (set by KOC_IMAGE_SUITE)");
  });
});
