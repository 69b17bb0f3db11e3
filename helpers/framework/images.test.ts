import { describe, expect, test } from "vitest";
import {
  assertPinned,
  DEFAULT_IMAGES,
  envSuffix,
  fromRegistry,
  ImageError,
  resolveImageSources,
  resolveImages,
  withRegistry,
} from "./images.ts";

describe("images", () => {
  test("should pin every default image to a version tag", () => {
    for (const [key, ref] of Object.entries(DEFAULT_IMAGES)) expect(() => assertPinned(ref, key)).not.toThrow();
    expect(DEFAULT_IMAGES.nginx).not.toBe(DEFAULT_IMAGES.nginxNext);
  });

  test.each([
    ["nginx:latest", "uses :latest"],
    ["docker.io/library/nginx", "has no tag"],
    ["localhost:5000/nginx", "has no tag"],
    ["", "is not an image reference"],
  ])("should refuse the unpinned reference %j", (ref, message) => {
    expect(() => assertPinned(ref, "test")).toThrowError(message);
  });

  test("should accept digests and registry ports", () => {
    expect(assertPinned("localhost:5000/nginx@sha256:abc", "t")).toBe("localhost:5000/nginx@sha256:abc");
    expect(assertPinned("localhost:5000/nginx:1.2", "t")).toBe("localhost:5000/nginx:1.2");
  });

  test("should replace the registry and keep the repository path", () => {
    expect(withRegistry("docker.io/library/nginx:1.27.5", "mirror.local:5000")).toBe(
      "mirror.local:5000/library/nginx:1.27.5",
    );
    expect(withRegistry("docker.io/curlimages/curl:8.14.1", "m.example/hub")).toBe(
      "m.example/hub/curlimages/curl:8.14.1",
    );
    expect(withRegistry("busybox:1.37.0", "m.example")).toBe("m.example/busybox:1.37.0");
  });

  test("should map keys to KOC_IMAGE_ suffixes", () => {
    expect(envSuffix("nginxNext")).toBe("NGINX_NEXT");
    expect(envSuffix("curl")).toBe("CURL");
  });

  test("should prefer per-key env over the registry, the registry over the test bed, the test bed over defaults", () => {
    const testbed = { nginx: "koc.local/nginx:1.22.1-r1", busybox: "koc.local/busybox:1.35.0", extra: "x:1" };
    expect(resolveImages({})).toEqual(DEFAULT_IMAGES);
    expect(resolveImages({ testbed })).toMatchObject({
      nginx: testbed.nginx,
      busybox: testbed.busybox,
      curl: DEFAULT_IMAGES.curl,
    });
    expect(resolveImages({ testbed, registry: "mirror.local" }).nginx).toBe("mirror.local/library/nginx:1.27.5");
    expect(resolveImages({ testbed, registry: "mirror.local", overrides: { NGINX: "own/nginx:9" } }).nginx).toBe(
      "own/nginx:9",
    );
  });

  test("should reject an override for an unknown image and an unpinned test bed reference", () => {
    expect(() => resolveImages({ overrides: { NGNIX: "x:1" } })).toThrowError(
      "KOC_IMAGE_NGNIX names no image; known: KOC_IMAGE_NGINX",
    );
    expect(() => resolveImages({ overrides: { NGINX: "nginx:latest" } })).toThrowError(ImageError);
    expect(() => resolveImages({ testbed: { curl: "koc.local/curl" } })).toThrowError(
      "ConfigMap k8s-ops-conformance-images key curl",
    );
  });
});

describe("image sources", () => {
  test("should say where each reference came from", () => {
    const resolved = resolveImageSources({
      testbed: { busybox: "koc.local/busybox:1.35.0" },
      overrides: { NGINX_NEXT: "own/nginx:9" },
    });
    expect(resolved.nginxNext).toEqual({ ref: "own/nginx:9", source: "KOC_IMAGE_NGINX_NEXT" });
    expect(resolved.busybox).toEqual({ ref: "koc.local/busybox:1.35.0", source: "test bed ConfigMap" });
    expect(resolved.curl).toEqual({ ref: DEFAULT_IMAGES.curl, source: "default" });
    expect(resolveImageSources({ registry: "m.local" }).nginx.source).toBe("KOC_IMAGE_REGISTRY");
  });

  test("should accept KOC_IMAGE_SUITE, read by the suite image", () => {
    expect(() => resolveImageSources({ overrides: { SUITE: "reg/koc:1" } })).not.toThrow();
  });

  test("should tell an image of the mirror from one elsewhere", () => {
    expect(fromRegistry("mirror.local:5000/library/nginx:1", "mirror.local:5000")).toBe(true);
    expect(fromRegistry("mirror.local:5000/library/nginx:1", "mirror.local:5000/")).toBe(true);
    expect(fromRegistry("mirror.local:50001/library/nginx:1", "mirror.local:5000")).toBe(false);
    expect(fromRegistry("docker.io/library/nginx:1", "mirror.local")).toBe(false);
  });
});
