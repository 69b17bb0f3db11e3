import type { V1Status } from "@kubernetes/client-node";
import { describe, expect, test } from "vitest";
import { exitCodeOf, parseCurlOutput, showHttp } from "./exec.ts";

describe("exec results", () => {
  test("should read the exit code from the exec status", () => {
    expect(exitCodeOf({ status: "Success" })).toBe(0);
    const failed: V1Status = {
      status: "Failure",
      reason: "NonZeroExitCode",
      message: "command terminated with non-zero exit code",
      details: { causes: [{ reason: "ExitCode", message: "7" }] },
    };
    expect(exitCodeOf(failed)).toBe(7);
  });

  test("should throw when exec itself failed (no exit code)", () => {
    expect(() =>
      exitCodeOf({ status: "Failure", reason: "InternalError", message: "container not found" }),
    ).toThrowError("exec failed: InternalError: container not found");
  });

  test("should split curl's output into body and status", () => {
    expect(parseCurlOutput({ stdout: "<h1>hi</h1>\n\n__koc_http_status__=200", stderr: "", exitCode: 0 })).toEqual({
      status: 200,
      body: "<h1>hi</h1>\n",
      error: "",
    });
  });

  test("should report curl's own error with status 0", () => {
    const refused = parseCurlOutput({
      stdout: "\n__koc_http_status__=000",
      stderr: "curl: (7) Failed to connect to 10.96.0.12 port 80: Connection refused\n",
      exitCode: 7,
    });
    expect(refused).toEqual({
      status: 0,
      body: "",
      error: "curl exit 7: curl: (7) Failed to connect to 10.96.0.12 port 80: Connection refused",
    });
    expect(showHttp(refused)).toBe(refused.error);
    expect(showHttp({ status: 503, body: "unavailable", error: "" })).toBe("HTTP 503, body: unavailable");
  });
});
