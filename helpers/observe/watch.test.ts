import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, test } from "vitest";
import { ObjectCache } from "./watch.ts";

const pod = (name: string, rv: string): V1Pod => ({ metadata: { name, uid: name, resourceVersion: rv } });

describe("watch cache", () => {
  test("tracks current objects and remembers deleted ones", () => {
    const cache = new ObjectCache<V1Pod>();
    cache.reset([pod("a", "1"), pod("b", "1")]);
    cache.apply({ type: "MODIFIED", object: pod("a", "2") });
    cache.apply({ type: "DELETED", object: pod("b", "3") });
    expect(cache.current().map((p) => `${p.metadata?.name}@${p.metadata?.resourceVersion}`)).toEqual(["a@2"]);
    expect(cache.everSeen().map((p) => p.metadata?.name)).toEqual(["a", "b"]);
    cache.reset([pod("c", "4")]);
    expect(cache.current().map((p) => p.metadata?.name)).toEqual(["c"]);
  });
});
