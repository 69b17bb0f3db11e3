import { describe, expect, it } from "vitest";
import { cephLayout, cephPort } from "./ceph.ts";

describe("cephLayout", () => {
  it("gives two test beds their own container, data directory and ports", () => {
    const shared = cephLayout("k8s-ops-conformance", "/cache");
    const second = cephLayout("ceph", "/cache");
    expect(shared.container).not.toBe(second.container);
    expect(shared.data).not.toBe(second.data);
    // each test bed uses port..port+99: the ranges must not overlap
    expect(Math.abs(shared.port - second.port)).toBeGreaterThanOrEqual(100);
  });

  it("keeps a test bed's ports stable and below the ephemeral range", () => {
    for (const name of ["k8s-ops-conformance", "ceph", "hostnet", "x"]) {
      const port = cephPort(name);
      expect(port).toBe(cephPort(name));
      expect(port % 100).toBe(0);
      expect(port).toBeGreaterThanOrEqual(20_000);
      expect(port + 99).toBeLessThan(32_768);
    }
  });
});
