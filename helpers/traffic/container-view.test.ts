import { describe, expect, test } from "vitest";
import { layoutScript, parseDigest, parseLayout, sha256, showLayout, TIMESTAMPED_DIR } from "./container-view.ts";

describe("container view", () => {
  test("should compute the digest sha256sum prints", () => {
    // printf %s abc | sha256sum
    expect(sha256("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });

  test("should read the digest from sha256sum output and refuse anything else", () => {
    const hex = sha256("x");
    expect(parseDigest(`${hex}  /etc/secret/password\n`)).toBe(hex);
    expect(parseDigest(`${hex}  -`)).toBe(hex);
    expect(() => parseDigest("sha256sum: /etc/secret/password: No such file or directory")).toThrowError(
      'not sha256sum output: "sha256sum: /etc/secret/password: No such file or directory"',
    );
  });

  test("should parse an atomic-writer volume listing", () => {
    const output = [
      "dir ..2026_11_28_18_45_12.3309175062",
      "link ..data ..2026_11_28_18_45_12.3309175062",
      "link password ..data/password",
      "link username ..data/username",
      "data password 440",
      "data username 440",
      "",
    ].join("\n");
    const layout = parseLayout(output);
    expect(layout).toEqual({
      links: {
        "..data": "..2026_11_28_18_45_12.3309175062",
        password: "..data/password",
        username: "..data/username",
      },
      dirs: ["..2026_11_28_18_45_12.3309175062"],
      files: [],
      dataFiles: { password: "440", username: "440" },
    });
    expect(showLayout(layout)).toBe(
      "..data -> ..2026_11_28_18_45_12.3309175062; password -> ..data/password; username -> ..data/username; " +
        "dirs: ..2026_11_28_18_45_12.3309175062; ..data/password 440; ..data/username 440",
    );
  });

  test("should list plain files and refuse lines it does not understand", () => {
    expect(parseLayout("file nginx.conf\n").files).toEqual(["nginx.conf"]);
    expect(() => parseLayout("total 0")).toThrowError('unexpected line in a volume listing: "total 0"');
  });

  test("should recognise timestamped directory names only", () => {
    expect("..2026_11_28_18_45_12.3309175062").toMatch(TIMESTAMPED_DIR);
    expect("..data").not.toMatch(TIMESTAMPED_DIR);
    expect("2026_11_28_18_45_12.1").not.toMatch(TIMESTAMPED_DIR);
  });

  test("should build a listing script for the given directory", () => {
    expect(layoutScript("/etc/secrets")).toMatch(/^cd '\/etc\/secrets' \|\| exit 1\n/);
  });
});
