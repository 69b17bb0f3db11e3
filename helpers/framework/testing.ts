/**
 * Stand-ins for unit tests of helpers that take a TestNamespace: only the clients a test fills in exist.
 * Not used by scenarios (they get the real thing from the `ns` fixture).
 */

import { DEFAULT_IMAGES } from "./images.ts";
import type { Kube } from "./kube.ts";
import type { TestNamespace } from "./namespace.ts";

type PartialKube = { [K in keyof Kube]?: Partial<Kube[K]> };

export function fakeNamespace(kube: PartialKube = {}, name = "koc-unit-abcde"): TestNamespace & { undo: string[] } {
  const undo: string[] = [];
  return {
    name,
    kube: kube as unknown as Kube,
    images: DEFAULT_IMAGES,
    runId: "unit",
    signal: new AbortController().signal,
    defer: (description) => void undo.push(description),
    undo,
  };
}
