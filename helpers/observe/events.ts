/**
 * The events the cluster recorded about one pod (kubelet probe failures and kills, config errors, ...),
 * read with a field selector, and a Check that waits until the wanted ones appear.
 *
 *   await waitFor("pod web's liveness restart events", podEvents(ns, "web", LIVENESS_RESTART_EVENTS), T.podStart);
 *
 * Failure diagnostics list every event of a namespace instead (framework/diagnostics.ts); both print
 * events the same way (formatEvents).
 */
import type { CoreV1Event } from "@kubernetes/client-node";
import { formatEvents } from "../framework/diagnostics.ts";
import type { TestNamespace } from "../framework/namespace.ts";
import type { Check } from "../framework/wait.ts";

/** An event that must have been recorded: its reason, and a piece of its message. */
export interface EventWanted {
  reason: string;
  message: string;
}

/** The events matching `wanted` (reason equal, message containing the text). */
export function findEvents(events: readonly CoreV1Event[], wanted: EventWanted): CoreV1Event[] {
  return events.filter((e) => e.reason === wanted.reason && (e.message ?? "").includes(wanted.message));
}

/** Every event recorded about pod `pod` of the test's namespace. */
export async function listPodEvents(ns: TestNamespace, pod: string): Promise<CoreV1Event[]> {
  const found = await ns.kube.core.listNamespacedEvent({
    namespace: ns.name,
    fieldSelector: `involvedObject.kind=Pod,involvedObject.name=${pod}`,
  });
  return found.items;
}

/** A Check: every one of `wanted` appears among the events of pod `pod`; shows what is missing and what was seen. */
export function podEvents(ns: TestNamespace, pod: string, wanted: readonly EventWanted[]): Check<CoreV1Event[]> {
  return {
    observe: () => listPodEvents(ns, pod),
    ok: (events) => wanted.every((w) => findEvents(events, w).length > 0),
    show: (events) => {
      const missing = wanted.filter((w) => findEvents(events, w).length === 0);
      const names = missing.map((w) => `${w.reason} "${w.message}"`).join(", ");
      return `missing ${names || "nothing"}; events of pod ${pod}:\n${formatEvents(events)}`;
    },
  };
}
