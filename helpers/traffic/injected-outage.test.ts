import { describe, expect, test } from "vitest";
import { outageSlots, outageStart } from "./injected-outage.ts";

describe("injected outage slots", () => {
  test("a 300 ms outage is three tenth-of-a-second files, as nginx's $msec cut to one decimal names them", () => {
    expect(outageSlots(1764455000100, 300)).toEqual(["1764455000.1", "1764455000.2", "1764455000.3"]);
  });

  test("an outage across a second boundary names both seconds", () => {
    expect(outageSlots(1764455000900, 300)).toEqual(["1764455000.9", "1764455001.0", "1764455001.1"]);
  });

  test("the start is the first tenth at least the lead ahead", () => {
    expect(outageStart(1764455000123, 3000)).toBe(1764455003200);
    expect(outageStart(1764455000100, 3000)).toBe(1764455003100);
  });

  test("an outage that is not whole tenths is refused, not rounded", () => {
    expect(() => outageSlots(1764455000150, 300)).toThrow(RangeError);
    expect(() => outageSlots(1764455000100, 250)).toThrow(RangeError);
    expect(() => outageSlots(1764455000100, 0)).toThrow(RangeError);
  });
});
