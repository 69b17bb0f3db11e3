/**
 * Running commands in containers (the one way this project shells into a container), and HTTP requests
 * from inside the cluster.
 *
 * exec() waits for the command's exit status, not for the WebSocket to open (client-node's Exec resolves
 * on connect), and returns stdout, stderr and the exit code as values to assert on.
 */
import { PassThrough, Writable } from "node:stream";
import type { V1Status } from "@kubernetes/client-node";
import type { TestNamespace } from "../framework/namespace.ts";
import { redactor } from "../framework/redact.ts";
import { formatDuration, T } from "../framework/timeouts.ts";
import { type Check, waitFor } from "../framework/wait.ts";
import { apply } from "../manifests/apply.ts";
import { podReady } from "../observe/conditions.ts";

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** 0 on success; the process's exit code otherwise. */
  exitCode: number;
}

export interface ExecOptions {
  /** Defaults to the pod's first container. */
  container?: string;
  /** Default T.exec. */
  timeout?: number;
}

class ExecTimeoutError extends Error {
  override name = "ExecTimeoutError";
}

/** The exit code carried by an exec V1Status: Success → 0, NonZeroExitCode → the ExitCode cause. */
export function exitCodeOf(status: V1Status): number {
  if (status.status === "Success") return 0;
  const cause = status.details?.causes?.find((c) => c.reason === "ExitCode");
  const code = Number(cause?.message);
  if (status.reason === "NonZeroExitCode" && Number.isInteger(code)) return code;
  throw new Error(`exec failed: ${status.reason ?? "Failure"}: ${status.message ?? "(no message)"}`);
}

function collector(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(Buffer.from(chunk));
      done();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString("utf8") };
}

/** Runs `command` (argv, no shell unless you call one) in a container and waits for it to exit. */
export async function exec(
  ns: TestNamespace,
  pod: string,
  command: string[],
  options: ExecOptions = {},
): Promise<ExecResult> {
  const timeout = options.timeout ?? T.exec;
  const container = options.container ?? (await defaultContainer(ns, pod));
  const stdout = collector();
  const stderr = collector();
  const where = `exec in ${ns.name}/${pod}/${container}: ${command.join(" ")}`;
  let socket: { close: () => void } | undefined;
  const deadline = AbortSignal.timeout(timeout);
  try {
    const status = await new Promise<V1Status>((resolve, reject) => {
      deadline.addEventListener(
        "abort",
        () => reject(new ExecTimeoutError(`${where}: no exit status after ${formatDuration(timeout)}`)),
        { once: true },
      );
      ns.kube.exec
        .exec(ns.name, pod, container, command, stdout.stream, stderr.stream, null, false, resolve)
        .then((ws) => {
          socket = ws;
          ws.on("error", (error: Error) => reject(new Error(`${where}: ${error.message}`)));
        })
        .catch((error: Error) => reject(new Error(`${where}: ${error.message}`, { cause: error })));
    });
    return {
      stdout: redactor.scrub(stdout.text()),
      stderr: redactor.scrub(stderr.text()),
      exitCode: exitCodeOf(status),
    };
  } finally {
    socket?.close();
  }
}

/**
 * Runs `command` (a line-by-line responder, e.g. `while read -r _; do date +%s.%N; done`) in a container
 * with stdin open, and hands `talk` an `ask` function: it writes one line to the command's stdin and
 * resolves with the next line the command prints (rejects after `options.timeout`, default T.exec). One
 * connection for every question, so a question costs a round trip over an open stream, not an exec. The
 * command's stdin is closed and the connection ended when `talk` settles.
 */
export async function converse<R>(
  ns: TestNamespace,
  pod: string,
  command: string[],
  talk: (ask: (line: string) => Promise<string>) => Promise<R>,
  options: ExecOptions = {},
): Promise<R> {
  const timeout = options.timeout ?? T.exec;
  const container = options.container ?? (await defaultContainer(ns, pod));
  const where = `exec in ${ns.name}/${pod}/${container}: ${command.join(" ")}`;
  const lines: string[] = [];
  let waiting: { resolve: (line: string) => void; reject: (e: Error) => void } | undefined;
  let failed: Error | undefined;
  let rest = "";
  const deliver = (): void => {
    if (waiting === undefined) return;
    const line = lines.shift();
    if (line !== undefined) waiting.resolve(line);
    else if (failed !== undefined) waiting.reject(failed);
    else return;
    waiting = undefined;
  };
  const stdout = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const parts = (rest + chunk.toString("utf8")).split("\n");
      rest = parts.pop() ?? "";
      lines.push(...parts);
      deliver();
      done();
    },
  });
  const stderr = collector();
  const stdin = new PassThrough();
  const fail = (error: Error): void => {
    failed ??= new Error(
      `${where}: ${error.message}${stderr.text() ? `; stderr: ${stderr.text().slice(0, 300)}` : ""}`,
    );
    deliver();
  };
  const ws = await ns.kube.exec.exec(ns.name, pod, container, command, stdout, stderr.stream, stdin, false, (s) =>
    fail(new Error(`the command ended (${s.status ?? "?"}: ${s.message ?? "no message"})`)),
  );
  ws.on("error", fail);
  ws.on("close", () => fail(new Error("the connection closed")));
  const ask = (line: string): Promise<string> =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => fail(new ExecTimeoutError(`no answer within ${formatDuration(timeout)}`)),
        timeout,
      );
      waiting = {
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      stdin.write(`${line}\n`);
      deliver();
    });
  try {
    return await talk(ask);
  } finally {
    stdin.end();
    ws.close();
  }
}

/**
 * Runs `script` with `sh -c` in a container (default: the pod's first) and returns its stdout; a non-zero
 * exit is thrown with the script, the exit code and stderr.
 */
export async function shell(
  ns: TestNamespace,
  pod: string,
  script: string,
  options: ExecOptions = {},
): Promise<string> {
  const result = await exec(ns, pod, ["sh", "-c", script], options);
  if (result.exitCode !== 0) {
    const where = options.container === undefined ? `${ns.name}/${pod}` : `${ns.name}/${pod}/${options.container}`;
    throw new Error(
      `in ${where}, sh -c '${script}' exited ${result.exitCode}: ${result.stderr.trim() || "(no stderr)"}`,
    );
  }
  return result.stdout;
}

async function defaultContainer(ns: TestNamespace, pod: string): Promise<string> {
  const found = await ns.kube.core.readNamespacedPod({ name: pod, namespace: ns.name });
  const first = found.spec?.containers[0]?.name;
  if (first === undefined) throw new Error(`pod ${ns.name}/${pod} has no containers`);
  return first;
}

/** An HTTP answer as seen by curl inside the cluster; `status` is 0 when no HTTP answer came back. */
export interface HttpResult {
  status: number;
  body: string;
  /** curl's own error (connection refused, timeout, DNS), empty when an answer came back. */
  error: string;
}

const STATUS_MARK = "\n__koc_http_status__=";

/** Parses the output of the curl command httpGet runs (exported for unit tests). */
export function parseCurlOutput(result: ExecResult): HttpResult {
  const at = result.stdout.lastIndexOf(STATUS_MARK);
  const status = at >= 0 ? Number(result.stdout.slice(at + STATUS_MARK.length).trim()) : 0;
  const body = at >= 0 ? result.stdout.slice(0, at) : result.stdout;
  const error = result.exitCode === 0 ? "" : `curl exit ${result.exitCode}: ${result.stderr.trim() || "(no stderr)"}`;
  return { status: Number.isFinite(status) ? status : 0, body, error };
}

/** GET `url` from the client pod (see startHttpClient) with curl, a fresh connection each time. */
export async function httpGet(ns: TestNamespace, clientPod: string, url: string): Promise<HttpResult> {
  const maxTime = Math.max(1, Math.round(T.httpRequest / 1000));
  const command = ["curl", "-sS", "--max-time", String(maxTime), "-H", "Connection: close"];
  const result = await exec(ns, clientPod, [...command, "-w", `${STATUS_MARK}%{http_code}`, url], {
    timeout: T.httpRequest + T.exec,
  });
  return parseCurlOutput(result);
}

/** Starts the shared curl client pod (manifests/shared/http-client.yaml) in `ns` and waits until it is Ready. */
export async function startHttpClient(ns: TestNamespace): Promise<string> {
  const name = "http-client";
  await apply(ns, "shared/http-client.yaml");
  await waitFor(`pod ${ns.name}/${name} is Ready`, podReady(ns, name), T.podStart, { signal: ns.signal });
  return name;
}

/** `HTTP 200, body: <first 200 characters>` or curl's error. */
export function showHttp(result: HttpResult): string {
  return result.error || `HTTP ${result.status}, body: ${result.body.slice(0, 200)}`;
}

/** A Check for waitFor: GET `url` from `clientPod` answers with `status` (and a body containing `text`, when given). */
export function httpAnswers(
  ns: TestNamespace,
  clientPod: string,
  url: string,
  status = 200,
  text = "",
): Check<HttpResult> {
  return {
    observe: () => httpGet(ns, clientPod, url),
    ok: (r) => r.status === status && r.body.includes(text),
    show: showHttp,
  };
}
