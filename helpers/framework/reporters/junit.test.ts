import { describe, expect, test } from "vitest";
import { escapeXml, renderJUnit } from "./junit.ts";

describe("JUnit XML", () => {
  const xml = renderJUnit([
    {
      name: "suites/smoke/nginx-service.e2e.test.ts",
      cases: [
        {
          classname: "suites/smoke/nginx-service.e2e.test.ts",
          name: "Smoke > should answer",
          seconds: 2.5,
          outcome: { kind: "passed" },
        },
        {
          classname: "suites/storage/rwx.e2e.test.ts",
          name: "Storage > should share a volume",
          seconds: 0.1,
          outcome: {
            kind: "skipped",
            message: "needs a StorageClass with a provisioner matching /cephfs/; cluster has: standard",
          },
        },
        {
          classname: "c",
          name: "Probes > should restart",
          seconds: 60,
          outcome: {
            kind: "failed",
            failures: [{ message: "Timed out <after> 60s", type: "WaitTimeoutError", detail: "stack & more" }],
          },
        },
      ],
    },
  ]);

  test("should name each test case <describe> > <test>", () => {
    expect(xml).toContain(
      '<testcase classname="suites/smoke/nginx-service.e2e.test.ts" name="Smoke &gt; should answer" time="2.500"/>',
    );
  });

  test("should carry the skip reason", () => {
    expect(xml).toContain(
      '<skipped message="needs a StorageClass with a provisioner matching /cephfs/; cluster has: standard"/>',
    );
  });

  test("should carry failures with escaped message and detail", () => {
    expect(xml).toContain(
      '<failure message="Timed out &lt;after&gt; 60s" type="WaitTimeoutError">stack &amp; more</failure>',
    );
  });

  test("should count tests, failures and skips", () => {
    expect(xml).toContain(
      '<testsuites name="k8s-ops-conformance" tests="3" failures="1" errors="0" skipped="1" time="62.600">',
    );
  });

  test("should drop characters XML cannot carry", () => {
    expect(escapeXml("a\u0000b\u001bc\"'")).toBe("abc&quot;&apos;");
  });
});
