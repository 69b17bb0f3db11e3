import { describe, expect, test } from "vitest";
import { ImageError } from "./images.ts";
import { resolveSuiteImage, SUITE_IMAGE_REPOSITORY, suiteImageTag } from "./suite-image.ts";

describe("suite image", () => {
  const v = { version: "0.1.0", commit: "abc123def456" };

  test("should be tagged with the version and the commit", () => {
    expect(suiteImageTag(v)).toBe("0.1.0-abc123def456");
    expect(suiteImageTag({ version: "0.1.0", commit: undefined })).toBe("0.1.0");
  });

  test("should take KOC_IMAGE_SUITE, then the mirror, then the local default", () => {
    expect(resolveSuiteImage(v, {})).toEqual({
      ref: `${SUITE_IMAGE_REPOSITORY}:0.1.0-abc123def456`,
      source: "default",
    });
    expect(resolveSuiteImage(v, { registry: "mirror.local:5000/koc" })).toEqual({
      ref: "mirror.local:5000/koc/k8s-ops-conformance:0.1.0-abc123def456",
      source: "KOC_IMAGE_REGISTRY",
    });
    expect(resolveSuiteImage(v, { registry: "mirror.local", overrides: { SUITE: "reg.example/koc:1.2.3" } })).toEqual({
      ref: "reg.example/koc:1.2.3",
      source: "KOC_IMAGE_SUITE",
    });
  });

  test("should refuse an unpinned KOC_IMAGE_SUITE", () => {
    expect(() => resolveSuiteImage(v, { overrides: { SUITE: "reg.example/koc:latest" } })).toThrowError(ImageError);
  });
});
