/**
 * Following a container's log through the API (follow, timestamps), with every way it can end handled.
 *
 *   await streamContainerLog(kube, { namespace, pod, container }, { sinceTime, idleMs: 10_000, signal }, (lines) => ...);
 *
 * client-node's Log pipes the response into the caller's stream with no error listener on it, so an abort,
 * or a connection the API server drops while it restarts, is an unhandled 'error' event that ends the process.
 * Here the request is made with Node's http(s) and the context's credentials: the promise resolves when the
 * server ends the stream (the container exited) and rejects when it breaks, goes silent for `idleMs`, is
 * aborted through `signal`, or answers with an error (LogStreamError, with the HTTP status). `onLines` gets
 * whole lines only: a partial last line comes again when the stream is opened again from its timestamp.
 */
import { request as httpRequest, type RequestOptions } from "node:http";
import { request as httpsRequest } from "node:https";
import type { Kube } from "./kube.ts";

export class LogStreamError extends Error {
  readonly status: number;
  constructor(status: number, body: string) {
    super(`HTTP ${status}: ${body.trim().slice(0, 300)}`);
    this.status = status;
  }
}

export interface LogSource {
  namespace: string;
  pod: string;
  container: string;
}

export interface LogStreamOptions {
  /** RFC 3339, whole seconds: the first line's time (the API's sinceTime). */
  sinceTime?: string | undefined;
  /** A stream without a byte for this long is taken as broken. */
  idleMs: number;
  signal: AbortSignal;
}

export async function streamContainerLog(
  kube: Pick<Kube, "server" | "kubeConfig">,
  source: LogSource,
  options: LogStreamOptions,
  onLines: (lines: string[]) => void,
): Promise<void> {
  const url = new URL(`${kube.server}/api/v1/namespaces/${source.namespace}/pods/${source.pod}/log`);
  const query = { container: source.container, follow: "true", timestamps: "true" };
  for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
  if (options.sinceTime !== undefined) url.searchParams.set("sinceTime", options.sinceTime);
  const requestOptions: RequestOptions = { signal: options.signal };
  await kube.kubeConfig.applyToHTTPSOptions(requestOptions);
  const request = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, requestOptions, (res) => {
      res.setEncoding("utf8");
      let text = "";
      res.on("data", (chunk: string) => {
        if (res.statusCode !== 200) {
          text += chunk; // the error's body
          return;
        }
        const lines = (text + chunk).split("\n");
        text = lines.pop() ?? "";
        onLines(lines);
      });
      res.on("error", reject);
      res.on("close", () => {
        if (res.statusCode !== 200) reject(new LogStreamError(res.statusCode ?? 0, text));
        else if (res.complete) resolve();
        else reject(new Error("the stream was cut off"));
      });
    });
    req.setTimeout(options.idleMs, () => req.destroy(new Error(`no log line for ${options.idleMs / 1000}s`)));
    req.on("error", reject);
    req.end();
  });
}
