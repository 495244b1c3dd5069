import assert from "node:assert/strict";
import { describeServerError, parseErrorBody } from "../../src/bitwarden/errors.ts";
import { parseRetryAfter } from "../../src/http/throttle.ts";

Deno.test("parseErrorBody() reads the public error, with errors", () => {
  const parsed = parseErrorBody(
    400,
    '{"object":"error","message":"The request\'s model state is invalid.","errors":{"Members[1].Email":["The Email field is not a valid e-mail address."]}}',
  );
  assert.equal(parsed.message, "The request's model state is invalid.");
  assert.deepEqual(parsed.fieldErrors, [{
    key: "Members[1].Email",
    messages: ["The Email field is not a valid e-mail address."],
  }]);
});

Deno.test("parseErrorBody() reads keys case-insensitively and merges validationErrors", () => {
  const parsed = parseErrorBody(
    400,
    '{"Message":"Bad","ValidationErrors":{"X":["one"]},"Errors":{"X":["one","two"]}}',
  );
  assert.equal(parsed.message, "Bad");
  assert.deepEqual(parsed.fieldErrors, [{ key: "X", messages: ["one", "two"] }]);
});

Deno.test("parseErrorBody() reads Vaultwarden's shapes and OAuth errors", () => {
  const vw = parseErrorBody(
    400,
    '{"message":"","validationErrors":{"":["Invalid client_id"]},"errorModel":{"message":"Invalid client_id","object":"error"},"error":"","error_description":"","object":"error"}',
  );
  assert.equal(vw.message, "Invalid client_id");
  assert.equal(vw.oauthError, null);
  const catcher = parseErrorBody(
    404,
    '{"error":{"code":404,"reason":"Not Found","description":"The requested resource could not be found."}}',
  );
  assert.equal(catcher.message, "The requested resource could not be found.");
  const oauth = parseErrorBody(400, '{"error":"invalid_client","error_description":"x y"}');
  assert.deepEqual([oauth.oauthError, oauth.oauthDescription], ["invalid_client", "x y"]);
  assert.equal(describeServerError(oauth), "400 Bad Request: invalid_client: x y");
});

Deno.test("describeServerError() shows empty bodies and HTML pages on one line", () => {
  assert.equal(describeServerError(parseErrorBody(401, "")), "401 Unauthorized with an empty body");
  assert.equal(
    describeServerError(
      parseErrorBody(
        502,
        "<html>\r\n<head><title>502 Bad Gateway</title></head><body>x</body></html>",
      ),
    ),
    "502 Bad Gateway: HTML page 502 Bad Gateway",
  );
  assert.equal(
    describeServerError(
      parseErrorBody(503, "<html><body><h1>Down   for\nmaintenance</h1></body></html>"),
    ),
    "503 Service Unavailable: HTML page Down for maintenance",
  );
  assert.equal(describeServerError(parseErrorBody(500, "oops")), "500 Internal Server Error: oops");
});

Deno.test("parseRetryAfter() reads seconds and HTTP dates", () => {
  const now = Date.UTC(2026, 0, 1);
  assert.equal(parseRetryAfter("5", now), 5000);
  assert.equal(parseRetryAfter(new Date(now + 90_000).toUTCString(), now), 90_000);
  assert.equal(parseRetryAfter(new Date(now - 90_000).toUTCString(), now), 0);
  assert.equal(parseRetryAfter("soon", now), null);
  assert.equal(parseRetryAfter(null, now), null);
});
