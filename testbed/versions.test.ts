/**
 * The test bed's version table (versions.ts): every supported minor has every pin, well formed and
 * belonging to that minor; the default is the newest minor; selection by minor or pinned version, and an
 * unknown one refused naming the supported ones. The README's versions table and the versions workflow's
 * matrix must name exactly the table's minors.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { parse } from "yaml";
import {
  DEFAULT_MINOR,
  MINOR_PINS,
  MINORS,
  minorOf,
  SHARED,
  selectVersions,
  shellExports,
  supportedMinors,
  UnsupportedVersionError,
} from "./versions.ts";

const ROOT = join(import.meta.dirname, "..");
const SEMVER = /^v\d+\.\d+\.\d+$/;
const WELL_FORMED: Record<(typeof MINOR_PINS)[number], RegExp> = {
  KUBERNETES_VERSION: SEMVER,
  KUBERNETES_STAGING_VERSION: /^v0\.\d+\.\d+$/,
  ETCD_VERSION: /^v3\.\d+\.\d+$/,
  ETCD_IMAGE_TAG: /^3\.\d+\.\d+-\d+$/,
  COREDNS_VERSION: SEMVER,
  PAUSE_IMAGE_TAG: /^\d+\.\d+(\.\d+)?$/,
  CRICTL_VERSION: SEMVER,
};

describe("the version table", () => {
  test("should list at least three minors, each a 1.x key", () => {
    expect(supportedMinors().length).toBeGreaterThanOrEqual(3);
    for (const minor of supportedMinors()) expect(minor).toMatch(/^1\.\d+$/);
  });

  test.each(Object.keys(MINORS))("minor %s should have every pin, well formed", (minor) => {
    const pins = MINORS[minor] ?? {};
    expect(Object.keys(pins).sort()).toEqual([...MINOR_PINS].sort());
    for (const name of MINOR_PINS) expect(pins[name as keyof typeof pins], name).toMatch(WELL_FORMED[name]);
  });

  test.each(Object.keys(MINORS))("minor %s should pin a patch of itself, with the same staging patch", (minor) => {
    const pins = MINORS[minor];
    expect(minorOf(pins?.KUBERNETES_VERSION ?? "")).toBe(minor);
    expect(pins?.KUBERNETES_STAGING_VERSION).toBe(pins?.KUBERNETES_VERSION.replace(/^v1\./, "v0."));
    // the etcd image is the etcd module built here, tagged as kubeadm names it
    expect(pins?.ETCD_IMAGE_TAG.split("-")[0]).toBe(pins?.ETCD_VERSION.slice(1));
  });

  test("should make the newest minor the default", () => {
    const newest = Math.max(...Object.keys(MINORS).map((m) => Number(m.split(".")[1])));
    expect(DEFAULT_MINOR).toBe(`1.${newest}`);
    expect(selectVersions().KUBERNETES_MINOR).toBe(DEFAULT_MINOR);
    expect(selectVersions("").KUBERNETES_MINOR).toBe(DEFAULT_MINOR);
  });

  test("should pin the shared versions well formed", () => {
    expect(SHARED.KIND_VERSION).toMatch(SEMVER);
    expect(SHARED.LOCAL_PATH_PROVISIONER_VERSION).toMatch(SEMVER);
    expect(SHARED.DEBIAN_SUITE).toMatch(/^[a-z]+$/);
  });
});

describe("selecting a minor", () => {
  const [oldest = ""] = supportedMinors();
  const pinned = MINORS[oldest]?.KUBERNETES_VERSION ?? "";

  test("should take a minor, with or without v, and a pinned version, with or without v", () => {
    for (const request of [oldest, `v${oldest}`, pinned, pinned.slice(1), ` ${oldest} `]) {
      const v = selectVersions(request);
      expect(v.KUBERNETES_MINOR, request).toBe(oldest);
      expect(v.KUBERNETES_VERSION).toBe(pinned);
      expect(v.KIND_VERSION).toBe(SHARED.KIND_VERSION);
    }
  });

  test("should refuse an unknown minor in one line naming the supported ones", () => {
    for (const request of ["1.20", "1.99", "2.0", "latest", "1", "v1.36.x"]) {
      expect(() => selectVersions(request), request).toThrowError(UnsupportedVersionError);
      try {
        selectVersions(request);
      } catch (e) {
        const message = (e as Error).message;
        expect(message).not.toContain("\n");
        for (const minor of supportedMinors()) expect(message).toContain(minor);
      }
    }
  });

  test("should refuse a patch of a supported minor other than the pinned one", () => {
    const other = pinned.replace(/\.\d+$/, ".999");
    expect(() => selectVersions(other)).toThrowError(`is not the pinned patch of ${oldest} (${pinned})`);
  });

  test("should give the build scripts every pin as a shell export", () => {
    const out = shellExports(selectVersions(oldest));
    for (const name of [...MINOR_PINS, ...Object.keys(SHARED), "KUBERNETES_MINOR"]) {
      expect(out).toMatch(new RegExp(`^export ${name}='[^']+'$`, "m"));
    }
  });

  test("should print the selected row for a shell, and exit 2 on an unknown minor", () => {
    const script = join(ROOT, "testbed", "versions.ts");
    const env = { ...process.env, KOC_KUBERNETES: oldest };
    expect(execFileSync(process.execPath, [script, "env"], { env, encoding: "utf8" })).toContain(
      `export KUBERNETES_VERSION='${pinned}'`,
    );
    let status = 0;
    try {
      execFileSync(process.execPath, [script, "env", "1.20"], { stdio: "pipe" });
    } catch (e) {
      status = (e as { status: number }).status;
    }
    expect(status).toBe(2);
  });
});

describe("what names the supported minors besides the table", () => {
  test("README's versions table should list exactly the table's minors and pins", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const rows = [...readme.matchAll(/^\| (1\.\d+) +\| (v\S+) +\| (\S+) +\| (\S+) +\| (\S+) +\| (\S+) +\|/gm)];
    expect(rows.map((r) => r[1]).sort()).toEqual(supportedMinors().sort());
    for (const [, minor = "", version, etcd, coredns, pause, crictl] of rows) {
      const pins = MINORS[minor];
      expect([version, etcd, coredns, pause, crictl], minor).toEqual([
        pins?.KUBERNETES_VERSION,
        pins?.ETCD_IMAGE_TAG,
        pins?.COREDNS_VERSION,
        pins?.PAUSE_IMAGE_TAG,
        pins?.CRICTL_VERSION,
      ]);
    }
  });

  test("the versions workflow's matrix should be exactly the table's minors", () => {
    const workflow = parse(readFileSync(join(ROOT, ".github", "workflows", "versions.yml"), "utf8")) as {
      jobs: Record<string, { strategy?: { matrix?: { kubernetes?: string[] } } }>;
    };
    const matrices = Object.values(workflow.jobs).map((job) => job.strategy?.matrix?.kubernetes);
    expect(matrices).toContainEqual(supportedMinors());
  });
});
