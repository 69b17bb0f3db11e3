/**
 * Watching objects when the watch is the subject under test: every event, not a poll tick (anything else polls
 * with waitFor).
 *
 *   const pods = watchObjects<V1Pod>(ns.kube, `/api/v1/namespaces/${ns.name}/pods`, { labelSelector: "app=web" },
 *     (event) => timeline.record(stateOf(pods.current())));
 *   ... act ...
 *   await pods.stop();
 *
 * Like an informer: it lists first (the cache then holds the existing objects, and `connected` resolves),
 * then watches from the list's resourceVersion. client-node ends a watch after 30 s without events (and
 * the server after its own timeout): the helper re-watches from the last resourceVersion it saw, and after
 * 410 Gone lists again. Errors other than those end the watch and are thrown by stop().
 */
import { type KubernetesObject, Watch } from "@kubernetes/client-node";
import type { Kube } from "../framework/kube.ts";

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED";

export interface WatchEvent<T extends KubernetesObject> {
  type: WatchEventType;
  object: T;
}

/** What a watch knows: the objects now, and every object it ever saw (its last state, deleted ones too). */
export class ObjectCache<T extends KubernetesObject> {
  readonly #current = new Map<string, T>();
  readonly #ever = new Map<string, T>();

  apply(event: WatchEvent<T>): void {
    const key = event.object.metadata?.uid ?? event.object.metadata?.name ?? "";
    this.#ever.set(key, event.object);
    if (event.type === "DELETED") this.#current.delete(key);
    else this.#current.set(key, event.object);
  }

  /** Replaces the current objects with a fresh list. */
  reset(items: readonly T[]): void {
    this.#current.clear();
    for (const object of items) this.apply({ type: "ADDED", object });
  }

  current(): T[] {
    return [...this.#current.values()];
  }

  everSeen(): T[] {
    return [...this.#ever.values()];
  }
}

export interface ObjectWatch<T extends KubernetesObject> {
  readonly cache: ObjectCache<T>;
  /** Resolves when the first list is in the cache and the watch is connected. */
  readonly connected: Promise<void>;
  /** Settles when the watch has ended: resolves after stop(), rejects with the error that ended it early. */
  readonly ended: Promise<void>;
  /** Ends the watch; throws the error that ended it early, if any. */
  stop(): Promise<void>;
}

interface StatusObject {
  code?: number;
  message?: string;
}

/** The error an ERROR event means; undefined for 410 Gone, which only means "list again". */
function watchError(path: string, status: StatusObject): Error | undefined {
  if (status.code === 410) return undefined;
  return new Error(`watch ${path}: ${status.code ?? ""} ${status.message ?? "error event"}`);
}

export interface ListResult<T> {
  items: T[];
  metadata?: { resourceVersion?: string | undefined } | undefined;
}

/**
 * Lists with `list`, then watches `path` (the same collection, e.g. /apis/apps/v1/namespaces/ns/replicasets,
 * with the same selectors in `query`) and calls `onEvent` after each ADDED/MODIFIED/DELETED event has been
 * applied to the cache.
 */
export function watchObjects<T extends KubernetesObject>(
  kube: Kube,
  path: string,
  query: { labelSelector?: string; fieldSelector?: string },
  list: () => Promise<ListResult<T>>,
  onEvent: (event: WatchEvent<T>, cache: ObjectCache<T>) => void,
): ObjectWatch<T> {
  const cache = new ObjectCache<T>();
  const watch = new Watch(kube.kubeConfig);
  let stopped = false;
  let resourceVersion: string | undefined;
  let controller: AbortController | undefined;
  let markConnected: () => void = () => undefined;
  let markFailed: (error: unknown) => void = () => undefined;
  const connected = new Promise<void>((resolve, reject) => {
    markConnected = resolve;
    markFailed = reject;
  });
  connected.catch(() => undefined); // the same error is thrown by stop()

  const once = (): Promise<Error | null> =>
    new Promise((resolve, reject) => {
      watch
        .watch(
          path,
          { ...query, resourceVersion, allowWatchBookmarks: true },
          (phase: string, object: T | StatusObject) => {
            if (phase === "ERROR") {
              const failure = watchError(path, object as StatusObject);
              if (failure) reject(failure);
              else resourceVersion = undefined; // 410 Gone: too old, list again when the server closes the stream
              return;
            }
            const obj = object as T;
            resourceVersion = obj.metadata?.resourceVersion ?? resourceVersion;
            if (phase === "BOOKMARK") return;
            const event = { type: phase as WatchEventType, object: obj };
            cache.apply(event);
            onEvent(event, cache);
          },
          (error: unknown) => resolve(error instanceof Error ? error : null),
        )
        .then((c) => {
          controller = c;
          markConnected();
          if (stopped) c.abort();
        })
        .catch(reject);
    });

  const loop = (async () => {
    while (!stopped) {
      if (resourceVersion === undefined) {
        const listed = await list();
        cache.reset(listed.items);
        resourceVersion = listed.metadata?.resourceVersion;
      }
      const error = await once();
      // An idle timeout or a closed stream is normal for a long watch: re-watch from the last version.
      if (error && !stopped && error.name !== "TimeoutError" && error.name !== "AbortError") {
        throw new Error(`watch ${path} ended: ${error.message}`, { cause: error });
      }
    }
  })();
  loop.catch(markFailed); // also thrown by stop()

  return {
    cache,
    connected,
    ended: loop,
    stop: async () => {
      stopped = true;
      controller?.abort();
      await loop;
    },
  };
}
