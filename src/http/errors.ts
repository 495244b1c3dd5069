/**
 * The neutral errors of the HTTP layer. They say what happened on the wire and nothing about
 * which service was called: each caller (the Bitwarden client, every directory source) maps them
 * to its own {@link RosterError} with its own wording and hints.
 *
 * - {@link HttpNetworkError}: no HTTP answer (DNS, refused, reset, TLS, timeout).
 * - {@link HttpStatusError}: an answer whose status the caller did not accept (any non-2xx from
 *   {@link HttpClient.json}, redirects included), with the raw body kept.
 * - {@link HttpBodyError}: a 2xx answer whose body was cut short or is not the JSON expected.
 * - {@link HttpCaFileError}: the extra CA file cannot be used (a configuration error).
 * - {@link PagingError}: a paged read that cannot be followed to its end (see `./paging.ts`).
 * - {@link RetryExhaustedError}: retries ran out; `cause` is the last error (see `./retry.ts`).
 * @module
 */

/**
 * Where a request failed without an HTTP answer:
 * - `dns`: the host name is unknown (nothing sent);
 * - `connect`: the connection was refused or could not be made (nothing sent: always safe to
 *   resend);
 * - `tls`: the TLS handshake failed (certificate, protocol);
 * - `timeout`: no complete answer within the request's timeout (the request may have run);
 * - `reset`: the connection broke after the request was sent (the request may have run);
 * - `aborted`: the caller's `AbortSignal` fired.
 */
export type NetworkPhase = "dns" | "connect" | "tls" | "timeout" | "reset" | "aborted";

/** Common fields of the request an error is about. */
export interface HttpErrorRequest {
  /** `GET`, `POST`, … */
  method: string;
  /** The absolute URL requested. */
  url: string;
}

/** Base class of the HTTP layer's errors. */
export class HttpError extends Error {
  /** The request method. */
  readonly method: string;
  /** The absolute URL requested. */
  readonly url: string;
  constructor(message: string, request: HttpErrorRequest, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.method = request.method;
    this.url = request.url;
  }

  /** `GET /v1.0/users` (method and path, no query): how messages name the endpoint. */
  get endpoint(): string {
    return `${this.method} ${endpointPath(this.url)}`;
  }
}

/** The path of `url` without query or fragment (`/v1.0/users`), or `url` itself if unparsable. */
export function endpointPath(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return url;
  }
}

/** A request that got no HTTP answer. */
export class HttpNetworkError extends HttpError {
  /** Where it failed; see {@link NetworkPhase}. */
  readonly phase: NetworkPhase;
  /** The underlying error's innermost message, e.g. `Connection refused (os error 111)`. */
  readonly detail: string;
  constructor(
    request: HttpErrorRequest,
    phase: NetworkPhase,
    detail: string,
    options: { cause?: unknown } = {},
  ) {
    super(`${request.method} ${request.url} failed (${phase}): ${detail}`, request, options);
    this.phase = phase;
    this.detail = detail;
  }
}

/** An HTTP answer with a status the caller did not accept (non-2xx, redirects included). */
export class HttpStatusError extends HttpError {
  /** The HTTP status, e.g. 429. */
  readonly status: number;
  /** The response headers. */
  readonly headers: Headers;
  /** The raw response body as text (may be empty). */
  readonly bodyText: string;
  /** The body parsed as JSON, or undefined when it is empty or not JSON. */
  readonly body: unknown;
  constructor(
    request: HttpErrorRequest,
    response: { status: number; headers: Headers; bodyText: string },
  ) {
    super(`${request.method} ${request.url} answered ${response.status}`, request);
    this.status = response.status;
    this.headers = response.headers;
    this.bodyText = response.bodyText;
    this.body = tryParseJson(response.bodyText);
  }

  /** The `Location` of a redirect (3xx), resolved against the URL, or null. */
  get location(): string | null {
    const value = this.headers.get("location");
    if (value === null) return null;
    try {
      return new URL(value, this.url).href;
    } catch {
      return value;
    }
  }
}

/**
 * Why a body is unusable: `truncated` (the connection ended before the body did, or the
 * decompression failed), `invalid-json` (a 2xx body that is not JSON), or `unexpected-shape`
 * (JSON, but not the shape the caller needs; raised by callers and the paging helpers).
 */
export type BodyProblem = "truncated" | "invalid-json" | "unexpected-shape";

/** A 2xx answer whose body cannot be used. */
export class HttpBodyError extends HttpError {
  /** What is wrong with the body. */
  readonly problem: BodyProblem;
  /** The HTTP status of the answer. */
  readonly status: number;
  /** Up to 200 characters of the body received, for messages. */
  readonly excerpt: string;
  constructor(
    request: HttpErrorRequest,
    problem: BodyProblem,
    detail: { status: number; excerpt: string; message: string; cause?: unknown },
  ) {
    super(
      `${request.method} ${request.url}: ${detail.message}`,
      request,
      detail.cause === undefined ? {} : { cause: detail.cause },
    );
    this.problem = problem;
    this.status = detail.status;
    this.excerpt = detail.excerpt.slice(0, 200);
  }
}

/** The extra CA file cannot be read or holds no PEM certificate. */
export class HttpCaFileError extends Error {
  /** The path as given. */
  readonly path: string;
  /** `unreadable` (missing, no permission) or `invalid` (no PEM certificate in it). */
  readonly problem: "unreadable" | "invalid";
  /** The detail, e.g. `No such file or directory (os error 2)`. */
  readonly detail: string;
  constructor(
    path: string,
    problem: "unreadable" | "invalid",
    detail: string,
    options: { cause?: unknown } = {},
  ) {
    super(
      problem === "unreadable"
        ? `Cannot read the CA file "${path}": ${detail}`
        : `Invalid CA file "${path}": ${detail}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = "HttpCaFileError";
    this.path = path;
    this.problem = problem;
    this.detail = detail;
  }
}

function tryParseJson(text: string): unknown {
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Returns the message of any thrown value. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === "string") return error;
  return String(error);
}
