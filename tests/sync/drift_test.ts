import assert from "node:assert/strict";
import type { ImportRequest, OrgMember } from "../../src/engine/mod.ts";
import { describeDrift, detectDrift } from "../../src/sync/drift.ts";

const request = (members: ImportRequest["members"]): ImportRequest => ({
  groups: [],
  members,
  overwriteExisting: false,
  largeImport: false,
  inviteUsersAfterProvisioning: true,
});

const member = (
  id: string,
  email: string,
  externalId: string | null,
  type: 0 | 2 = 2,
): OrgMember => ({
  id,
  email,
  externalId,
  status: 2,
  type,
});

const REQUESTS = [request([
  { email: "a@example.com", externalId: "a", deleted: false },
  { email: "b@example.com", externalId: "b", deleted: false },
  { email: "gone@example.com", externalId: "gone", deleted: true },
])];

Deno.test("detectDrift() finds nothing when the organization matches the requests", () => {
  const drift = detectDrift(REQUESTS, [
    member("1", "a@example.com", "a"),
    member("2", "b@example.com", "b"),
    member("3", "owner@example.com", null, 0),
  ]);
  assert.deepEqual(drift, { drifted: false, missing: [], present: [], unlinked: [] });
});

Deno.test("detectDrift() reports missing, still-present and unlinked members", () => {
  const drift = detectDrift(REQUESTS, [
    member("2", "b@example.com", null),
    member("4", "gone@example.com", "gone"),
  ]);
  assert.deepEqual(drift, {
    drifted: true,
    missing: [{ id: null, email: "a@example.com", externalId: "a" }],
    present: [{ id: "4", email: "gone@example.com", externalId: "gone" }],
    unlinked: [{ id: "2", email: "b@example.com", externalId: "b" }],
  });
  assert.equal(
    describeDrift(drift),
    "1 missing (a@example.com), 1 still present though removed (gone@example.com), 1 unlinked (b@example.com)",
  );
});

Deno.test("detectDrift() ignores members the server skips and owners it never removes", () => {
  const drift = detectDrift(REQUESTS, [
    member("1", "a@example.com", "other-id"),
    member("2", "b@example.com", "b"),
    member("4", "gone@example.com", "gone", 0),
  ]);
  assert.equal(drift.drifted, false);
});

Deno.test("describeDrift() shortens long lists", () => {
  const missing = ["a", "b", "c"].map((x) => ({ id: null, email: `${x}@x`, externalId: x }));
  assert.equal(
    describeDrift({ drifted: true, missing, present: [], unlinked: [] }, { limit: 2 }),
    "3 missing (a@x, b@x, and 1 more)",
  );
});
