import { ApiException } from "@kubernetes/client-node";
import { describe, expect, test, vi } from "vitest";
import {
  compact,
  formatTimeout,
  HoldViolationError,
  holdsFor,
  WaitTimeoutError,
  waitFor,
  withDeadline,
} from "./wait.ts";

// The waits poll with node:timers/promises, which vitest's fake timers do not reach: route it through the
// global timers, so the tests of windows can run on a fake clock (a busy machine cannot stretch it).
vi.mock("node:timers/promises", () => ({
  setTimeout: (ms: number, value?: unknown, options?: { signal?: AbortSignal }) =>
    new Promise((resolve, reject) => {
      options?.signal?.throwIfAborted();
      const timer = globalThis.setTimeout(() => resolve(value), ms);
      options?.signal?.addEventListener("abort", () => {
        globalThis.clearTimeout(timer);
        reject(options.signal?.reason);
      });
    }),
}));

/** Runs `body` on a fake clock (setTimeout and performance.now), advancing it by `ms` while `body` waits. */
async function onFakeClock<R>(ms: number, body: () => Promise<R>): Promise<R> {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
  try {
    const result = body();
    result.catch(() => undefined); // awaited below, after the clock has moved
    await vi.advanceTimersByTimeAsync(ms);
    return await result;
  } finally {
    vi.useRealTimers();
  }
}

/** A check over a scripted sequence of observations (the last one repeats). */
function scripted<T>(values: Array<T | Error>): { observe: () => Promise<T>; calls: () => number } {
  let i = 0;
  return {
    observe: async () => {
      const value = values[Math.min(i++, values.length - 1)] as T | Error;
      if (value instanceof Error) throw value;
      return value;
    },
    calls: () => i,
  };
}

const notFound = new ApiException(404, "not found", { reason: "NotFound", message: 'pods "web" not found' }, {});
const forbidden = new ApiException(403, "forbidden", { reason: "Forbidden", message: "no" }, {});
const unavailable = new ApiException(503, "unavailable", "etcdserver: leader changed", {});

describe("waitFor", () => {
  test("should return the first observation that is ok", async () => {
    const s = scripted([1, 2, 3]);
    await expect(
      waitFor("count reaches 3", { observe: s.observe, ok: (n) => n >= 3 }, 2_000, { interval: 1 }),
    ).resolves.toBe(3);
    expect(s.calls()).toBe(3);
  });

  test("should name the expectation and the last state seen on timeout", async () => {
    const s = scripted([{ ready: 1 }]);
    const check = { observe: s.observe, ok: () => false, show: (v: { ready: number }) => `ready ${v.ready}/2` };
    const error = await waitFor("deployment web has 2 ready replicas", check, 30, { interval: 5 }).catch((e) => e);
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect(error.message).toMatch(
      /^Timed out after \d+ms waiting for: deployment web has 2 ready replicas\n {2}last seen \(attempt \d+\): ready 1\/2$/,
    );
    expect(error.lastSeen).toBe("ready 1/2");
  });

  test("should treat 404 as 'not there yet' and keep waiting", async () => {
    const s = scripted([notFound, notFound, "here"]);
    await expect(waitFor("pod exists", { observe: s.observe, ok: () => true }, 2_000, { interval: 1 })).resolves.toBe(
      "here",
    );
  });

  test("should show a persistent 404 or transport error as the last state", async () => {
    const error = await waitFor("pod exists", { observe: scripted([notFound]).observe, ok: () => true }, 20, {
      interval: 5,
    }).catch((e) => e);
    expect(error.message).toContain("last seen (attempt");
    expect(error.message).toContain('not found (404 NotFound: pods "web" not found)');
    const down = await waitFor("x", { observe: scripted([unavailable]).observe, ok: () => true }, 20, {
      interval: 5,
    }).catch((e) => e);
    expect(down.message).toContain("API unreachable: 503 etcdserver: leader changed");
  });

  test("should end at once on an API answer that will not change (403)", async () => {
    const s = scripted([forbidden]);
    await expect(waitFor("x", { observe: s.observe, ok: () => true }, 5_000, { interval: 1 })).rejects.toBe(forbidden);
    expect(s.calls()).toBe(1);
  });

  test("should append the diagnosis to a timeout", async () => {
    const check = { observe: async () => 0, ok: () => false };
    const error = await waitFor("x", check, 10, {
      interval: 5,
      diagnose: async () => "pod web-1 CrashLoopBackOff",
    }).catch((e) => e);
    expect(error.message).toContain("diagnosis:\n    pod web-1 CrashLoopBackOff");
  });

  test("should stop when the signal is aborted", async () => {
    const controller = new AbortController();
    controller.abort(new Error("test timed out"));
    await expect(
      waitFor("x", { observe: async () => 0, ok: () => false }, 5_000, { signal: controller.signal }),
    ).rejects.toThrow("test timed out");
  });
});

describe("holdsFor", () => {
  test("should pass when the check holds for the whole window, looking at every interval", async () => {
    const s = scripted([0]);
    const held = await onFakeClock(30, () =>
      holdsFor("no restarts", { observe: s.observe, ok: (n) => n === 0 }, 30, { interval: 5 }),
    );
    expect(held).toBe(0);
    expect(s.calls(), "observations at 0, 5, ..., 30 ms").toBe(7);
  });

  test("should fail at the first violation with what was seen", async () => {
    const s = scripted([0, 0, 1]);
    const check = { observe: s.observe, ok: (n: number) => n === 0, show: (n: number) => `restartCount=${n}` };
    const error = await holdsFor("pod web-0 is never restarted", check, 5_000, { interval: 1 }).catch((e) => e);
    expect(error).toBeInstanceOf(HoldViolationError);
    expect(error.message).toMatch(
      /^Expected to hold for 5s: pod web-0 is never restarted\n {2}violated after \d+ms: restartCount=1$/,
    );
  });

  test("should count a missing object as a violation but look again after a transport error", async () => {
    const gone = await holdsFor("endpoint stays", { observe: scripted([notFound]).observe, ok: () => true }, 50, {
      interval: 1,
    }).catch((e) => e);
    expect(gone.message).toContain("violated after");
    const flaky = scripted([unavailable, 0]);
    const held = await onFakeClock(20, () =>
      holdsFor("x", { observe: flaky.observe, ok: (n) => n === 0 }, 20, { interval: 2 }),
    );
    expect(held).toBe(0);
  });
});

describe("wait helpers", () => {
  test("should format a timeout message", () => {
    expect(formatTimeout({ expectation: "e", lastSeen: "a\nb", elapsedMs: 61_000, attempts: 3 })).toBe(
      "Timed out after 1m 1s waiting for: e\n  last seen (attempt 3): a\n  b",
    );
  });

  test("should shorten long observations", () => {
    expect(compact({ a: 1 })).toBe('{"a":1}');
    expect(compact("x".repeat(700))).toHaveLength(601);
  });

  test("should reject work that outlives its deadline", async () => {
    await expect(withDeadline("slow thing", 5, new Promise(() => {}))).rejects.toThrow(
      "slow thing did not finish within 5ms",
    );
    await expect(withDeadline("fast thing", 1_000, Promise.resolve(1))).resolves.toBe(1);
  });
});
