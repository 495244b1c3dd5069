/**
 * One-line descriptions of HTTP failures for messages, and the code and message inside the
 * error bodies of the directory APIs, so each provider words its errors without re-parsing:
 *
 * - Microsoft Graph and Google: `{"error":{"code","message","errors":[{"reason"}],"status"}}`;
 * - Okta: `{"errorCode":"E0000047","errorSummary":"…","errorCauses":[{"errorSummary"}]}`;
 * - OneLogin v1 and token: `{"status":{"error":true,"code":401,"type":"Unauthorized","message"}}`;
 * - OneLogin v2: `{"statusCode":401,"name":"Unauthorized","message":"…"}`;
 * - OAuth token endpoints: `{"error":"invalid_client","error_description":"…"}`;
 * - anything else with a top-level `message`.
 * @module
 */

import { isRecord } from "../guards.ts";
import { HttpBodyError, HttpNetworkError, HttpStatusError } from "./errors.ts";
import { formatDuration, RetryExhaustedError } from "./retry.ts";

/** Standard reason phrases for the statuses a client meets. */
const REASONS: Record<number, string> = {
  300: "Multiple Choices",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  402: "Payment Required",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  413: "Payload Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Entity",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  520: "Unknown Error",
  521: "Web Server Is Down",
  522: "Connection Timed Out",
  523: "Origin Is Unreachable",
  524: "A Timeout Occurred",
};

/** `404 Not Found`, or just `499` for a status without a known reason. */
export function statusText(status: number): string {
  const reason = REASONS[status];
  return reason === undefined ? String(status) : `${status} ${reason}`;
}

function field(value: unknown, key: string): unknown {
  return isRecord(value) ? value[key] : undefined;
}

function text(value: unknown): string | null {
  if (typeof value === "number") return String(value);
  return typeof value === "string" && value.trim() !== "" ? value.trim() : null;
}

/** The code and message an API put in an error body. */
export interface ApiErrorInfo {
  /**
   * The most specific code: Graph's `error.code` (`Authorization_RequestDenied`), Google's
   * first `errors[].reason` (`userRateLimitExceeded`), Okta's `errorCode` (`E0000006`), OAuth's
   * `error` (`invalid_client`), OneLogin's `status.type` or `name`; null when none.
   */
  code: string | null;
  /** The human message (Okta's `errorSummary`, OAuth's `error_description`, …), or null. */
  message: string | null;
}

/**
 * Reads the code and message of an error body of any of the shapes in the module
 * documentation. Returns nulls for a body of another shape (or not JSON: pass `undefined`).
 */
export function apiErrorInfo(body: unknown): ApiErrorInfo {
  const error = field(body, "error");
  if (typeof error === "object" && error !== null) {
    const errors = field(error, "errors");
    const reason = Array.isArray(errors) ? text(field(errors[0], "reason")) : null;
    return {
      code: reason ?? text(field(error, "code")) ?? text(field(error, "status")),
      message: text(field(error, "message")),
    };
  }
  if (typeof error === "string") {
    return { code: text(error), message: text(field(body, "error_description")) };
  }
  const oktaCode = text(field(body, "errorCode"));
  if (oktaCode !== null || text(field(body, "errorSummary")) !== null) {
    const causes = field(body, "errorCauses");
    const cause = Array.isArray(causes) ? text(field(causes[0], "errorSummary")) : null;
    const summary = text(field(body, "errorSummary"));
    return {
      code: oktaCode,
      message: cause === null || summary === null ? summary : `${summary}: ${cause}`,
    };
  }
  const status = field(body, "status");
  if (typeof status === "object" && status !== null) {
    return { code: text(field(status, "type")), message: text(field(status, "message")) };
  }
  return { code: text(field(body, "name")), message: text(field(body, "message")) };
}

function excerpt(bodyText: string): string | null {
  const line = bodyText.replace(/<[^>]+>/g, " ").replace(/\s+/g, " ").trim();
  if (line === "") return null;
  return line.length > 160 ? `${line.slice(0, 159)}…` : line;
}

/**
 * A one-line description of any error of the HTTP layer, naming the endpoint (method and path,
 * no query, so no token or cursor leaks into messages):
 * - `GET /v1.0/groups answered 403 Forbidden: Authorization_RequestDenied: Insufficient privileges`
 * - `GET /api/v1/users failed (timeout): no answer in time`
 * - `GET /admin/directory/v1/users: the body of the 200 answer was cut short: …`
 * - for {@link RetryExhaustedError}: the last error, then `(6 attempts in 41.5 s)`.
 */
export function describeHttpError(error: unknown): string {
  if (error instanceof RetryExhaustedError) {
    return `${describeHttpError(error.lastError)} (${error.attempts} ${
      error.attempts === 1 ? "attempt" : "attempts"
    } in ${formatDuration(error.elapsedMs)})`;
  }
  if (error instanceof HttpStatusError) {
    const info = apiErrorInfo(error.body);
    const detail = info.code !== null && info.message !== null
      ? `${info.code}: ${info.message}`
      : info.code ?? info.message ?? (error.body === undefined ? excerpt(error.bodyText) : null);
    const location = error.status >= 300 && error.status < 400 ? error.location : null;
    const head = `${error.endpoint} answered ${statusText(error.status)}`;
    if (location !== null) return `${head} to ${location}`;
    return detail === null ? head : `${head}: ${detail.replace(/\.$/, "")}`;
  }
  if (error instanceof HttpNetworkError) {
    return `${error.endpoint} failed (${error.phase}): ${error.detail}`;
  }
  if (error instanceof HttpBodyError) {
    return `${error.endpoint}: ${error.message.slice(error.message.indexOf(": ") + 2)}`;
  }
  return error instanceof Error ? error.message : String(error);
}
