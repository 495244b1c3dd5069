/**
 * Plumbing shared by the identity-provider fakes: a seeded random generator, a fault schedule,
 * a request log with counters and a hold gate for concurrency tests (Okta, OneLogin), and the
 * server on 127.0.0.1 (port 0) behind a {@link startFront}, so that a fault can drop the
 * connection (Okta, OneLogin, Google, Microsoft Graph).
 * @module
 */

import { type Front, type FrontTls, startFront } from "./_front.ts";

/** A seeded pseudo-random generator (mulberry32): the same seed gives the same sequence in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A fault a test can inject:
 * - `500`, `503`: the provider's error body with that status;
 * - `429`: the provider's rate-limit answer (headers and body), without spending the budget;
 * - `reset`: the connection is closed before any response;
 * - `truncated`: a 200 whose body is the first half of the real JSON (a complete HTTP
 *   message that does not parse);
 * - `aborted`: a 200 whose body stops half-way and whose connection is then dropped.
 */
export type IdpFaultKind = "500" | "503" | "429" | "reset" | "truncated" | "aborted";

/** Which requests a fault applies to. */
export interface IdpFaultOptions {
  /** Requests whose path plus query (`/api/v1/users?limit=200`) contains this or matches it. */
  path?: string | RegExp;
  /** Only this method (default: any). */
  method?: string;
}

/** One logged request. */
export interface IdpRequest {
  method: string;
  /** The path as received, e.g. `/api/v1/users`. */
  path: string;
  /** The query string without `?`, `""` when none. */
  query: string;
  /** The status sent, or 0 for a connection the fake dropped. */
  status: number;
  /** Clock time (ms) when the request arrived. */
  at: number;
  /** Request headers worth asserting (lowercase names): e.g. `x-okta-retry-count`. */
  headers: Record<string, string>;
}

interface ScheduledFault {
  kind: IdpFaultKind;
  options: IdpFaultOptions;
  /** Remaining uses; Infinity for a fault that keeps failing. */
  remaining: number;
}

function matches(options: IdpFaultOptions, method: string, target: string): boolean {
  if (options.method !== undefined && options.method.toUpperCase() !== method) return false;
  if (options.path === undefined) return true;
  return typeof options.path === "string"
    ? target.includes(options.path)
    : options.path.test(target);
}

/** A fault schedule: the first matching fault is used and counted down. */
export class FaultSchedule {
  #faults: ScheduledFault[] = [];

  /** The next `count` matching requests fail with `kind`. */
  failNext(count: number, kind: IdpFaultKind, options: IdpFaultOptions = {}): void {
    this.#faults.push({ kind, options, remaining: count });
  }

  /** Every matching request fails with `kind` until the returned function is called. */
  failAlways(kind: IdpFaultKind, options: IdpFaultOptions = {}): () => void {
    const fault: ScheduledFault = { kind, options, remaining: Infinity };
    this.#faults.push(fault);
    return () => {
      this.#faults = this.#faults.filter((f) => f !== fault);
    };
  }

  /** Takes the fault for a request, if any. */
  take(method: string, target: string): IdpFaultKind | undefined {
    const fault = this.#faults.find((f) => matches(f.options, method, target));
    if (fault === undefined) return undefined;
    fault.remaining--;
    if (fault.remaining <= 0) this.#faults = this.#faults.filter((f) => f !== fault);
    return fault.kind;
  }
}

/** A 200 whose body is the first half of `body` (complete HTTP, unparsable JSON). */
export function truncatedResponse(body: string, headers: Headers): Response {
  const cut = body.slice(0, Math.max(1, Math.floor(body.length / 2)));
  headers.set("content-type", "application/json");
  return new Response(cut, { status: 200, headers });
}

/** A 200 whose streamed body stops half-way; the connection is then dropped. */
export function abortedResponse(body: string, headers: Headers): Response {
  const bytes = new TextEncoder().encode(body);
  const half = bytes.slice(0, Math.max(1, Math.floor(bytes.length / 2)));
  let sent = false;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (!sent) {
        sent = true;
        controller.enqueue(half);
        return;
      }
      controller.error(new Error("fake: connection dropped mid-body"));
    },
  });
  headers.set("content-type", "application/json");
  return new Response(stream, { status: 200, headers });
}

/** A gate that keeps requests in flight until released (for concurrency tests, no timers). */
export class HoldGate {
  #waiters: (() => void)[] = [];
  #held = false;
  /** Requests waiting at the gate. */
  get waiting(): number {
    return this.#waiters.length;
  }
  /** Holds every request that reaches the gate from now on. */
  hold(): void {
    this.#held = true;
  }
  /** Lets every held request go, and stops holding. */
  release(): void {
    this.#held = false;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
  /** Waits while the gate is held. */
  pass(): Promise<void> {
    if (!this.#held) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}

/** Waits `ms` of real time (latency); no wait for 0. */
export function realDelay(ms: number): Promise<void> {
  return ms <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms));
}

/** A request handler that may ask for its connection to be dropped. */
export type IdpHandler = (
  request: Request,
  url: URL,
  drop: () => void,
) => Promise<Response>;

/** A running fake server. */
export interface IdpServer {
  /** `http://127.0.0.1:<port>` (`https://` with `tls`), no trailing slash. */
  readonly url: string;
  /** Stops the server and closes every connection. */
  close(): Promise<void>;
}

/**
 * Serves `handler` on 127.0.0.1 behind a front, so `drop()` closes the client connection.
 * `options.tls`: the front speaks TLS with that certificate. A handler that throws answers 500
 * `fake <name> bug: …`.
 */
export function serveIdp(
  name: string,
  handler: IdpHandler,
  options: { tls?: FrontTls } = {},
): IdpServer {
  const holder: { front?: Front } = {};
  const abort = new AbortController();
  const inner = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    signal: abort.signal,
    onListen: () => {},
    onError: (error) => new Response(`fake ${name} bug: ${String(error)}`, { status: 500 }),
  }, (request, info) => {
    const innerPort = info.remoteAddr.transport === "tcp" ? info.remoteAddr.port : -1;
    return handler(request, new URL(request.url), () => holder.front?.reset(innerPort));
  });
  const started = startFront({
    innerPort: inner.addr.port,
    ...(options.tls === undefined ? {} : { tls: options.tls }),
  });
  holder.front = started;
  const url = `${options.tls === undefined ? "http" : "https"}://127.0.0.1:${started.port}`;
  return {
    url,
    close: async () => {
      await started.close();
      abort.abort();
      await inner.finished;
    },
  };
}

/** The counters every {@link RequestLog} keeps (a fake's counters extend them). */
export interface IdpCounters {
  /** Every request received. */
  requests: number;
  /** 429s sent. */
  rateLimited: number;
  /** The most requests in flight at once. */
  peakConcurrency: number;
}

/**
 * The request log and its counters: {@link track} logs a request, counts it and the requests in
 * flight, and records the status answered (0 when the fake dropped the connection).
 */
export class RequestLog {
  readonly entries: IdpRequest[] = [];
  readonly #counters: IdpCounters;
  readonly #now: () => number;
  readonly #headers: readonly string[];
  #inFlight = 0;

  /** `headers`: request headers to keep in each entry (lowercase names). */
  constructor(counters: IdpCounters, options: { now: () => number; headers?: readonly string[] }) {
    this.#counters = counters;
    this.#now = options.now;
    this.#headers = options.headers ?? [];
  }

  /** Requests in flight now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Logs `request` and answers it with `answer` (null: the connection was dropped). */
  async track(
    request: Request,
    url: URL,
    answer: () => Promise<Response | null>,
  ): Promise<Response> {
    const entry: IdpRequest = {
      method: request.method,
      path: url.pathname,
      query: url.search.slice(1),
      status: 0,
      at: this.#now(),
      headers: {},
    };
    for (const name of this.#headers) {
      const value = request.headers.get(name);
      if (value !== null) entry.headers[name] = value;
    }
    this.entries.push(entry);
    this.#counters.requests++;
    this.#inFlight++;
    this.#counters.peakConcurrency = Math.max(this.#counters.peakConcurrency, this.#inFlight);
    try {
      const response = await answer();
      entry.status = response?.status ?? 0;
      if (response?.status === 429) this.#counters.rateLimited++;
      return response ?? new Response(null, { status: 500 });
    } finally {
      this.#inFlight--;
    }
  }
}

/** `response`, or (for a `truncated` or `aborted` fault) its body cut half-way. */
export async function withBodyFault(
  fault: IdpFaultKind | undefined,
  response: Response,
): Promise<Response> {
  if (fault !== "truncated" && fault !== "aborted") return response;
  const body = await response.text();
  return fault === "truncated"
    ? truncatedResponse(body, response.headers)
    : abortedResponse(body, response.headers);
}
