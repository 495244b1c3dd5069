import assert from "node:assert/strict";
import { ConfigError, DirectoryError, SourceIncompleteError } from "../../../src/errors.ts";
import { HttpStatusError } from "../../../src/http/mod.ts";
import { apiFailure, type FailureContext } from "../../../src/providers/google/errors.ts";

const URL = "https://admin.googleapis.com/admin/directory/v1/groups/g1/members?maxResults=200";

function googleError(status: number, reason: string, message: string): HttpStatusError {
  return new HttpStatusError({ method: "GET", url: URL }, {
    status,
    headers: new Headers(),
    bodyText: JSON.stringify({
      error: { code: status, message, errors: [{ message, domain: "global", reason }] },
    }),
  });
}

const CONTEXT: FailureContext = {
  identity: { clientEmail: "sa@p.iam.gserviceaccount.com", clientId: "42", subject: "a@x.com" },
  listing: "members of group g1@x.com",
  scope: "https://www.googleapis.com/auth/admin.directory.group.member.readonly",
  started: true,
  laterPage: false,
};

Deno.test("apiFailure() names the missing scope and the delegation to fix, even mid-read", () => {
  const error = apiFailure(
    googleError(403, "insufficientPermissions", "Insufficient Permission"),
    CONTEXT,
  );
  assert.ok(error instanceof DirectoryError);
  assert.equal(error.code, "google_scope");
  assert.equal(
    error.message,
    "Google refused to list members of group g1@x.com: the token lacks the scope https://www.googleapis.com/auth/admin.directory.group.member.readonly: GET /admin/directory/v1/groups/g1/members answered 403 Forbidden: insufficientPermissions: Insufficient Permission",
  );
  assert.match(error.hint ?? "", /add or edit client ID 42 \(service account sa@p/);
});

Deno.test("apiFailure() makes a failure after the first page a SourceIncompleteError", () => {
  const error = apiFailure(googleError(400, "invalid", "Invalid Input"), {
    ...CONTEXT,
    laterPage: true,
    query: { setting: "sync.groupFilter", text: "email:a*" },
  });
  assert.ok(error instanceof SourceIncompleteError);
  assert.equal(
    error.message,
    "Google directory read incomplete: listing members of group g1@x.com failed: GET /admin/directory/v1/groups/g1/members answered 400 Bad Request: invalid: Invalid Input",
  );
});

Deno.test("apiFailure() blames the query for a 400 on a listing's first page", () => {
  const error = apiFailure(googleError(400, "invalid", "Invalid Input"), {
    ...CONTEXT,
    listing: "groups",
    query: { setting: "sync.groupFilter", text: "email:a*" },
  });
  assert.ok(error instanceof ConfigError);
  assert.equal(
    error.message,
    'Google refused the query of sync.groupFilter "email:a*": GET /admin/directory/v1/groups/g1/members answered 400 Bad Request: invalid: Invalid Input',
  );
});
