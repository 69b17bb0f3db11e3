import { describe, expect, test } from "vitest";
import { readConfig } from "../helpers/framework/config.ts";
import { chooseTarget } from "./target.ts";

describe("target", () => {
  test("should use the test bed context when neither a context nor a kubeconfig is given (run and cleanup)", () => {
    expect(chooseTarget(readConfig({}))).toEqual({
      kubeconfig: undefined,
      context: "kind-k8s-ops-conformance",
      explicit: false,
    });
  });

  test("should use a given context, and a kubeconfig given alone with its current-context", () => {
    expect(chooseTarget(readConfig({ KOC_CONTEXT: "staging" }))).toMatchObject({ context: "staging", explicit: true });
    expect(chooseTarget(readConfig({ KOC_KUBECONFIG: "/tmp/prod.yaml" }))).toEqual({
      kubeconfig: "/tmp/prod.yaml",
      context: undefined,
      explicit: true,
    });
  });
});
