/**
 * One HTTP GET from this host (the machine running vitest) on a fresh connection: no agent, no keep-alive,
 * so every request goes through a new TCP handshake, as a client arriving from outside would. It never
 * throws: a request that got no answer has status 0 and says why in `error`.
 * Callers check the address first (helpers/traffic/network-guard.ts): this module sends to any URL.
 */
import { request } from "node:http";
import { formatDuration } from "../framework/timeouts.ts";

export interface FreshAnswer {
  status: number;
  body: string;
  /** The X-Pod header: which pod answered, when the workload says so. */
  pod: string;
  /** Why no answer came ("" when one did), and the system error code when there was one (ECONNREFUSED). */
  error: string;
  code: string;
}

export function freshGet(url: URL, timeoutMs: number): Promise<FreshAnswer> {
  return new Promise((resolve) => {
    const failed = (e: NodeJS.ErrnoException): void =>
      resolve({ status: 0, body: "", pod: "", error: e.message, code: e.code ?? "" });
    const req = request(url, { agent: false, headers: { Connection: "close" }, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString("utf8"),
          pod: String(res.headers["x-pod"] ?? ""),
          error: "",
          code: "",
        }),
      );
      res.on("error", failed);
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${formatDuration(timeoutMs)}`)));
    req.on("error", failed);
    req.end();
  });
}
