// Made to fail on purpose: returning REMOTE_WORKERS for the local test bed failed the first two tests.
import { describe, expect, test } from "vitest";
import { chooseWorkers, REMOTE_WORKERS } from "./workers.ts";

describe("how many test files run at once", () => {
  test("on the local test bed, one per host core: its nodes run on them", () => {
    expect(chooseWorkers({ given: undefined, cores: 2, testbedHere: true }).workers).toBe(2);
    expect(chooseWorkers({ given: undefined, cores: 1, testbedHere: true }).workers).toBe(1);
  });

  test("never more than against a remote cluster, and the banner says why", () => {
    const choice = chooseWorkers({ given: undefined, cores: 32, testbedHere: true });
    expect(choice.workers).toBe(REMOTE_WORKERS);
    expect(choice.why).toMatch(/32 core\(s\)/);
  });

  test("a remote cluster keeps 4 files going, whatever this host has", () => {
    expect(chooseWorkers({ given: undefined, cores: 2, testbedHere: false }).workers).toBe(REMOTE_WORKERS);
  });

  test("KOC_MAX_WORKERS wins, and is named as the reason", () => {
    expect(chooseWorkers({ given: "3", cores: 2, testbedHere: true })).toEqual({ workers: 3, why: "KOC_MAX_WORKERS" });
    expect(chooseWorkers({ given: " ", cores: 2, testbedHere: false }).workers).toBe(REMOTE_WORKERS);
  });
});
