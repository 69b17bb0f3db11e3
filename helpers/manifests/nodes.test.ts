import type { KubernetesObject, V1Node } from "@kubernetes/client-node";
import { describe, expect, test } from "vitest";
import { fakeNamespace } from "../framework/testing.ts";
import { cordon } from "./nodes.ts";

function cluster(unschedulable: boolean | undefined) {
  const node: V1Node = { metadata: { name: "w1" }, spec: { unschedulable } };
  const patches: unknown[] = [];
  const ns = fakeNamespace({
    core: { readNode: async () => structuredClone(node) },
    objects: {
      patch: async <T extends KubernetesObject>(object: T): Promise<T> => {
        const spec = (object as V1Node).spec ?? {};
        patches.push(spec.unschedulable);
        node.spec = { unschedulable: spec.unschedulable ?? undefined };
        return object;
      },
    },
  });
  return { ns, patches };
}

describe("cordon", () => {
  test("should register the uncordon before cordoning", async () => {
    const { ns, patches } = cluster(undefined);
    await cordon(ns, "w1");
    expect(ns.undo).toEqual(["uncordon node w1"]);
    expect(patches).toEqual([true]);
  });

  test("should leave a node alone that someone else cordoned", async () => {
    const { ns, patches } = cluster(true);
    await expect(cordon(ns, "w1")).rejects.toThrowError("node w1 is already cordoned by someone else");
    expect(ns.undo).toEqual([]);
    expect(patches).toEqual([]);
  });
});
