import { gzipSync } from "node:zlib";
import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, test } from "vitest";
import { newestFinished, RESULTS_BEGIN, RESULTS_END, resultsBlock } from "./results.ts";

describe("nightly results kept in the pod log", () => {
  const archive = gzipSync(Buffer.from("pretend tar"));
  const base64 = archive.toString("base64").replace(/(.{20})/g, "$1\n");

  test("should read the last results block and its exit code", () => {
    const log = `✓ a test\n${RESULTS_BEGIN}\nold\n${RESULTS_END} 0\nmore\n${RESULTS_BEGIN}\n${base64}\n${RESULTS_END} 1\n`;
    const block = resultsBlock(log);
    expect(block?.exitCode).toBe(1);
    expect(block?.archive.equals(archive)).toBe(true);
  });

  test("should say there is none when the block is missing or cut short", () => {
    expect(resultsBlock("✓ a test\n")).toBeUndefined();
    expect(resultsBlock(`${RESULTS_BEGIN}\n${base64}`)).toBeUndefined();
  });

  test("should pick the newest finished nightly pod", () => {
    const pod = (name: string, phase: string, start: string): V1Pod => ({
      metadata: { name },
      status: { phase, startTime: new Date(start) },
    });
    const pods = [
      pod("n1", "Succeeded", "2026-12-01T02:17:00Z"),
      pod("n3", "Running", "2026-12-03T02:17:00Z"),
      pod("n2", "Failed", "2026-12-02T02:17:00Z"),
    ];
    expect(newestFinished(pods)?.metadata?.name).toBe("n2");
    expect(newestFinished([pods[1] as V1Pod])).toBeUndefined();
  });
});
