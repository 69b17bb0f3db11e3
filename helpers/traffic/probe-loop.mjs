// @ts-check
/**
 * The prober program: HTTP GETs on a fixed timetable (`--rate` starts per second, not one after another),
 * each on a new TCP connection (no agent, `Connection: close`), one record line per request.
 *
 * The same file runs in two places, so both probers write identical records:
 *   - in the cluster, in the prober pod (manifests/shared/prober.yaml), by Debian's Node.js 18 on the test
 *     bed or an official Node.js image elsewhere: plain JavaScript, Node 18 built-ins only;
 *   - on this host, as a child process of the test (helpers/traffic/prober.ts), by the project's Node.
 * A process of its own keeps the timetable away from the test runner's event loop, and a timetable (rather
 * than a loop that waits for each answer) keeps the resolution when answers are slow: a request that hangs
 * does not delay the next one.
 *
 *   node probe-loop.mjs --rate 200 --timeout 2000 [--out FILE --stop-file FILE] [--clock-shift MS] URL...
 *   node probe-loop.mjs --clock [--clock-shift MS]
 *
 * Several URLs are used round-robin. A host name is resolved once per `--dns-refresh` ms (default 1000)
 * and each request connects to the resolved address with the name in the Host header: a lookup per request
 * would send CoreDNS about six queries per request (search domains, A and AAAA). Requests stop when the
 * stop file appears, or (without --out) when stdin closes; requests in flight are awaited, then the end
 * line is written.
 *
 * Record line: `koc|<start, epoch ms>|<latency ms>|<HTTP status, 0 when none>|<X-Pod header>|<error>|<X-App-Version header>`
 *   (the last field was added later; a reader takes a line without it as an answer without a version). Fields
 *   never contain `|`: it is replaced by a space.
 * End line:    `koc-end|<requests started>|<requests skipped because too many were in flight>`
 *
 * With --clock it sends nothing: for every line on stdin it prints the clock its records are stamped with
 * (epoch seconds, 6 decimals), so the test can measure that clock against its own (helpers/traffic/clocks.ts).
 * --clock-shift adds MS milliseconds to that clock, records and readings alike: a node whose clock is off,
 * made on purpose (KOC_PROBER_CLOCK_SHIFT).
 */
import { lookup } from "node:dns";
import { appendFileSync, existsSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { isIP } from "node:net";

const MAX_IN_FLIGHT = 1000;
/** A timetable that fell this far behind (a paused process) restarts from now instead of bursting. */
const MAX_CATCH_UP_MS = 100;

const FLAGS = {
  "--rate": "rate",
  "--timeout": "timeout",
  "--dns-refresh": "dnsRefresh",
  "--out": "out",
  "--stop-file": "stopFile",
  "--clock-shift": "clockShift",
};

/** The flags given (by option name), the URLs, and whether --clock was. @param {string[]} argv */
function readFlags(argv) {
  /** @type {Record<string, string>} */
  const given = {};
  /** @type {URL[]} */
  const urls = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    const key = FLAGS[/** @type {keyof typeof FLAGS} */ (arg)];
    if (key) given[key] = argv[++i] ?? "";
    else if (arg !== "--clock") urls.push(new URL(arg));
  }
  return { given, urls, clockMode: argv.includes("--clock") };
}

/** @param {string[]} argv */
function parseArgs(argv) {
  const { given, urls, clockMode } = readFlags(argv);
  const options = {
    rate: Number(given.rate ?? 200),
    timeout: Number(given.timeout ?? 2000),
    dnsRefresh: Number(given.dnsRefresh ?? 1000),
    out: given.out ?? "",
    stopFile: given.stopFile ?? "",
    clockShift: Number(given.clockShift ?? 0),
    clockMode,
    urls,
  };
  if (!Number.isFinite(options.clockShift))
    throw new Error(`--clock-shift must be milliseconds, not ${given.clockShift}`);
  if (!(options.rate > 0 && options.rate <= 2000))
    throw new Error(`--rate must be 1..2000 requests/s, not ${options.rate}`);
  if (!(options.timeout > 0)) throw new Error(`--timeout must be > 0 ms, not ${options.timeout}`);
  if (urls.length === 0 && !clockMode) throw new Error("no URL to probe");
  return options;
}

/** @param {unknown} text */
const field = (text) => String(text ?? "").replace(/[|\r\n]/g, " ");

/** Added to this process's clock (--clock-shift). */
let shift = 0;
const now = () => performance.timeOrigin + performance.now() + shift;

/** --clock: one reading of `now()` (epoch seconds) per line read, until stdin closes. */
function answerClock() {
  let rest = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (/** @type {string} */ chunk) => {
    const lines = (rest + chunk).split("\n");
    rest = lines.pop() ?? "";
    process.stdout.write(lines.map(() => `${(now() / 1000).toFixed(6)}\n`).join(""));
  });
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  shift = options.clockShift;
  if (options.clockMode) return answerClock();
  /** @type {string[]} */
  let pending = [];
  const flush = () => {
    if (pending.length === 0) return;
    const text = `${pending.join("\n")}\n`;
    pending = [];
    if (options.out) appendFileSync(options.out, text);
    else process.stdout.write(text);
  };
  if (options.out) writeFileSync(options.out, "");

  /** @type {Map<string, {address: string, error: string}>} */
  const resolved = new Map();
  /** Resolves every URL's host name (IP addresses as they are); resolves when all lookups have answered. */
  const refresh = () =>
    Promise.all(
      options.urls.map((url) => {
        const host = url.hostname.replace(/^\[|\]$/g, "");
        if (isIP(host)) return resolved.set(host, { address: host, error: "" });
        return new Promise((done) =>
          lookup(host, (error, address) =>
            done(
              resolved.set(
                host,
                error ? { address: "", error: `DNS ${error.code ?? error.message}` } : { address, error: "" },
              ),
            ),
          ),
        );
      }),
    );
  await refresh(); // the first requests must not fail for want of an address
  const dnsTimer = setInterval(refresh, options.dnsRefresh);

  let started = 0;
  let skipped = 0;
  let inFlight = 0;
  let stopping = false;

  const fire = () => {
    const url = /** @type {URL} */ (options.urls[started % options.urls.length]);
    started++;
    const at = now();
    const t0 = performance.now();
    let done = false;
    /** @param {number} status @param {string} pod @param {string} error @param {string} version */
    const finish = (status, pod, error, version = "") => {
      if (done) return;
      done = true;
      inFlight--;
      const latency = Math.round((performance.now() - t0) * 10) / 10;
      pending.push(`koc|${at.toFixed(3)}|${latency}|${status}|${field(pod)}|${field(error)}|${field(version)}`);
    };
    inFlight++;
    const host = url.hostname.replace(/^\[|\]$/g, "");
    const target = resolved.get(host);
    if (!target?.address) {
      finish(0, "", target?.error || "DNS lookup not answered yet");
      return;
    }
    const req = request(
      {
        host: target.address,
        port: url.port || 80,
        path: `${url.pathname}${url.search}`,
        agent: false,
        headers: { Host: url.host, Connection: "close" },
        timeout: options.timeout,
      },
      (res) => {
        res.resume();
        res.on("end", () =>
          finish(
            res.statusCode ?? 0,
            String(res.headers["x-pod"] ?? ""),
            "",
            String(res.headers["x-app-version"] ?? ""),
          ),
        );
        res.on("error", (error) => finish(0, "", error.message));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${options.timeout}ms`)));
    req.on("error", (/** @type {NodeJS.ErrnoException} */ error) =>
      finish(0, "", error.code ? `${error.code}: ${error.message}` : error.message),
    );
    req.end();
  };

  const interval = 1000 / options.rate;
  let next = now();
  const tick = () => {
    if (stopping) return;
    const t = now();
    if (t - next > MAX_CATCH_UP_MS) next = t;
    while (next <= t) {
      if (inFlight >= MAX_IN_FLIGHT) skipped++;
      else fire();
      next += interval;
    }
    setTimeout(tick, Math.max(0, next - now()));
  };
  tick();
  const flushTimer = setInterval(flush, 100);

  const stop = () => {
    if (stopping) return;
    stopping = true;
    clearInterval(dnsTimer);
    const drained = setInterval(() => {
      if (inFlight > 0) return;
      clearInterval(drained);
      clearInterval(flushTimer);
      pending.push(`koc-end|${started}|${skipped}`);
      flush();
      if (stopWatch) clearInterval(stopWatch);
      process.stdin.destroy();
    }, 20);
  };
  const stopWatch = options.stopFile ? setInterval(() => existsSync(options.stopFile) && stop(), 50) : undefined;
  if (!options.out) {
    process.stdin.on("end", stop);
    process.stdin.on("close", stop);
    process.stdin.resume();
  }
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

await main();
