import assert from "node:assert/strict";
import { apiErrorInfo, describeHttpError, statusText } from "../../src/http/describe.ts";
import { HttpBodyError, HttpNetworkError, HttpStatusError } from "../../src/http/errors.ts";
import { RetryExhaustedError } from "../../src/http/retry.ts";

const where = { method: "GET", url: "https://graph.test/v1.0/groups?$skiptoken=SECRET" };

function status(code: number, body: unknown, headers: Record<string, string> = {}) {
  return new HttpStatusError(where, {
    status: code,
    headers: new Headers(headers),
    bodyText: typeof body === "string" ? body : JSON.stringify(body),
  });
}

Deno.test("apiErrorInfo() reads Graph, Google, Okta, OneLogin and OAuth error bodies", () => {
  assert.deepEqual(
    apiErrorInfo({
      error: { code: "Authorization_RequestDenied", message: "Insufficient privileges." },
    }),
    { code: "Authorization_RequestDenied", message: "Insufficient privileges." },
  );
  assert.deepEqual(
    apiErrorInfo({
      error: {
        code: 403,
        message: "Quota exceeded",
        errors: [{ domain: "usageLimits", reason: "userRateLimitExceeded" }],
      },
    }),
    { code: "userRateLimitExceeded", message: "Quota exceeded" },
  );
  assert.deepEqual(
    apiErrorInfo({
      errorCode: "E0000001",
      errorSummary: "Api validation failed: login",
      errorCauses: [{ errorSummary: "login: An object with this field already exists" }],
    }),
    {
      code: "E0000001",
      message: "Api validation failed: login: login: An object with this field already exists",
    },
  );
  assert.deepEqual(
    apiErrorInfo({
      status: { error: true, code: 401, type: "Unauthorized", message: "Authentication Failure" },
    }),
    { code: "Unauthorized", message: "Authentication Failure" },
  );
  assert.deepEqual(
    apiErrorInfo({ statusCode: 401, name: "Unauthorized", message: "Authentication Failure" }),
    { code: "Unauthorized", message: "Authentication Failure" },
  );
  assert.deepEqual(
    apiErrorInfo({ error: "invalid_client", error_description: "AADSTS7000215: Invalid secret" }),
    { code: "invalid_client", message: "AADSTS7000215: Invalid secret" },
  );
  assert.deepEqual(apiErrorInfo(undefined), { code: null, message: null });
  assert.deepEqual(apiErrorInfo([1, 2]), { code: null, message: null });
});

Deno.test("describeHttpError() names the endpoint without its query, and the API's code", () => {
  assert.equal(
    describeHttpError(
      status(403, {
        error: { code: "Authorization_RequestDenied", message: "Insufficient privileges." },
      }),
    ),
    "GET /v1.0/groups answered 403 Forbidden: Authorization_RequestDenied: Insufficient privileges",
  );
  assert.equal(
    describeHttpError(status(502, "<html><body><h1>502 Bad Gateway</h1></body></html>")),
    "GET /v1.0/groups answered 502 Bad Gateway: 502 Bad Gateway",
  );
  assert.equal(
    describeHttpError(status(503, "")),
    "GET /v1.0/groups answered 503 Service Unavailable",
  );
  assert.equal(
    describeHttpError(status(301, "", { location: "https://graph.test/v2/groups" })),
    "GET /v1.0/groups answered 301 Moved Permanently to https://graph.test/v2/groups",
  );
  assert.equal(
    describeHttpError(new HttpNetworkError(where, "timeout", "no answer in time")),
    "GET /v1.0/groups failed (timeout): no answer in time",
  );
  assert.equal(
    describeHttpError(
      new HttpBodyError(where, "truncated", {
        status: 200,
        excerpt: "",
        message: "the body of the 200 answer was cut short: connection closed",
      }),
    ),
    "GET /v1.0/groups: the body of the 200 answer was cut short: connection closed",
  );
  assert.equal(
    describeHttpError(
      new RetryExhaustedError(status(429, { error: { code: "TooManyRequests" } }), {
        attempts: 6,
        elapsedMs: 41_500,
        reason: "attempts",
      }),
    ),
    "GET /v1.0/groups answered 429 Too Many Requests: TooManyRequests (6 attempts in 41.5 s)",
  );
});

Deno.test("statusText() gives the reason phrase when known", () => {
  assert.equal(statusText(429), "429 Too Many Requests");
  assert.equal(statusText(499), "499");
});
