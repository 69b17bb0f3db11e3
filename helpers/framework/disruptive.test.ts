import { ApiException } from "@kubernetes/client-node";
import { describe, expect, test } from "vitest";
import { type DisruptiveFacts, DisruptiveLayoutError, disruptiveVerdict, isTestbed } from "./disruptive.ts";
import type { Kube } from "./kube.ts";

const facts = (over: Partial<DisruptiveFacts>): DisruptiveFacts => ({
  title: "should lose hostPath data when drained @disruptive",
  file: "/repo/suites/storage/hostpath-drain.disruptive.e2e.test.ts",
  testbed: false,
  allowed: false,
  context: "prod-eu",
  ...over,
});

describe("the @disruptive rule", () => {
  test("should run disruptive tests on the local test bed without being asked", () => {
    expect(disruptiveVerdict(facts({ testbed: true }))).toEqual({ run: true });
  });

  test("should run them elsewhere only with --disruptive, else skip saying how to enable them", () => {
    expect(disruptiveVerdict(facts({ allowed: true }))).toEqual({ run: true });
    expect(disruptiveVerdict(facts({}))).toEqual({
      run: false,
      reason:
        '@disruptive: changes cluster-scoped state (nodes); context "prod-eu" is not the local test bed, so it runs only with --disruptive (KOC_DISRUPTIVE=1)',
    });
  });

  test("should leave every other test alone", () => {
    const plain = facts({ title: "should bind @smoke", file: "/repo/suites/storage/static-binding.e2e.test.ts" });
    expect(disruptiveVerdict(plain)).toEqual({ run: true });
  });

  test("should refuse a disruptive test outside the serial project, and an untagged one inside it", () => {
    expect(() => disruptiveVerdict(facts({ file: "/repo/suites/storage/drain.e2e.test.ts" }))).toThrowError(
      DisruptiveLayoutError,
    );
    expect(() => disruptiveVerdict(facts({ title: "should drain" }))).toThrowError("its title lacks @disruptive");
  });

  test("should recognise the test bed by its ConfigMap, and treat a missing one as another cluster", async () => {
    const kube = (found: boolean, context: string): Kube =>
      ({
        context,
        core: {
          readNamespacedConfigMap: async () => {
            if (found) return {};
            throw new ApiException(404, "not found", {}, {});
          },
        },
      }) as unknown as Kube;
    expect(await isTestbed(kube(true, "kind-a"))).toBe(true);
    expect(await isTestbed(kube(false, "prod"))).toBe(false);
  });
});
