// Made to fail on purpose: without the EEXIST check (mkdirSync with recursive) the second taker got the
// slot too, and without the liveness check a dead holder kept it forever; both tests went red.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { releaseSlot, type SlotHolder, tryTakeSlot } from "./traffic-slot.ts";

const base = mkdtempSync(join(tmpdir(), "koc-slot-test-"));
const slot = join(base, "slot");
const holder = (token: string, pid = process.pid): SlotHolder => ({ pid, token, what: `test ${token}`, since: 1 });
afterEach(() => rmSync(slot, { recursive: true, force: true }));

describe("the test bed's traffic slot", () => {
  test("one holder at a time; the others see who holds it; released, it is free again", () => {
    expect(tryTakeSlot(slot, holder("a"))).toEqual({ taken: true });
    expect(tryTakeSlot(slot, holder("b"))).toEqual({ taken: false, holder: holder("a") });
    releaseSlot(slot, holder("b")); // not b's to give back
    expect(tryTakeSlot(slot, holder("c")).taken).toBe(false);
    releaseSlot(slot, holder("a"));
    expect(tryTakeSlot(slot, holder("c"))).toEqual({ taken: true });
  });

  test("a holder whose process is gone is taken over; a live one never", () => {
    expect(tryTakeSlot(slot, holder("dead", 999_999))).toEqual({ taken: true });
    expect(tryTakeSlot(slot, holder("b"), () => true).taken).toBe(false);
    expect(tryTakeSlot(slot, holder("b"), (pid) => pid !== 999_999)).toEqual({ taken: true });
  });
});
