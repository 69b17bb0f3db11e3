import { describe, expect, test } from "vitest";
import { ipInCidr, ipv4ToNumber, isIpv4Cidr } from "./cidr.ts";

describe("IPv4 CIDR", () => {
  test("membership", () => {
    expect(ipInCidr("172.19.0.3", "172.19.0.0/16")).toBe(true);
    expect(ipInCidr("172.20.0.3", "172.19.0.0/16")).toBe(false);
    expect(ipInCidr("10.1.2.3", "10.1.2.0/31")).toBe(false);
    expect(ipInCidr("10.1.2.1", "10.1.2.0/31")).toBe(true);
    expect(ipInCidr("8.8.8.8", "0.0.0.0/0")).toBe(true);
    expect(ipInCidr("172.19.0.1", "172.19.0.1/32")).toBe(true);
  });

  test("anything unparsable is outside", () => {
    expect(ipInCidr("fd00::1", "172.19.0.0/16")).toBe(false);
    expect(ipInCidr("172.19.0.3", "nonsense")).toBe(false);
    expect(ipInCidr("172.19.0.3", "172.19.0.0/33")).toBe(false);
    expect(ipInCidr("172.19.0.3", "172.19.0.0")).toBe(false);
    expect(ipInCidr("172.19.0.256", "172.19.0.0/16")).toBe(false);
  });

  test("parsing", () => {
    expect(ipv4ToNumber("0.0.1.2")).toBe(258);
    expect(ipv4ToNumber("1.2.3")).toBeUndefined();
    expect(isIpv4Cidr("10.96.0.0/16")).toBe(true);
    expect(isIpv4Cidr("10.96.0.0/16/1")).toBe(false);
    expect(isIpv4Cidr("fd00::/64")).toBe(false);
  });
});
